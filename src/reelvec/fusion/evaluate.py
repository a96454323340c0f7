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
    popularity_bias: list[float] = field(default_factory=list)  # per seed

    def summary(self, n_boot: int = 1000) -> dict[str, tuple[float, float, float]]:
        out = {m: M.bootstrap_ci(v, n_boot) for m, v in self.per_query.items()}
        if self.coverage:
            out["coverage"] = (float(np.mean(self.coverage)), float(np.min(self.coverage)), float(np.max(self.coverage)))
        if self.popularity_bias:
            pb = self.popularity_bias
            out["popularity_bias"] = (float(np.mean(pb)), float(np.min(pb)), float(np.max(pb)))
        return out


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
) -> MethodResult:
    """score_fn(query_rows) -> (len(rows), N) scores over the catalogue; the query itself and
    non-candidates are excluded from ranking."""
    res = result or MethodResult(name)
    n = len(popularity)
    allowed = np.ones(n, bool) if candidates is None else np.isin(np.arange(n), candidates)
    seen: set[int] = set()
    pops = []
    for s in range(0, len(queries), chunk):
        q = queries[s:s + chunk]
        S = np.asarray(score_fn(q), np.float64)
        S[:, ~allowed] = -np.inf
        S[np.arange(len(q)), q] = -np.inf
        top = np.argpartition(-S, k, axis=1)[:, :k]
        top = np.take_along_axis(top, np.argsort(-np.take_along_axis(S, top, 1), axis=1), 1)
        for row, ranked in zip(q, top):
            rel = truth[int(row)]
            ranked = ranked.tolist()
            add = res.per_query.setdefault
            add("P@10", []).append(M.precision_at_k(ranked, rel, k))
            add("R@10", []).append(M.recall_at_k(ranked, rel, k))
            add("MAP@10", []).append(M.average_precision(ranked, rel, k))
            add("NDCG@10", []).append(M.ndcg_at_k(ranked, rel, k))
            add("GenreAcc@10", []).append(M.genre_accuracy(genres[row], [genres[j] for j in ranked]))
            add("ILD@10", []).append(M.intra_list_diversity([genres[j] for j in ranked]))
            if top1_embedding is not None:
                add("Top1Cos", []).append(float(top1_embedding[row] @ top1_embedding[ranked[0]]))
            seen.update(ranked)
            pops.extend(popularity[ranked])
    res.coverage.append(len(seen) / n)
    res.popularity_bias.append(float(np.mean(pops) - np.mean(popularity)) if pops else 0.0)
    return res


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
