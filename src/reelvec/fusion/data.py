"""Training data: who likes what together, what looks alike, and the seed's `Movie_Dataset`.

Positives:
- co-liked: movies rated >= 4 by many of the same MovieLens users, scored by Jaccard over
  their sets of likers (raw counts would make the most popular films everyone's neighbour);
- content: shared keywords / director / cast / companies, among movies sharing a genre.
Held-out (cold-start) movies get no co-liked positives at all: their ratings are removed first.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp
import torch
from torch.utils.data import Dataset

from reelvec.fusion.features import movie_tags
from reelvec.ingest.movie import Movie

Neighbours = dict[int, list[tuple[int, float]]]  # movie row -> [(row, score)] best first


def likes_matrix(ratings, row_of_tmdb: dict[int, int], n_movies: int, min_rating: float = 4.0) -> sp.csr_matrix:
    """users x movies binary matrix of likes (rating >= min_rating), for movies in the index."""
    r = ratings[ratings["rating"] >= min_rating]
    rows = r["tmdb_id"].map(row_of_tmdb)
    ok = rows.notna().to_numpy()
    users = r["userId"].to_numpy()[ok]
    cols = rows.to_numpy()[ok].astype(np.int64)
    uid = {u: i for i, u in enumerate(np.unique(users))}
    data = np.ones(len(cols), np.float32)
    m = sp.csr_matrix((data, ([uid[u] for u in users], cols)), shape=(len(uid), n_movies))
    m.data[:] = 1.0  # duplicates collapse to one like
    return m


def co_liked(likes: sp.csr_matrix, min_common: int = 3, top: int = 20, measure: str = "jaccard") -> Neighbours:
    """Item-item neighbours from shared likers; 'jaccard' = |A∩B| / |A∪B|, 'lift' = |A∩B| N / (|A||B|)."""
    X = likes.tocsc()
    n_users = X.shape[0]
    counts = np.asarray(X.sum(0)).ravel()
    C = (X.T @ X).tocsr()
    C.setdiag(0)
    C.eliminate_zeros()
    out: Neighbours = {}
    for i in range(C.shape[0]):
        s, e = C.indptr[i], C.indptr[i + 1]
        if s == e:
            continue
        js, common = C.indices[s:e], C.data[s:e]
        keep = common >= min_common
        if not keep.any():
            continue
        js, common = js[keep], common[keep]
        if measure == "lift":
            score = common * n_users / (counts[i] * counts[js])
        else:
            score = common / (counts[i] + counts[js] - common)
        order = np.argsort(-score)[:top]
        out[i] = [(int(js[o]), float(score[o])) for o in order]
    return out


def incidence(sets: Sequence) -> sp.csr_matrix:
    """rows x items 0/1 matrix of which items each row's set holds (items numbered as first seen)."""
    vocab: dict = {}
    rows, cols = [], []
    for r, items in enumerate(sets):
        for x in items:
            rows.append(r)
            cols.append(vocab.setdefault(x, len(vocab)))
    return sp.csr_matrix((np.ones(len(rows), np.float32), (rows, cols)), shape=(len(sets), max(len(vocab), 1)))


def content_neighbours(movies: Sequence[Movie], top: int = 10, min_score: float = 0.08, chunk: int = 2048) -> Neighbours:
    """Movies sharing content tags (cosine over tag sets) and at least one genre."""
    T = incidence([set(movie_tags(m)) for m in movies])
    if T.nnz == 0:
        return {}
    df = np.asarray(T.sum(0)).ravel()
    T = T.multiply(1.0 / np.sqrt(df)).tocsr()  # rare tags count more
    norm = np.sqrt(np.asarray(T.multiply(T).sum(1)).ravel())
    T = sp.diags(1.0 / np.maximum(norm, 1e-9)) @ T
    genres = [set(m.genres) for m in movies]
    out: Neighbours = {}
    TT = T.T.tocsr()
    for s in range(0, len(movies), chunk):
        S = (T[s:s + chunk] @ TT).toarray()
        for k in range(S.shape[0]):
            i = s + k
            S[k, i] = 0
            cand = np.argpartition(-S[k], top * 3)[: top * 3] if S.shape[1] > top * 3 else np.arange(S.shape[1])
            cand = [j for j in cand[np.argsort(-S[k, cand])] if S[k, j] >= min_score and genres[i] & genres[j]]
            if cand:
                out[i] = [(int(j), float(S[k, j])) for j in cand[:top]]
    return out


