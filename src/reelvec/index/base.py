"""The VectorStore contract that search and jobs use, whatever Qdrant runs underneath.

Two backends implement it: `EdgeStore` (Qdrant Edge, in-process, the default) and
`ServerStore` (qdrant-client against a server, or its own local mode in tests). One
parametrised congruence suite runs the same cases on both.
"""
from __future__ import annotations

import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

import numpy as np

# Fixed namespace so that point ids are the same on every machine and every rerun.
POINT_NAMESPACE = uuid.UUID("5b0f7a52-4c35-4e8e-9d3c-2f1b6d2f5e11")
ALIAS = "movies"
INDEXED_FIELDS = {"genres": "keyword", "year": "integer", "tmdb_id": "integer", "original_language": "keyword"}


def point_id(key: str) -> str:
    """uuid5 of the movie key ('tmdb:603' -> the same UUID every time): reruns are idempotent."""
    return str(uuid.uuid5(POINT_NAMESPACE, key))


@dataclass(frozen=True)
class PointData:
    id: str
    vectors: dict[str, Sequence[float]]  # named vectors; a missing name = no such vector
    payload: dict[str, Any]


@dataclass(frozen=True)
class Found:
    id: str
    score: float
    payload: dict[str, Any]
    vectors: dict[str, list[float]] | None = None


@dataclass(frozen=True)
class SearchFilter:
    """Payload filter pushed down to Qdrant (never applied in Python after the fact)."""

    genres_any: tuple[str, ...] = ()
    genres_all: tuple[str, ...] = ()
    exclude_genres: tuple[str, ...] = ()
    year_min: int | None = None
    year_max: int | None = None
    languages: tuple[str, ...] = ()
    exclude_ids: tuple[str, ...] = ()  # point ids (e.g. the query movie itself)
    has_vector: str | None = None

    def is_empty(self) -> bool:
        return self == SearchFilter()


@dataclass(frozen=True)
class QuerySpec:
    vector: Sequence[float]
    using: str
    k: int
    filter: SearchFilter = field(default_factory=SearchFilter)


@runtime_checkable
class VectorStore(Protocol):
    def create_collection(self, name: str, vectors: dict[str, int], shards: int = 1,
                          replication_factor: int = 1) -> None: ...
    def drop_collection(self, name: str) -> None: ...
    def collections(self) -> list[str]: ...
    def collection_vectors(self, name: str) -> dict[str, int]: ...
    def upsert(self, collection: str, points: Sequence[PointData]) -> None: ...
    def delete(self, collection: str, ids: Sequence[str]) -> None: ...
    def retrieve(self, collection: str, ids: Sequence[str], with_vectors: bool = False) -> list[Found]: ...
    def query(self, collection: str, spec: QuerySpec) -> list[Found]: ...
    def query_batch(self, collection: str, specs: Sequence[QuerySpec]) -> list[list[Found]]: ...
    def recommend(self, collection: str, positive: Sequence[Sequence[float]], negative: Sequence[Sequence[float]],
                  using: str, k: int, flt: SearchFilter = SearchFilter()) -> list[Found]: ...
    def count(self, collection: str, flt: SearchFilter | None = None) -> int: ...
    def scroll(self, collection: str, batch: int = 1000, with_vectors: bool = False,
               flt: SearchFilter | None = None) -> Iterator[Found]: ...
    def set_alias(self, alias: str, collection: str) -> None: ...
    def resolve_alias(self, alias: str) -> str | None: ...
    def finalize(self, collection: str) -> None: ...
    def close(self) -> None: ...


def as_list(v) -> list[float]:
    return np.asarray(v, dtype=np.float32).tolist()
