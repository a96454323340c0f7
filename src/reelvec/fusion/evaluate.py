"""The seed's `Evaluate_metrics`, grown into an honest cold-start evaluation.

Protocol: a seeded 20% of rated movies are cold start — their ratings are removed before
training, so the model only ever sees their text, poster and metadata. Ground truth for each is
its co-liked neighbours computed from the removed ratings. Every method ranks the whole
catalogue (no sampled negatives). Means come with bootstrap 95% intervals; runs repeat over
seeds and pool the queries.
"""
from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from reelvec.fusion import metrics as M

K = 10


@dataclass
class MethodResult:
    name: str
    per_query: dict[str, list[float]] = field(default_factory=dict)  # metric -> values, pooled
    coverage: list[float] = field(default_factory=list)  # per seed

    def summary(self, n_boot: int = 1000) -> dict[str, tuple[float, float, float]]:
        out = {m: M.bootstrap_ci(v, n_boot) for m, v in self.per_query.items()}
        if self.coverage:
            out["coverage"] = (float(np.mean(self.coverage)), float(np.min(self.coverage)), float(np.max(self.coverage)))
        return out

    def mean(self, metric: str) -> float:
        return float(np.mean(self.per_query[metric])) if self.per_query.get(metric) else 0.0


def _rank(S: np.ndarray, q: np.ndarray, allowed: np.ndarray, k: int) -> list[np.ndarray]:
    """Top-k rows per query row of a score block, best first, never the query itself nor a
    non-candidate (fewer than k when the catalogue is that small)."""
    S = np.asarray(S, np.float64)
    S[:, ~allowed] = -np.inf
    S[np.arange(len(q)), q] = -np.inf
    k = min(k, S.shape[1])
    top = np.argpartition(-S, k - 1, axis=1)[:, :k]
    vals = np.take_along_axis(S, top, 1)
    order = np.argsort(-vals, axis=1, kind="stable")
    top, vals = np.take_along_axis(top, order, 1), np.take_along_axis(vals, order, 1)
    return [t[np.isfinite(v)] for t, v in zip(top, vals)]


def popularity_percentile(popularity: np.ndarray) -> np.ndarray:
    """Each movie's popularity as a percentile in [0, 1] (ties share their mean rank)."""
    from scipy.stats import rankdata

    n = len(popularity)
    return (rankdata(popularity) - 1) / max(n - 1, 1)


def evaluate_scores(
    name: str,
    score_fn: Callable[[np.ndarray], np.ndarray],
    queries: np.ndarray,
    truth: dict[int, set[int]],
    genres: Sequence[set],
    popularity: np.ndarray,
    candidates: np.ndarray | None = None,
    top1_embedding: np.ndarray | None = None,
    result: MethodResult | None = None,
    k: int = K,
    chunk: int = 512,
    people: Sequence[frozenset] | None = None,
    franchise_pairs: Sequence[tuple[int, int]] = (),
    checks=None,
) -> MethodResult:
    """score_fn(query_rows) -> (len(rows), N) scores over the catalogue; the query itself and
    non-candidates are excluded from ranking.

    Per cold-start query: the co-liked measures (NDCG@10, R@20, P@10, MAP@10) against `truth`,
    and the content measures: GenreP@10 (hits sharing a genre), People@10 (hits sharing the
    director or a lead actor, for queries with known people) and PopBias (median popularity
    percentile of the hits minus the query's). Per franchise pair (film, mate): FranchiseR@10,
    whether the mate is in the film's top 10. `checks` (`fusion.faithful.Checks`) adds series
    and director recall, the hub share, the most lists one film is in and the title-lookalike rate."""
    res = result or MethodResult(name)
    n = len(popularity)
    allowed = np.ones(n, bool) if candidates is None else np.isin(np.arange(n), candidates)
    pct = popularity_percentile(popularity)
    seen: set[int] = set()
    add = res.per_query.setdefault
    kk = max(k, 20)
    for s in range(0, len(queries), chunk):
        q = queries[s:s + chunk]
        top = _rank(score_fn(q), q, allowed, kk)
        for row, ranked20 in zip(q, top):
            rel = truth[int(row)]
            ranked = ranked20[:k].tolist()
            add("NDCG@10", []).append(M.ndcg_at_k(ranked, rel, k))
            add("R@20", []).append(M.recall_at_k(ranked20.tolist(), rel, 20))
            add("P@10", []).append(M.precision_at_k(ranked, rel, k))
            add("MAP@10", []).append(M.average_precision(ranked, rel, k))
            add("GenreP@10", []).append(M.genre_accuracy(genres[row], [genres[j] for j in ranked]))
            if people is not None and people[row]:
                add("People@10", []).append(M.share_matching(ranked, lambda j: bool(people[j] & people[row])))
            add("PopBias", []).append(float(np.median(pct[ranked]) - pct[row]))
            add("ILD@10", []).append(M.intra_list_diversity([genres[j] for j in ranked]))
            if top1_embedding is not None:
                add("Top1Cos", []).append(float(top1_embedding[row] @ top1_embedding[ranked[0]]))
            seen.update(ranked)
    res.coverage.append(len(seen) / n)
    if len(franchise_pairs):
        res.per_query.setdefault("FranchiseR@10", []).extend(franchise_recall(score_fn, franchise_pairs, allowed, k))
    if checks is not None:
        from reelvec.fusion.faithful import most_lists

        tops = top_lists(score_fn, checks.rows, k)
        for name, values in checks.measure(tops).items():
            add(name, []).extend(values)
        add("MostLists", []).append(float(most_lists(tops, checks.hub_rows)))
    return res


