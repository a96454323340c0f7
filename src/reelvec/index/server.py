"""Server backend on qdrant-client: a Qdrant server or cluster (`QdrantClient(url, api_key)`),
or qdrant-client's own local mode (`location=":memory:"` / `path=`), which the tests use as the
reference implementation. Aliases, shards and replication are Qdrant's own."""
from __future__ import annotations

import functools
from collections.abc import Iterator, Sequence

from reelvec.errors import StoreError
from reelvec.index.base import (
    INDEXED_FIELDS,
    Found,
    PointData,
    QuerySpec,
    SearchFilter,
    as_list,
    check_points,
    check_vectors,
    filter_clauses,
)


def _m():
    from qdrant_client import models

    return models


def client_filter(f: SearchFilter | None):
    """SearchFilter -> qdrant_client.models.Filter (None when there is nothing to filter)."""
    clauses = filter_clauses(f)
    if clauses is None:
        return None
    m = _m()

    def cond(c):
        if c.kind == "any":
            return m.FieldCondition(key=c.key, match=m.MatchAny(any=c.value))
        if c.kind == "value":
            return m.FieldCondition(key=c.key, match=m.MatchValue(value=c.value))
        if c.kind == "range":
            return m.FieldCondition(key=c.key, range=m.Range(gte=c.value[0], lte=c.value[1]))
        if c.kind == "has_id":
            return m.HasIdCondition(has_id=c.value)
        return m.HasVectorCondition(has_vector=c.value)
    must, must_not = ([cond(c) for c in cs] for cs in clauses)
    return m.Filter(must=must or None, must_not=must_not or None)


def _translate(fn):
    """Server failures become StoreErrors that say what to check."""

    @functools.wraps(fn)
    def wrapper(self, *args, **kwargs):
        try:
            return fn(self, *args, **kwargs)
        except StoreError:
            raise
        except Exception as exc:
            from qdrant_client.http.exceptions import ResponseHandlingException, UnexpectedResponse

            where = self.where
            if isinstance(exc, UnexpectedResponse):
                if exc.status_code in (401, 403):
                    raise StoreError(f"Qdrant at {where} refused the API key (HTTP {exc.status_code}); "
                                     "check --api-key / QDRANT_API_KEY") from exc
                raise StoreError(f"Qdrant at {where} answered HTTP {exc.status_code}: {exc.content[:200]!r}") from exc
            if "timeout" in repr(exc).lower():
                raise StoreError(f"Qdrant at {where} did not answer within {self.timeout} s; is it overloaded? "
                                 "(retry, or raise the timeout)") from exc
            if isinstance(exc, ResponseHandlingException) or "Connect" in type(exc).__name__:
                raise StoreError(f"Qdrant server {where} is unreachable ({exc}); is it running? "
                                 "(docker compose up -d)") from exc
            if isinstance(exc, (ValueError, KeyError)) and "Collection" in str(exc) and "not found" in str(exc):
                raise StoreError(f"no collection at {where}: {exc}") from exc
            raise
    return wrapper


