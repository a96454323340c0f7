"""What a site needs from a list of hits: pages, one hit per series, more diverse answers (pure
logic over hits the engine ranked; the engine fetches, this room only orders and cuts).

Pages agree with a longer k: the page at `offset` is the slice [offset, offset + k) of the same
ranking. `group_by="series"` keeps the best hit of each series (a film without one is its own
group), like Qdrant's groups API with group size 1. `diversity` reorders by maximal marginal
relevance (Qdrant's `Mmr` uses the same knob): 0 = relevance only, 1 = as unlike the hits
already chosen as possible. Both reorder a fixed pool of `LIST_POOL` hits, so every page of the
same request cuts one ordering.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TypeVar

import numpy as np

from reelvec.errors import SearchError

LIST_POOL = 100  # hits that grouping reorders (a blended `similar` is the same for k <= 100)
DIVERSE_POOL = 30  # the best hits `diversity` reorders: only good candidates are mixed in, never the tail
GROUPS = ("series",)
MAX_OFFSET = 1000  # a page starts at most this far down (the work is offset + k hits)
T = TypeVar("T")


@dataclass(frozen=True)
class ListOptions:
    offset: int = 0
    group_by: str | None = None
    diversity: float = 0.0

    def __post_init__(self) -> None:
        if isinstance(self.offset, bool) or not isinstance(self.offset, int) or not 0 <= self.offset <= MAX_OFFSET:
            raise SearchError(f"offset must be an integer from 0 to {MAX_OFFSET}, got {repr(self.offset)[:40]}")
        if self.group_by is not None and self.group_by not in GROUPS:
            raise SearchError(f"group_by must be one of {', '.join(GROUPS)}, got {self.group_by!r}")
        if isinstance(self.diversity, bool) or not isinstance(self.diversity, (int, float)) \
                or not 0.0 <= self.diversity <= 1.0:
            raise SearchError(f"diversity must be a number from 0 (relevance only) to 1, got {self.diversity!r}")

    @property
    def reorders(self) -> bool:
        return self.group_by is not None or self.diversity > 0


def one_per_group(hits: Sequence[T], group: Callable[[T], object]) -> list[T]:
    """The first (best) hit of each group, in order; `group` -> None means a group of its own."""
    seen: set = set()
    out = []
    for h in hits:
        g = group(h)
        if g is None or g not in seen:
            out.append(h)
            if g is not None:
                seen.add(g)
    return out


def mmr(relevance: Sequence[float], vectors: np.ndarray, diversity: float) -> list[int]:
    """Indices in maximal-marginal-relevance order: each step takes the candidate maximising
    (1 - diversity) * relevance - diversity * (its highest cosine to those already taken), with
    relevance divided by the best one (scores keep their ratios; the first pick is the best hit).
    Ties keep the given order."""
    n = len(relevance)
    if n == 0:
        return []
    rel = np.asarray(relevance, np.float64)
    top = float(np.abs(rel).max())
    rel = rel / top if top > 0 else np.ones(n)
    v = np.asarray(vectors, np.float64)
    v = v / np.maximum(np.linalg.norm(v, axis=1, keepdims=True), 1e-12)
    v = np.nan_to_num(v)
    sims = v @ v.T
    taken: list[int] = []
    nearest = np.full(n, -np.inf)  # highest cosine to a taken candidate
    free = np.ones(n, bool)
    for _ in range(n):
        penalty = np.where(np.isfinite(nearest), nearest, 0.0)
        gain = np.where(free, (1 - diversity) * rel - diversity * penalty, -np.inf)
        i = int(np.argmax(gain))
        taken.append(i)
        free[i] = False
        nearest = np.maximum(nearest, sims[i])
    return taken


def shape(fetch: Callable[[int], list[T]], k: int, opts: ListOptions, group: Callable[[T], object],
          vectors: Callable[[list[T]], np.ndarray]) -> list[T]:
    """The page [offset, offset + k) of a ranking `fetch(n)` (its best n), grouped and
    diversified as `opts` asks."""
    need = opts.offset + k
    if not opts.reorders:
        return fetch(need)[opts.offset:need]
    pool = fetch(max(LIST_POOL, need))
    if opts.group_by is not None:
        pool = one_per_group(pool, group)
    if opts.diversity > 0 and pool:  # the best DIVERSE_POOL reordered; the rest keeps its order
        head = pool[:DIVERSE_POOL]
        order = mmr([getattr(h, "score", 0.0) for h in head], vectors(head), opts.diversity)
        pool = [head[i] for i in order] + pool[DIVERSE_POOL:]
    return pool[opts.offset:need]
