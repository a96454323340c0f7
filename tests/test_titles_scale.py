"""Fuzzy titles at scale: the trigram candidate index (above 20,000 titles) resolves as the full
scan does, and finds typos among many near-duplicate titles."""
import random

import pytest

from reelvec.errors import UnknownMovieError
from reelvec.search import titles as T
from reelvec.search.titles import TitleEntry, TitleIndex, TrigramIndex

REAL = [("The Matrix", 1999), ("The Shawshank Redemption", 1994), ("Jurassic Park", 1993), ("Finding Nemo", 2003),
        ("The Godfather: Part II", 1974), ("The Godfather", 1972), ("Mad Max 2: The Road Warrior", 1981),
        ("Mad Max", 1979), ("Alien³", 1992), ("Toy Story 3", 2010), ("Pulp Fiction", 1994), ("Inception", 2010),
        ("Harry Potter and the Chamber of Secrets", 2002), ("Blade Runner 2049", 2017), ("Home Alone 2: Lost in New York", 1992)]
TYPOS = ["The Matrx", "Shawshank Redemtion", "Jurasic Park", "Finding Nemmo", "Godfather 2", "Mad Max 2", "Alien 3",
         "Toy Strory 3", "Pulp Fictoin", "Inceptoin", "Harry Poter Chamber of Secrets", "Blade Runer 2049",
         "Zzyzx Qwerty Plover"]


def catalogue(n: int) -> list[TitleEntry]:
    rng = random.Random(0)
    words = "storm night river blue city last dark return house secret love war king summer star road".split()
    out = [TitleEntry(f"r{i}", t, y, i, 1000) for i, (t, y) in enumerate(REAL)]
    while len(out) < n:  # filler titles: random word pairs, some near the real ones
        a, b = rng.sample(words, 2)
        out.append(TitleEntry(f"f{len(out)}", f"{a.title()} {b} {rng.randrange(1000)}", 1950 + len(out) % 70, None, 0))
    return out


def outcome(idx: TitleIndex, q: str):
    try:
        r = idx.resolve(q)
        return r.entry.title, r.how
    except UnknownMovieError:
        return "unknown"


def test_trigram_candidates_resolve_as_the_full_scan(monkeypatch):
    entries = catalogue(30_000)
    monkeypatch.setattr(T, "FULL_SCAN", 10**9)
    full = TitleIndex(entries)
    want = [outcome(full, q) for q in TYPOS]
    monkeypatch.setattr(T, "FULL_SCAN", 0)
    fast = TitleIndex(entries)
    fast.warm()
    assert fast._grams is not None
    assert [outcome(fast, q) for q in TYPOS] == want
    assert want[0] == ("The Matrix", "fuzzy") and want[-1] == "unknown"


def test_trigram_index_ranks_by_shared_trigrams():
    names = ["the matrix", "the matrix reloaded", "matrimony", "mad max", "toy story"]
    idx = TrigramIndex(names)
    top = list(idx.top("the matrx", 3))
    assert top[0] == 0 and set(top) <= {0, 1, 2}
    assert list(idx.top("qqqq", 3)) == [] and len(TrigramIndex([]).top("x", 3)) == 0


@pytest.mark.parametrize("folded", ["mad max 2", "godfather 2", "nothing 9"])
def test_continuing_titles_by_binary_search(folded):
    idx = TitleIndex(catalogue(2000))
    linear = sorted(e.point_id for f, es in idx.by_fold.items() if f.startswith(folded + " ") for e in es)
    assert sorted(e.point_id for e in idx._continuing(folded)) == linear