def franchise_recall(score_fn: Callable[[np.ndarray], np.ndarray], pairs: Sequence[tuple[int, int]],
                     allowed: np.ndarray | None = None, k: int = K, chunk: int = 512) -> list[float]:
    """1.0 per (film, mate) pair whose mate is in the film's top k, else 0.0 (pair order kept)."""
    films = np.array(sorted({a for a, _ in pairs}), np.int64)
    tops = top_lists(score_fn, films, k, allowed, chunk)
    return [1.0 if b in tops[a] else 0.0 for a, b in pairs]


def top_lists(score_fn: Callable[[np.ndarray], np.ndarray], rows: np.ndarray, k: int = K,
              allowed: np.ndarray | None = None, chunk: int = 512) -> dict[int, list[int]]:
    """Each of `rows`' top k by `score_fn` (never itself, only `allowed` rows when given)."""
    out: dict[int, list[int]] = {}
    for s in range(0, len(rows), chunk):
        q = np.asarray(rows[s:s + chunk], np.int64)
        S = np.asarray(score_fn(q), np.float64)
        for r, t in zip(q, _rank(S, q, np.ones(S.shape[1], bool) if allowed is None else allowed, k)):
            out[int(r)] = t.tolist()
    return out


def ground_truth(co_full: dict[int, list[tuple[int, float]]], test_rows: np.ndarray, top: int = 20) -> dict[int, set[int]]:
    """Co-liked neighbours from the full ratings (what the held-out movies' fans also liked)."""
    return {int(r): {j for j, _ in co_full[int(r)][:top]} for r in test_rows if int(r) in co_full}


def cosine_scores(emb: np.ndarray, valid: np.ndarray | None = None) -> Callable[[np.ndarray], np.ndarray]:
    """Scores by cosine in an embedding; rows without a valid vector score -inf / rank randomly."""
    E = np.nan_to_num(emb / np.maximum(np.linalg.norm(emb, axis=1, keepdims=True), 1e-9), nan=0.0).astype(np.float32)

    def fn(q):
        S = E[q] @ E.T
        if valid is not None:
            S[:, ~valid] = -1e9
        return S
    return fn


def weighted_scores(parts: dict[str, tuple[np.ndarray, float]]) -> Callable[[np.ndarray], np.ndarray]:
    """sum of weight * cosine over named embeddings, {name: (embedding, weight)}; a row without a
    vector (all-NaN or zero) contributes 0 for that name — what the engine's weighted query does."""
    fns = [(cosine_scores(np.nan_to_num(E, nan=0.0)), w) for E, w in parts.values() if w]

    def fn(q):
        return sum(w * f(q) for f, w in fns)
    return fn


def late_fusion_scores(text: np.ndarray, image: np.ndarray, has_image: np.ndarray, alpha: float):
    """alpha * cos_text + (1 - alpha) * cos_poster (poster term 0 where either lacks a poster)."""
    T = cosine_scores(text)
    I = np.nan_to_num(image, nan=0.0).astype(np.float32)
    I = I / np.maximum(np.linalg.norm(I, axis=1, keepdims=True), 1e-9)

    def fn(q):
        return alpha * T(q) + (1 - alpha) * (I[q] @ I.T)
    return fn


def tfidf_matrix(docs: Sequence[str]):
    from sklearn.feature_extraction.text import TfidfVectorizer

    vec = TfidfVectorizer(sublinear_tf=True, ngram_range=(1, 2), min_df=2, max_features=200_000, stop_words="english")
    return vec.fit_transform(docs)


def tfidf_scores(X) -> Callable[[np.ndarray], np.ndarray]:
    XT = X.T.tocsc()

    def fn(q):
        return (X[q] @ XT).toarray()
    return fn


def tfidf_document(movie) -> str:
    """Description plus the structured fields repeated (the strongest TF-IDF variant tried)."""
    from reelvec.ingest.prep import build_description

    g = " ".join(x.replace(" ", "_") for x in movie.genres)
    kw = " ".join(k.replace(" ", "_") for k in movie.keywords)
    people = " ".join(p.replace(" ", "_") for p in ([movie.director] if movie.director else []) + list(movie.cast[:5]))
    decade = f"decade_{movie.year // 10 * 10}" if movie.year else ""
    return " ".join([build_description(movie), g, g, g, kw, kw, people, decade, decade])


def log_popularity(likes_count: np.ndarray) -> np.ndarray:
    return np.log1p(likes_count.astype(np.float64))


def relative_gain(a: float, b: float) -> float:
    return (a - b) / b if b else math.inf