@dataclass(frozen=True)
class ColdStartSplit:
    train_rows: np.ndarray  # rated movies whose ratings are used for training
    test_rows: np.ndarray  # rated movies held out as cold start (ratings removed)


def cold_start_split(rated_rows: np.ndarray, test_ratio: float = 0.2, seed: int = 0) -> ColdStartSplit:
    rng = np.random.default_rng(seed)
    rows = np.array(sorted(rated_rows))
    rng.shuffle(rows)
    n_test = int(round(len(rows) * test_ratio))
    return ColdStartSplit(train_rows=np.sort(rows[n_test:]), test_rows=np.sort(rows[:n_test]))


class Movie_Dataset(Dataset):
    """(anchor, positive) movie-row pairs for triplet training; negatives are mined per batch."""

    def __init__(self, keys: Sequence[str], co: Neighbours, content: Neighbours, rows: Sequence[int] | None = None,
                 content_weight: float = 0.2, positives: str = "mixed"):
        self.keys = list(keys)
        self.co, self.content = co, content
        self.positives = positives
        self.content_weight = content_weight if positives == "mixed" else (1.0 if positives == "content" else 0.0)
        candidates = rows if rows is not None else range(len(self.keys))
        self.rows = np.array([r for r in candidates if self._has_positive(r)], dtype=np.int64)

    def _has_positive(self, r: int) -> bool:
        if self.positives == "co-liked":
            return r in self.co
        if self.positives == "content":
            return r in self.content
        return r in self.co or r in self.content

    def __len__(self) -> int:
        return len(self.rows)

    def __repr__(self) -> str:
        n_co = sum(1 for r in self.rows if r in self.co)
        return (f"Movie_Dataset(anchors={len(self)}, with_co_liked={n_co}, with_content={len(self) - n_co}+, "
                f"positives={self.positives!r}, content_weight={self.content_weight})")

    def positive_set(self, r: int) -> set[int]:
        return {j for j, _ in self.co.get(r, ())} | {j for j, _ in self.content.get(r, ())}

    def sample_positive(self, r: int, rng: np.random.Generator) -> int:
        co, ct = self.co.get(r), self.content.get(r)
        use_content = ct and (not co or self.positives == "content" or rng.random() < self.content_weight)
        if self.positives == "co-liked" or not use_content:
            pool = co
        else:
            pool = ct
        weights = np.array([s for _, s in pool], np.float64)
        return pool[int(rng.choice(len(pool), p=weights / weights.sum()))][0]

    def __getitem__(self, i: int) -> tuple[int, int]:
        r = int(self.rows[i])
        return r, self.sample_positive(r, np.random.default_rng(i))

    def train_test_split(self, train_ratio: float = 0.8, seed: int = 0) -> tuple[Movie_Dataset, Movie_Dataset]:
        """Split by anchor movie (seeded), as in the seed."""
        rng = np.random.default_rng(seed)
        rows = self.rows.copy()
        rng.shuffle(rows)
        cut = int(round(len(rows) * train_ratio))
        make = lambda rs: Movie_Dataset(self.keys, self.co, self.content, sorted(rs.tolist()),
                                        self.content_weight, self.positives)
        return make(rows[:cut]), make(rows[cut:])


def to_inputs(text: np.ndarray, image: np.ndarray, has_image: np.ndarray, struct: np.ndarray, tags: np.ndarray):
    from reelvec.fusion.model import FusionInputs

    img = np.where(has_image[:, None], np.nan_to_num(image, nan=0.0), 0.0).astype(np.float32)
    return FusionInputs(torch.from_numpy(np.ascontiguousarray(text, np.float32)), torch.from_numpy(img),
                        torch.from_numpy(has_image.astype(bool)), torch.from_numpy(struct.astype(np.float32)),
                        torch.from_numpy(tags.astype(np.int64)))
