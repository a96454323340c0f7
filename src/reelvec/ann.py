"""Approximate nearest neighbours for large catalogues: an inverted-file index (faiss
``IVF<n>,SQ8``: k-means cells over int8 scalar-quantized unit rows, inner product), always
rescored exactly on the float32 rows.

Below `ANN_MIN_ROWS` rows nothing here is used: an exact scan is fast enough (under 5 ms) and
is what the congruence suite checks. Above it, a published copy carries one index file per
searched vector (`reelvec.index.publish`), memory-mapped by every reader (faiss
``IO_FLAG_MMAP_IFC``: the codes stay in the page cache, shared by processes), and the build
finds each film's nearest (hubness) through the same kind of index instead of all pairs.

Why cells and not a graph (bench/RESULTS.md, 1M synthetic movies, 2-core AMD EPYC): on a
catalogue full of near-duplicates (90 noisy copies of each real film) faiss HNSW (32 links,
int8) found recall@10 0.78 at its defaults and 0.885 at a 256 beam with 200 candidates
rescored; 4,096 cells probed 16 at a time found 1.000 at p99 1.0 ms, and built in 99 s. With
random filters (100k rows) 16 probes fell to 0.970-0.978 for some shares; 32 keep >= 0.994.
"""
from __future__ import annotations

import logging
import math
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from reelvec.errors import StoreError

logger = logging.getLogger(__name__)

KIND = "ivf-sq8"  # what a published copy's meta records of its indexes (another kind is not read)
ANN_MIN_ROWS = 50_000  # below: exact scans (what the demo's 11k films and the congruence suite use)
EXACT_ROWS = 2_000  # a filter passing at most this many rows is scanned exactly (measured crossover: bench/RESULTS.md)
OVERSAMPLE = 4  # candidates asked of the index per hit wanted (up to 25 hits; 2 per hit above), rescored exactly
LONG_FROM = 25  # hits above which a query asks 2 candidates a hit
LONG_LIST = 100  # hits above which the cells read grow in proportion (2x just above, 4x for 200)
NPROBE = 32  # cells read for an unfiltered query; more as a filter gets selective or more hits are wanted
TRAIN_PER_CELL = 50  # rows the k-means and the int8 ranges are learned from, per cell
ADD_CHUNK = 65_536  # rows added at a time (a memory-mapped matrix is read in chunks, not whole)


CODED_MAX = 8_192  # a set of EXACT_ROWS to this many rows is ranked on its codes; more: in the index's cells
# (bench/RESULTS.md: a 3,000-row posting took 3.9 ms through the cells, 1.6 ms from codes at 1M; 9,000 rows
# and more were faster through the cells at 100k)
CODE_CHUNK = 2_048  # codes scored at a time
MIN_INDEXED = 64 * 39  # fewer rows with a vector: no index (k-means wants 39 rows a cell; a scan is fast)