class ServerStore:
    """VectorStore over qdrant-client."""

    def __init__(self, url: str | None = None, api_key: str | None = None, location: str | None = None,
                 path: str | None = None, timeout: int = 30):
        from qdrant_client import QdrantClient

        self.timeout = timeout
        if url:
            self.client = QdrantClient(url=url, api_key=api_key, timeout=timeout, https=url.startswith("https"))
            self.where = url
        elif path:
            self.client = QdrantClient(path=path)
            self.where = path
        else:
            self.client = QdrantClient(location=location or ":memory:")
            self.where = location or ":memory:"

    @_translate
    def create_collection(self, name: str, vectors: dict[str, int], shards: int = 1, replication_factor: int = 1) -> None:
        m = _m()
        if self.client.collection_exists(name):
            check_vectors(name, self.collection_vectors(name), vectors)
            return
        self.client.create_collection(
            name, vectors_config={n: m.VectorParams(size=d, distance=m.Distance.COSINE) for n, d in vectors.items()},
            shard_number=shards, replication_factor=replication_factor)
        schema = {"keyword": m.PayloadSchemaType.KEYWORD, "integer": m.PayloadSchemaType.INTEGER}
        import warnings

        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # local mode says payload indexes have no effect there
            for fld, kind in INDEXED_FIELDS.items():
                self.client.create_payload_index(name, field_name=fld, field_schema=schema[kind])

    @_translate
    def collection_vectors(self, name: str) -> dict[str, int]:
        info = self.client.get_collection(name)
        return {n: p.size for n, p in info.config.params.vectors.items()}

    @_translate
    def collections(self) -> list[str]:
        return sorted(c.name for c in self.client.get_collections().collections)

    @_translate
    def collection_exists(self, name: str) -> bool:
        return self.client.collection_exists(name)

    @_translate
    def drop_collection(self, name: str) -> None:
        self.client.delete_collection(name)

    @_translate
    def upsert(self, collection: str, points: Sequence[PointData]) -> None:
        m = _m()
        check_points(collection, self.collection_vectors(collection), points)
        structs = [m.PointStruct(id=p.id, vector={n: as_list(v) for n, v in p.vectors.items()}, payload=p.payload)
                   for p in points]
        if structs:
            self.client.upsert(collection, points=structs, wait=True)

    @_translate
    def delete(self, collection: str, ids: Sequence[str]) -> None:
        if ids:
            self.client.delete(collection, points_selector=_m().PointIdsList(points=list(ids)), wait=True)

    @_translate
    def retrieve(self, collection: str, ids: Sequence[str], with_vectors: bool = False,
                 with_payload: bool = True) -> list[Found]:
        recs = self.client.retrieve(collection, ids=list(ids), with_payload=with_payload, with_vectors=with_vectors)
        by_id = {str(r.id): r for r in recs}
        return [Found(i, 1.0, by_id[i].payload or {}, by_id[i].vector if with_vectors else None) for i in ids if i in by_id]

    @staticmethod
    def _found(points, with_vectors: bool = False) -> list[Found]:
        return [Found(str(p.id), float(p.score), p.payload or {}, p.vector if with_vectors else None) for p in points]

    @_translate
    def query(self, collection: str, spec: QuerySpec) -> list[Found]:
        res = self.client.query_points(collection, query=as_list(spec.vector), using=spec.using,
                                       query_filter=client_filter(spec.filter), limit=spec.k,
                                       with_payload=spec.with_payload, with_vectors=spec.with_vectors)
        return self._found(res.points, spec.with_vectors)

    @_translate
    def query_batch(self, collection: str, specs: Sequence[QuerySpec]) -> list[list[Found]]:
        m = _m()
        reqs = [m.QueryRequest(query=as_list(s.vector), using=s.using, filter=client_filter(s.filter), limit=s.k,
                               with_payload=s.with_payload, with_vector=s.with_vectors) for s in specs]
        res = self.client.query_batch_points(collection, requests=reqs)
        return [self._found(r.points, s.with_vectors) for r, s in zip(res, specs)]

    @_translate
    def recommend(self, collection, positive, negative, using, k, flt=SearchFilter()) -> list[Found]:
        m = _m()
        q = m.RecommendQuery(recommend=m.RecommendInput(positive=[as_list(v) for v in positive],
                                                        negative=[as_list(v) for v in negative],
                                                        strategy=m.RecommendStrategy.BEST_SCORE))
        res = self.client.query_points(collection, query=q, using=using, query_filter=client_filter(flt), limit=k,
                                       with_payload=True)
        return self._found(res.points)

    @_translate
    def count(self, collection: str, flt: SearchFilter | None = None) -> int:
        return self.client.count(collection, count_filter=client_filter(flt), exact=True).count

    def scroll(self, collection: str, batch: int = 1000, with_vectors: bool = False,
               flt: SearchFilter | None = None) -> Iterator[Found]:
        offset = None
        while True:
            recs, offset = self.client.scroll(collection, limit=batch, offset=offset, with_payload=True,
                                              with_vectors=with_vectors, scroll_filter=client_filter(flt))
            for r in recs:
                yield Found(str(r.id), 1.0, r.payload or {}, r.vector if with_vectors else None)
            if offset is None:
                return

    @_translate
    def snapshot(self, collection: str, dest=None) -> str:
        """A server-side snapshot (Qdrant keeps it; download it from the server's snapshot API)."""
        if self.where == ":memory:" or not self.where.startswith("http"):
            raise StoreError("snapshots need a Qdrant server; qdrant-client's local mode has none")
        desc = self.client.create_snapshot(collection, wait=True)
        return desc.name

    @_translate
    def restore(self, snapshot: str, name: str) -> str:
        if not self.where.startswith("http"):
            raise StoreError("snapshot restore needs a Qdrant server; qdrant-client's local mode has none")
        self.client.recover_snapshot(name, location=snapshot, wait=True)
        return name

    def finalize(self, collection: str) -> None:
        """The server indexes in the background; nothing to force."""

    @_translate
    def set_alias(self, alias: str, collection: str) -> None:
        m = _m()
        ops = []
        if self.resolve_alias(alias) is not None:
            ops.append(m.DeleteAliasOperation(delete_alias=m.DeleteAlias(alias_name=alias)))
        ops.append(m.CreateAliasOperation(create_alias=m.CreateAlias(collection_name=collection, alias_name=alias)))
        self.client.update_collection_aliases(change_aliases_operations=ops)  # one atomic request

    @_translate
    def resolve_alias(self, alias: str) -> str | None:
        for a in self.client.get_aliases().aliases:
            if a.alias_name == alias:
                return a.collection_name
        return None

    def release(self, collection: str) -> None:
        """Nothing to let go of: the server owns its shards."""

    def close(self) -> None:
        self.client.close()
