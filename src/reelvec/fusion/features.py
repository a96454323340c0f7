"""The structured modality: fields that carry much of the signal (genres, year, audience size,
language) and a bag of content tags (keywords, director, top cast, companies) for learned
embeddings. Pure functions of the movies: fitted vocabularies are saved with the model."""
from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np

from reelvec.ingest.movie import Movie


@dataclass(frozen=True)
class StructuredSpec:
    genres: tuple[str, ...]
    languages: tuple[str, ...]
    tags: tuple[str, ...]
    year_mean: float
    year_std: float
    votes_mean: float
    votes_std: float
    pop_mean: float
    pop_std: float
    max_tags: int = 24

    @property
    def dim(self) -> int:
        return len(self.genres) + len(self.languages) + 1 + 5

    def to_dict(self) -> dict:
        return asdict(self)

    @classmethod
    def from_dict(cls, d: dict) -> StructuredSpec:
        return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in d.items()})


def movie_tags(m: Movie) -> list[str]:
    """Content tags with a kind prefix, most specific first."""
    tags = [f"kw:{k.lower()}" for k in m.keywords[:15]]
    if m.director:
        tags.append(f"dir:{m.director}")
    tags += [f"cast:{c}" for c in m.cast[:5]]
    tags += [f"co:{c}" for c in m.companies[:2]]
    return tags


def _stats(values: list[float]) -> tuple[float, float]:
    if not values:
        return 0.0, 1.0
    a = np.asarray(values, np.float64)
    return float(a.mean()), float(a.std() or 1.0)


def fit_structured(movies: Sequence[Movie], max_tag_vocab: int = 4000, min_tag_count: int = 2,
                   max_languages: int = 20) -> StructuredSpec:
    genres = Counter(g for m in movies for g in m.genres)
    langs = Counter(m.original_language for m in movies if m.original_language)
    tags = Counter(t for m in movies for t in set(movie_tags(m)))
    tag_vocab = tuple(t for t, c in tags.most_common(max_tag_vocab) if c >= min_tag_count)
    ym, ys = _stats([m.year for m in movies if m.year])
    vm, vs = _stats([math.log1p(m.vote_count) for m in movies if m.vote_count is not None])
    pm, ps = _stats([math.log1p(m.popularity) for m in movies if m.popularity is not None])
    return StructuredSpec(genres=tuple(sorted(g for g, c in genres.items() if c >= 5)),
                          languages=tuple(l for l, _ in langs.most_common(max_languages)),
                          tags=tag_vocab, year_mean=ym, year_std=ys, votes_mean=vm, votes_std=vs,
                          pop_mean=pm, pop_std=ps)


def structured_matrix(movies: Sequence[Movie], spec: StructuredSpec) -> np.ndarray:
    """(N, spec.dim) float32: genre multi-hot | language one-hot + other | year z, has year,
    log votes z, has votes, log popularity z."""
    gi = {g: i for i, g in enumerate(spec.genres)}
    li = {l: i for i, l in enumerate(spec.languages)}
    G, L = len(gi), len(li)
    out = np.zeros((len(movies), spec.dim), np.float32)
    for r, m in enumerate(movies):
        for g in m.genres:
            if g in gi:
                out[r, gi[g]] = 1.0
        if m.original_language:
            out[r, G + li.get(m.original_language, L)] = 1.0
        base = G + L + 1
        if m.year:
            out[r, base] = (m.year - spec.year_mean) / spec.year_std
            out[r, base + 1] = 1.0
        if m.vote_count is not None:
            out[r, base + 2] = (math.log1p(m.vote_count) - spec.votes_mean) / spec.votes_std
            out[r, base + 3] = 1.0
        if m.popularity is not None:
            out[r, base + 4] = (math.log1p(m.popularity) - spec.pop_mean) / spec.pop_std
    return out


def tag_matrix(movies: Sequence[Movie], spec: StructuredSpec) -> np.ndarray:
    """(N, max_tags) int64 tag ids, padded with len(spec.tags) (the padding row)."""
    ti = {t: i for i, t in enumerate(spec.tags)}
    pad = len(spec.tags)
    out = np.full((len(movies), spec.max_tags), pad, np.int64)
    for r, m in enumerate(movies):
        ids = [ti[t] for t in movie_tags(m) if t in ti][: spec.max_tags]
        out[r, : len(ids)] = ids
    return out
