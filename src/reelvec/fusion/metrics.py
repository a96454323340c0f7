"""Ranking metrics, pure functions on one ranked list (hand-checkable) plus bootstrap intervals.

`ranked` is a sequence of item ids best first; `relevant` a set of ids. Binary relevance.
"""
from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np


def precision_at_k(ranked: Sequence, relevant: set, k: int) -> float:
    return sum(1 for r in ranked[:k] if r in relevant) / k


def recall_at_k(ranked: Sequence, relevant: set, k: int) -> float:
    return sum(1 for r in ranked[:k] if r in relevant) / len(relevant) if relevant else 0.0


def average_precision(ranked: Sequence, relevant: set, k: int | None = None) -> float:
    """AP@k: mean of precision at each relevant hit, over min(|relevant|, k)."""
    k = k or len(ranked)
    hits, total = 0, 0.0
    for i, r in enumerate(ranked[:k], 1):
        if r in relevant:
            hits += 1
            total += hits / i
    denom = min(len(relevant), k)
    return total / denom if denom else 0.0


def ndcg_at_k(ranked: Sequence, relevant: set, k: int) -> float:
    dcg = sum(1.0 / math.log2(i + 1) for i, r in enumerate(ranked[:k], 1) if r in relevant)
    ideal = sum(1.0 / math.log2(i + 1) for i in range(1, min(len(relevant), k) + 1))
    return dcg / ideal if ideal else 0.0


def genre_accuracy(query_genres: set, neighbour_genres: Sequence[set]) -> float:
    """The seed's Genre Accuracy: share of neighbours sharing at least one genre with the query."""
    if not neighbour_genres:
        return 0.0
    return sum(1 for g in neighbour_genres if g & query_genres) / len(neighbour_genres)


def share_matching(ranked: Sequence, match) -> float:
    """Share of the ranked items for which match(item) is true."""
    return sum(1 for r in ranked if match(r)) / len(ranked) if len(ranked) else 0.0


def intra_list_diversity(genre_sets: Sequence[set]) -> float:
    """Mean pairwise genre Jaccard distance inside one list (method-independent)."""
    n = len(genre_sets)
    if n < 2:
        return 0.0
    d = []
    for i in range(n):
        for j in range(i + 1, n):
            a, b = genre_sets[i], genre_sets[j]
            u = a | b
            d.append(1.0 - len(a & b) / len(u) if u else 0.0)
    return float(np.mean(d))


def bootstrap_ci(values: Sequence[float], n_boot: int = 1000, seed: int = 0, alpha: float = 0.05) -> tuple[float, float, float]:
    """(mean, low, high) percentile bootstrap interval of the mean."""
    v = np.asarray(values, np.float64)
    if len(v) == 0:
        return 0.0, 0.0, 0.0
    rng = np.random.default_rng(seed)
    means = v[rng.integers(0, len(v), size=(n_boot, len(v)))].mean(1)
    return float(v.mean()), float(np.quantile(means, alpha / 2)), float(np.quantile(means, 1 - alpha / 2))


def paired_bootstrap_diff(a: Sequence[float], b: Sequence[float], n_boot: int = 2000,
                          seed: int = 0) -> tuple[float, float, float]:
    """Mean of a - b over the same queries with a 95% interval."""
    d = np.asarray(a, np.float64) - np.asarray(b, np.float64)
    return bootstrap_ci(d, n_boot=n_boot, seed=seed)
