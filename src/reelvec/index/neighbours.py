"""Each published row's nearest neighbours by the fused vector: computed for all rows at
publish time, merged in place after a live edit (pure numpy over unit rows; what a `similar`
starts from instead of scanning every movie, exact because each list keeps its floor)."""
from __future__ import annotations

import os
from pathlib import Path

import numpy as np

NEIGHBOURS = 100  # per row: what a blended `similar` reads first (BLEND_POOL)
KNN_PARTS = ("rows", "sims", "floor")


def neighbours(M: np.ndarray, live: np.ndarray, rows: np.ndarray, k: int,
                block: int = 512) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The `k` nearest `live` rows of each of `rows` by the unit rows of `M` (itself excluded),
    best first -> (neighbour rows int32, their cosines float32, each list's floor: the best cosine
    left out of it, -inf when none was). A row that is not live gets no list (floor +inf)."""
    idx = np.full((len(rows), k), -1, np.int32)
    sim = np.full((len(rows), k), -np.inf, np.float32)
    floor = np.full(len(rows), np.inf, np.float32)
    cols = np.flatnonzero(live)
    if not len(cols):
        return idx, sim, floor
    pool = M[cols]
    for s in range(0, len(rows), block):
        r = rows[s:s + block]
        S = M[r] @ pool.T
        at = np.minimum(np.searchsorted(cols, r), len(cols) - 1)
        mine = cols[at] == r
        S[np.flatnonzero(mine), at[mine]] = -np.inf  # not its own neighbour
        m = min(k + 1, S.shape[1])
        part = (np.argpartition(-S, m - 1, axis=1)[:, :m] if m < S.shape[1]
                else np.broadcast_to(np.arange(m), (len(r), m)))
        ps = np.take_along_axis(S, part, axis=1)
        order = np.lexsort((cols[part], -ps), axis=1)  # best first; ties by row, as a scan orders them
        part, ps = np.take_along_axis(part, order, axis=1), np.take_along_axis(ps, order, axis=1)
        n = min(k, m)
        ok = live[r][:, None] & np.isfinite(ps[:, :n])
        idx[s:s + len(r), :n] = np.where(ok, cols[part[:, :n]], -1)
        sim[s:s + len(r), :n] = np.where(ok, ps[:, :n], -np.inf)
        left = ps[:, k] if m > k else np.full(len(r), -np.inf, np.float32)
        floor[s:s + len(r)] = np.where(live[r], left, np.inf)
    return idx, sim, floor


def all_neighbours(M: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lists of every row (`neighbours` of all rows, `NEIGHBOURS` long)."""
    return neighbours(M, live, np.arange(len(live)), NEIGHBOURS)


def merge_neighbours(M: np.ndarray, live: np.ndarray, idx: np.ndarray, sim: np.ndarray, floor: np.ndarray,
                      new: np.ndarray) -> None:
    """Bring the lists of the old live rows up to date, in place, after rows `new` were added
    (and others marked dead): dead entries leave; a new row joins a list when it beats that
    list's floor; a list over its length drops its worst entries and raises its floor to them.
    What stays is always exactly a list's best live rows."""
    k = idx.shape[1]
    gone = (idx >= 0) & ~live[np.maximum(idx, 0)]
    idx[gone], sim[gone] = -1, -np.inf
    old = np.flatnonzero(live[:len(idx)])
    add = new[live[new]]
    if not len(old) or not len(add):
        return
    S = M[old] @ M[add].T
    join = S > floor[old, None]
    touched = np.flatnonzero(join.any(axis=1))
    for t in touched:
        i = old[t]
        cand_i = np.concatenate([idx[i], add[join[t]].astype(np.int32)])
        cand_s = np.concatenate([sim[i], S[t, join[t]]])
        order = np.lexsort((np.where(cand_i < 0, np.iinfo(np.int32).max, cand_i), -cand_s))
        cand_i, cand_s = cand_i[order], cand_s[order]
        if len(cand_i) > k and np.isfinite(cand_s[k]):
            floor[i] = max(float(floor[i]), float(cand_s[k]))
        idx[i], sim[i] = cand_i[:k], cand_s[:k]


def save_neighbours(folder: Path, gen: int, lists: tuple[np.ndarray, ...]) -> None:
    for part, a in zip(KNN_PARTS, lists):
        tmp = folder / f".knn-{part}-{gen}.tmp.npy"
        np.save(tmp, a)
        os.replace(tmp, folder / f"knn-{part}-{gen}.npy")