def cells(n: int) -> int:
    """Cells of an index over `n` rows: about 4 sqrt(n) (4,000 at a million), at least 64, and
    never more than k-means can learn from them (39 rows a cell)."""
    return max(1, min(max(64, int(4 * math.sqrt(max(n, 1)))), n // 39))


def _faiss():
    try:
        import faiss
    except ImportError as exc:  # a dependency of reelvec: a broken install
        raise StoreError("faiss is not installed (pip install faiss-cpu); large catalogues need it") from exc
    return faiss


def build(M: np.ndarray, rows: np.ndarray, threads: int | None = None):
    """An index over rows `rows` of the unit rows `M` (label i is ``rows[i]``), added in chunks."""
    faiss = _faiss()
    if threads:
        faiss.omp_set_num_threads(threads)
    nlist = cells(len(rows))
    index = faiss.index_factory(M.shape[1], f"IVF{nlist},SQ8", faiss.METRIC_INNER_PRODUCT)
    if len(rows):
        step = max(1, len(rows) // (TRAIN_PER_CELL * nlist))
        index.train(np.ascontiguousarray(M[rows[::step]], np.float32))
    extend(index, M, rows)
    return index


def extend(index, M: np.ndarray, rows: np.ndarray) -> None:
    """Add rows `rows` of `M` to `index` (their labels follow the ones it holds)."""
    for s in range(0, len(rows), ADD_CHUNK):
        index.add(np.ascontiguousarray(M[rows[s:s + ADD_CHUNK]], np.float32))


def save(index, path: Path) -> None:
    """Write `index` to `path` (the publisher writes it through `fsutil.atomic_path`, fsynced)."""
    _faiss().write_index(index, str(path))


def load(path: Path, mmap: bool = True):
    """An index `save` wrote; memory-mapped (shared by processes) unless `mmap` is False (to extend it)."""
    faiss = _faiss()
    if mmap:  # a reader searches one query at a time: no OpenMP team (and none to break in a forked worker)
        faiss.omp_set_num_threads(1)
    try:
        return faiss.read_index(str(path), faiss.IO_FLAG_MMAP_IFC if mmap else 0)
    except RuntimeError as exc:
        raise StoreError(f"{path} is not a readable index ({str(exc).splitlines()[0][:200]}); run `reelvec build` "
                         "to publish the collection again") from exc


def code_range(M: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """(2, d) float32: each dimension's least value over rows `rows` of `M` and its span (at
    least 1e-9): the scale of `codes_of`, learned on the rows themselves (the index's own
    quantizer learned the ranges of residuals to cell centres, not of rows)."""
    lo = np.full(M.shape[1], np.inf, np.float32)
    hi = np.full(M.shape[1], -np.inf, np.float32)
    for s in range(0, len(rows), ADD_CHUNK):
        block = np.asarray(M[rows[s:s + ADD_CHUNK]], np.float32)
        lo, hi = np.minimum(lo, block.min(axis=0)), np.maximum(hi, block.max(axis=0))
    if not len(rows):
        lo, hi = np.zeros(M.shape[1], np.float32), np.ones(M.shape[1], np.float32)
    return np.stack([lo, np.maximum(hi - lo, 1e-9)]).astype(np.float32)


def codes_of(scale: np.ndarray, M: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """The uint8 codes of rows `rows` of `M` (one byte a dimension: round((x - least) / span *
    255), clipped, with `scale` = `code_range`'s): what `Indexed.nearest` ranks a posting's rows
    with, in the rows' order."""
    lo, span = np.asarray(scale[0], np.float32), np.asarray(scale[1], np.float32)
    out = np.empty((len(rows), M.shape[1]), np.uint8)
    for s in range(0, len(rows), ADD_CHUNK):
        x = (np.asarray(M[rows[s:s + ADD_CHUNK]], np.float32) - lo) * (255.0 / span)
        out[s:s + ADD_CHUNK] = np.clip(np.rint(x), 0, 255)
    return out


@dataclass(frozen=True)
class Indexed:
    """One vector's index in a published copy: the faiss index (`graph`), the row of each of its
    labels (ascending), how many rows it covers (rows after them are scanned exactly) and, when
    the copy keeps them, each label's uint8 codes and their scale (`codes_of`)."""

    graph: Any
    labels: np.ndarray
    covered: int
    codes: np.ndarray | None = None
    scale: np.ndarray | None = None

    def positions(self, rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(those of ascending `rows`, all with the vector, that the index covers; their labels)."""
        inside = rows[rows < self.covered]
        return inside, (inside if len(self.labels) == self.covered else np.searchsorted(self.labels, inside))

    def nearest(self, q: np.ndarray, rows: np.ndarray, want: int) -> np.ndarray:
        """About the best `want` of ascending `rows` (all with the vector and covered, as
        `positions` gives them) for unit query `q`, ascending, scored on their codes: the
        caller rescores them exactly. A code decodes to least + code span / 255, so q.x ranks as
        code . (q span) (the rest is the same for every row); scored CODE_CHUNK rows at a time
        (no float copy of a whole long posting)."""
        if self.codes is None or self.scale is None or len(rows) <= want:
            return rows
        _, at = self.positions(rows)
        w = np.asarray(q, np.float32) * self.scale[1]
        s = np.empty(len(at), np.float32)
        for i in range(0, len(at), CODE_CHUNK):
            s[i:i + CODE_CHUNK] = self.codes[at[i:i + CODE_CHUNK]].astype(np.float32) @ w
        return np.sort(rows[np.argpartition(-s, want - 1)[:want]])


def candidates(k: int) -> int:
    """How many candidates to ask of an index for the best `k` (then rescored on float32 rows)."""
    return OVERSAMPLE * k if k <= LONG_FROM else 2 * k


def pack(allowed: np.ndarray) -> np.ndarray:
    """A boolean array over an index's labels as the bitmap `search` reads (little-endian bits)."""
    return np.packbits(allowed.astype(bool, copy=False), bitorder="little")


def search(index, q: np.ndarray, k: int, bits: np.ndarray | None = None, passing: int | None = None,
           labels: np.ndarray | None = None) -> np.ndarray:
    """The labels of about the `k` best rows for each query row of `q` (-1 where fewer exist).
    `bits`: which labels may be returned (`pack` of a boolean array over them), or `labels`:
    the few that may (a series', a person's films); `passing`: how many may, to read more cells
    for a selective filter (its nearest rows lie further out) and for many hits (the cells read
    must hold twice `k` allowed rows)."""
    faiss = _faiss()
    q = np.ascontiguousarray(np.atleast_2d(q), np.float32)
    n = max(int(index.ntotal), 1)
    share = 1.0 if passing is None else max(passing, 1) / n
    need = 2 * k * index.nlist / (n * share)  # cells holding about 2k allowed rows
    # 1/share**0.25: 0.966 (RESULTS). A list longer than LONG_LIST (search_text's pool of 200)
    # reads cells in proportion to its hits: with 32 cells that pool's recall@200 was 0.73 at 100k
    # movies, 0.91 with 128; `similar`'s pool of 100 needs none (its top 10 = exact's at 32 cells,
    # and 4x the cells made it 2x slower at 1M)
    hits = k / OVERSAMPLE if k <= OVERSAMPLE * LONG_FROM else k / 2  # what `candidates` asked k for
    many = hits / (LONG_LIST / 2) if hits > LONG_LIST else 1.0
    nprobe = int(min(index.nlist, max(NPROBE * many / math.sqrt(share), need, 1)))
    params = faiss.SearchParametersIVF(nprobe=nprobe)
    if bits is not None or labels is not None:
        if bits is not None:
            held = np.ascontiguousarray(bits, np.uint8)
            sel = faiss.IDSelectorBitmap(len(held), faiss.swig_ptr(held))  # its length in bytes
        else:
            held = np.ascontiguousarray(labels, np.int64)
            sel = faiss.IDSelectorBatch(len(held), faiss.swig_ptr(held))
        params.sel = sel
        _, labels = index.search(q, k, params=params)
        del sel, held  # the selector reads them during the search only
    else:
        _, labels = index.search(q, k, params=params)
    return labels


def nearest_all(M: np.ndarray, k: int, batch: int = 2048) -> tuple[np.ndarray, np.ndarray]:
    """The `k` nearest other rows of every row of unit rows `M` (rows, exact cosines; best first),
    through a temporary index and exact rescoring of `OVERSAMPLE` x k candidates: what a
    catalogue too large for all pairs uses (hubness)."""
    index = build(M, np.arange(len(M)))
    want = min(len(M), OVERSAMPLE * k + 1)
    out_r = np.full((len(M), k), -1, np.int64)
    out_s = np.full((len(M), k), -np.inf, np.float32)
    for s in range(0, len(M), batch):
        q = np.ascontiguousarray(M[s:s + batch], np.float32)
        labels = search(index, q, want)
        own = labels == np.arange(s, s + len(q))[:, None]
        bad = (labels < 0) | own
        sc = np.einsum("bkd,bd->bk", M[np.maximum(labels, 0)], q)
        sc[bad] = -np.inf
        top = np.argsort(-sc, axis=1, kind="stable")[:, :k]
        out_r[s:s + len(q)] = np.where(np.isfinite(np.take_along_axis(sc, top, 1)),
                                       np.take_along_axis(labels, top, 1), -1)
        out_s[s:s + len(q)] = np.take_along_axis(sc, top, 1)
    return out_r, out_s
