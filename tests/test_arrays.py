"""reelvec.arrays: the numpy steps shared by rooms answer as the numpy calls they replace."""

import numpy as np
import pytest

from reelvec import arrays


@pytest.mark.parametrize("n", [0, 1, 2, 50, 5000])
def test_unique_and_its_inverse_equal_numpys(n):
    x = np.random.default_rng(n).integers(0, 30 if n < 100 else 10**6, n)
    assert np.array_equal(arrays.unique(x), np.unique(x))
    got, inv = arrays.unique_inverse(x)
    want, want_inv = np.unique(x, return_inverse=True)
    assert np.array_equal(got, want) and np.array_equal(inv, want_inv.ravel())
    assert np.array_equal(got[inv], x)
