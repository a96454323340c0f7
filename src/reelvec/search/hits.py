"""What a query answers with: `Hit`s and their `Explanation`s (per-modality cosines, what the
two films share, the signal that placed the hit), made from stored payloads and vectors by
`Explains._hits`. Reads the store only to fetch vectors and payloads the ranking did not already
hold."""
from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from reelvec.fusion.blend import (
    LABELS,
)
from reelvec.index.base import Found

VECTOR_NAMES = ("fused", "text", "image")


@dataclass(frozen=True)
class Explanation:
    fused: float | None = None
    text: float | None = None
    image: float | None = None
    shared_genres: tuple[str, ...] = ()
    shared_keywords: tuple[str, ...] = ()
    shared_cast: tuple[str, ...] = ()
    same_director: str | None = None
    note: str | None = None
    placed_by: str | None = None  # the signal that contributed most: "same franchise", "similar plot", ...
    same_franchise: str | None = None  # the franchise both films belong to (payload `franchise`)
    same_series: str | None = None  # the series both belong to, as its sources name it (payload `series_name`)

    def __str__(self) -> str:
        parts = [self.placed_by] if self.placed_by else []
        cos = [f"{n} {v:.2f}" for n, v in (("fused", self.fused), ("text", self.text), ("poster", self.image))
               if v is not None]
        if cos:
            parts.append("cos " + ", ".join(cos))
        if self.same_series:
            parts.append(f"same series: {self.same_series}")
        elif self.same_franchise and self.placed_by != "same franchise":
            parts.append(f"franchise {self.same_franchise}")
        if self.same_director:
            parts.append(f"same director: {self.same_director}")
        if self.shared_cast:
            parts.append("cast " + ", ".join(self.shared_cast[:2]))
        if self.shared_genres:
            parts.append("genres " + ", ".join(self.shared_genres))
        if self.shared_keywords:
            parts.append("keywords " + ", ".join(self.shared_keywords[:3]))
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Hit:
    tmdb_id: int | None
    title: str
    year: int | None
    genres: tuple[str, ...]
    score: float
    explanation: Explanation = field(default_factory=Explanation)
    key: str = ""
    poster: str | None = None
    series: str | None = None  # the series it belongs to, as its sources name it
    director: str | None = None
    overview: str | None = None  # trimmed (payload `overview`)
    tmdb_url: str | None = None
    imdb_url: str | None = None

    def to_dict(self) -> dict:
        return {"tmdb_id": self.tmdb_id, "title": self.title, "year": self.year, "genres": list(self.genres),
                "score": round(self.score, 6), "key": self.key, "poster": self.poster, "series": self.series,
                "director": self.director, "overview": self.overview, "tmdb_url": self.tmdb_url,
                "imdb_url": self.imdb_url, "why": str(self.explanation), "explanation": self.explanation.to_dict()}


def _series_of(hit: Hit) -> str | None:
    return hit.series



def _directors(fields: dict) -> list[str]:
    return list(fields.get("directors") or ([fields["director"]] if fields.get("director") else []))


def _cos(a, b) -> float | None:
    if a is None or b is None:
        return None
    return float(np.dot(a, b) / (np.linalg.norm(a) * np.linalg.norm(b) + 1e-12))


class Explains:
    """Hits with explanations (a mixin of `Engine`: needs `store` and `collection`)."""

    store: Any

    # ------------------------------------------------------------------------- explanations
    def _hits(self, found: Sequence[Found], query: Found,
              cosines: dict[str, dict[str, float | None]] | None = None,
              placed: dict[str, str | None] | None = None) -> list[Hit]:
        """Hits with explanations; `cosines` (id -> vector name -> cosine) saves reading vectors
        back, `placed` (id -> the signal that placed it) fills `placed_by`."""
        if not found:
            return []
        cosines = cosines or {}
        full = {f.id: f for f in found if f.vectors is not None}  # vectors already read (weighted search)
        missing = [f.id for f in found if f.vectors is None and f.id not in cosines]
        if missing:
            full.update((f.id, f) for f in self.store.retrieve(self.collection, missing, with_vectors=True))
        bare = [f.id for f in found if f.id in cosines and not f.payload]
        if bare:
            full.update((f.id, f) for f in self.store.retrieve(self.collection, bare))
        qp = query.payload
        qv = {n: np.asarray(v, np.float32) for n, v in (query.vectors or {}).items()}
        qd, qf, qs = set(_directors(qp)), qp.get("franchise"), qp.get("series")
        q_genres, q_keywords, q_cast = set(qp.get("genres", [])), set(qp.get("keywords", [])), set(qp.get("cast", []))
        out = []
        for f in found:
            rec = full.get(f.id, f)
            p, v = rec.payload, rec.vectors or {}
            known = cosines.get(f.id)
            cos = known if known is not None else {n: _cos(qv.get(n), v.get(n)) for n in VECTOR_NAMES}
            expl = Explanation(
                fused=cos.get("fused"), text=cos.get("text"), image=cos.get("image"),
                shared_genres=tuple(g for g in p.get("genres", []) if g in q_genres),
                shared_keywords=tuple(x for x in p.get("keywords", []) if x in q_keywords),
                shared_cast=tuple(x for x in p.get("cast", []) if x in q_cast),
                same_director=", ".join(d for d in _directors(p) if d in qd) or None,
                same_franchise=qf if qf and qf == p.get("franchise") else None,
                same_series=(p.get("series_name") or qs) if qs and qs == p.get("series") else None,
                placed_by=placed.get(f.id) if placed else None)
            if expl.placed_by == LABELS["title"] and not expl.same_franchise:
                expl = dataclasses.replace(expl, placed_by="similar title")
            out.append(Hit(p.get("tmdb_id"), p.get("title", "?"), p.get("year"), tuple(p.get("genres", [])),
                           float(f.score), expl, p.get("key", ""), p.get("poster"),
                           p.get("series_name") or p.get("series"), p.get("director"), p.get("overview"),
                           p.get("tmdb_url"), p.get("imdb_url")))
        return out

