"""The VectorStore contract that search and jobs use, whatever Qdrant runs underneath.

Two backends implement it: `EdgeStore` (Qdrant Edge, in-process, the default) and
`ServerStore` (qdrant-client against a server, or its own local mode in tests). One
parametrised congruence suite runs the same cases on both.
"""
from __future__ import annotations

import functools
import uuid
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol, runtime_checkable

import numpy as np

from reelvec.errors import StoreError

# Fixed namespace so that point ids are the same on every machine and every rerun.
POINT_NAMESPACE = uuid.UUID("5b0f7a52-4c35-4e8e-9d3c-2f1b6d2f5e11")
ALIAS = "movies"
INDEXED_FIELDS = {"genres": "keyword", "year": "integer", "tmdb_id": "integer", "original_language": "keyword",
                  "franchise": "keyword", "series": "keyword"}


@functools.lru_cache(maxsize=1 << 16)
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

    @property
    def vec(self) -> dict[str, list[float]]:
        """The vectors read with the point ({} when they were not asked for)."""
        return self.vectors or {}


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
    only_ids: tuple[str, ...] | None = None  # restrict to these point ids (None = no restriction)
    # candidate prefetches of `similar`: the same series, a director or a lead actor in common
    series: tuple[str, ...] = ()
    directors_any: tuple[str, ...] = ()
    cast_any: tuple[str, ...] = ()
    exclude_series: tuple[str, ...] = ()  # leave out films of these series (`similar(exclude_series=True)`)

    def is_empty(self) -> bool:
        return self == SearchFilter()


@dataclass(frozen=True)
class QuerySpec:
    vector: Sequence[float]
    using: str
    k: int
    filter: SearchFilter = field(default_factory=SearchFilter)
    with_vectors: bool = False  # return each hit's vectors too (saves a retrieve for explanations)
    with_payload: bool = True  # False: ids and scores only (candidate prefetches), payload {}
    # the point whose own `using` vector `vector` is: a store that keeps each point's nearest
    # neighbours may answer from them (the same hits); others ignore it
    near_id: str | None = None


@runtime_checkable
class VectorStore(Protocol):
    """Everything the app and search layers call on a store. Both backends return the same
    types; failures are StoreErrors that name the store and say what to do."""

    def create_collection(self, name: str, vectors: dict[str, int], shards: int = 1,
                          replication_factor: int = 1) -> None:
        """Create `name` with cosine named vectors {name: dim} and the payload indexes; a no-op
        when it exists with the same vectors, a StoreError when it exists with others."""
    def drop_collection(self, name: str) -> None: ...
    def collections(self) -> list[str]: ...
    def collection_exists(self, name: str) -> bool: ...
    def collection_vectors(self, name: str) -> dict[str, int]: ...
    def upsert(self, collection: str, points: Sequence[PointData]) -> None:
        """Insert or replace points; a vector of the wrong size is a StoreError naming the point."""
    def delete(self, collection: str, ids: Sequence[str]) -> None: ...
    def retrieve(self, collection: str, ids: Sequence[str], with_vectors: bool = False,
                 with_payload: bool = True) -> list[Found]:
        """The points that exist, in the order asked for (missing ids are left out); payload {}
        when `with_payload` is False."""
    def query(self, collection: str, spec: QuerySpec) -> list[Found]: ...
    def query_batch(self, collection: str, specs: Sequence[QuerySpec]) -> list[list[Found]]: ...
    def recommend(self, collection: str, positive: Sequence[Sequence[float]], negative: Sequence[Sequence[float]],
                  using: str, k: int, flt: SearchFilter = SearchFilter()) -> list[Found]: ...
    def count(self, collection: str, flt: SearchFilter | None = None) -> int: ...
    def scroll(self, collection: str, batch: int = 1000, with_vectors: bool = False,
               flt: SearchFilter | None = None) -> Iterator[Found]: ...
    def set_alias(self, alias: str, collection: str) -> None:
        """Point `alias` at `collection` in one atomic step (readers see the old or the new)."""
    def resolve_alias(self, alias: str) -> str | None: ...
    def finalize(self, collection: str) -> None:
        """Make a bulk-loaded collection durable and searchable at full speed (build its indexes)."""
    def snapshot(self, collection: str, dest: str | Path) -> str:
        """Snapshot `collection`; returns where it is (embedded: a .tar.gz path under `dest`;
        server: the name of the snapshot Qdrant keeps)."""
    def restore(self, snapshot: str | Path, name: str) -> str:
        """Restore a snapshot as the new collection `name` (which must not exist); returns `name`."""
    def release(self, collection: str) -> None:
        """Let go of this process's handle on `collection` (the embedded shard and its lock), so
        another writer may open it; a no-op where there is no such handle (a server)."""
    def close(self) -> None: ...

@runtime_checkable
class PublishedReads(Protocol):
    """What a published read copy answers beyond `VectorStore` (`reelvec.index.published.
    PublishedStore`, the reader of an embedded home): columns instead of payload scans, one gather
    per vector, precomputed answers, generations. The engine asks for it once (`Engine.copy`);
    a server store has none of it and is read through `VectorStore` alone."""

    def generation(self, collection: str) -> int:
        """The generation of the copy being read (a live edit adds one)."""
    def refresh(self, collection: str) -> None:
        """Read the newest generation on the next call."""
    def warm(self, collection: str) -> None:
        """Build the filter masks and postings the first queries would build."""
    def columns(self, collection: str) -> dict[str, list]:
        """Filterable fields and titles of every live point, by column (``ids`` first)."""
    def title_arrays(self, collection: str) -> dict[str, np.ndarray] | None: ...
    def vectors_of(self, collection: str, ids: Sequence[str],
                   names: Sequence[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]: ...
    def fields_of(self, collection: str, ids: Sequence[str], names: Sequence[str]) -> list[dict] | None: ...
    def answer(self, collection: str, pid: str) -> tuple[dict, dict] | None: ...
    def answer_meta(self, collection: str) -> dict | None: ...



# ----------------------------------------------------------------------- shared by both backends
def check_vectors(collection: str, existing: dict[str, int], wanted: dict[str, int]) -> None:
    """create_collection on an existing collection: fine when the vectors agree."""
    if existing != wanted:
        raise StoreError(f"collection {collection} exists with vectors {existing}, not {wanted}; "
                         "use a new collection name or drop it first")


def check_points(collection: str, dims: dict[str, int], points: Sequence[PointData]) -> None:
    for p in points:
        for n, v in p.vectors.items():
            if n not in dims or len(v) != dims[n]:
                raise StoreError(f"point {p.id}: vector {n!r} has dimension {len(v)}, collection "
                                 f"{collection} expects {dims.get(n, 'no such vector')}")
            if not np.isfinite(np.asarray(v, np.float32)).all():  # NaN/inf never enters a store
                raise StoreError(f"point {p.id} ({p.payload.get('title', '?')}): vector {n!r} is not finite; "
                                 "nothing was written (a damaged model or encoder? `reelvec verify` checks them)")


@dataclass(frozen=True)
class Condition:
    """One backend-neutral filter clause; each backend maps `kind` onto its own classes."""

    kind: str  # any | value | range | has_id | has_vector
    key: str = ""
    value: Any = None


def filter_clauses(f: SearchFilter | None) -> tuple[list[Condition], list[Condition]] | None:
    """SearchFilter -> (must, must_not) clauses, or None when there is nothing to filter."""
    if f is None or f.is_empty():
        return None
    must, must_not = [], []
    if f.genres_any:
        must.append(Condition("any", "genres", list(f.genres_any)))
    must += [Condition("value", "genres", g) for g in f.genres_all]
    if f.exclude_genres:
        must_not.append(Condition("any", "genres", list(f.exclude_genres)))
    if f.year_min is not None or f.year_max is not None:
        must.append(Condition("range", "year", (f.year_min, f.year_max)))
    if f.languages:
        must.append(Condition("any", "original_language", list(f.languages)))
    if f.exclude_ids:
        must_not.append(Condition("has_id", value=list(f.exclude_ids)))
    if f.exclude_series:
        must_not.append(Condition("any", "series", list(f.exclude_series)))
    if f.has_vector:
        must.append(Condition("has_vector", value=f.has_vector))
    if f.only_ids is not None:
        must.append(Condition("has_id", value=list(f.only_ids)))
    for key, values in (("series", f.series), ("directors", f.directors_any), ("cast", f.cast_any)):
        if values:
            must.append(Condition("any", key, list(values)))
    return must, must_not


def as_list(v) -> list[float]:
    return np.asarray(v, dtype=np.float32).tolist()
