"""Embedded backend on Qdrant Edge: real Qdrant segments, HNSW and payload indexes in-process.

Layout of a store folder (Qdrant Edge has no aliases or collection list, so reelvec keeps them)::

    <store>/aliases.json              {"movies": "movies_<model>_<time>"}, replaced with os.replace
    <store>/collections/<name>/       one EdgeShard per collection
    <store>/collections/<name>.json   {"vectors": {"fused": 256, ...}} written when created

A Qdrant Edge shard rewrites files inside itself as it loads, *before* its own WAL lock refuses
a second process, so `EdgeStore` first takes ``<store>/collections/<name>.lock`` (an OS file lock,
`reelvec.locks`): a second process is refused (or waits, ``wait`` seconds) without touching
the shard. Shard files are memory-mapped and preallocated (the WAL in 32 MiB pieces), so a full
disk would kill the process with SIGBUS: every write first checks the free space it needs.
"""
from __future__ import annotations

import json
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

from reelvec.errors import NoRoomError, StoreError
from reelvec.fsutil import atomic_path, atomic_write_json
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

INDEXING_THRESHOLD_KB = 10_000  # Qdrant's default: segments above this size get an HNSW index
GRAPHS = ("fused",)  # vectors whose HNSW graph the shard builds: the one the writer's own queries use
# (similar's candidates and hubness on the fused vector); readers answer text and poster search from
# the published copy, so graphs on text/image were built and never read (finalize 7.7 s -> 2.6 s, 11k)
WAL_HEADROOM = 2 * 32 << 20  # a write may fill the WAL's current 32 MiB piece and start the next


def point_bytes(points: Sequence[PointData]) -> int:
    """About how many bytes a shard needs for `points` (WAL, segment and its indexes: x3)."""
    return sum(3 * (sum(4 * len(v) for v in p.vectors.values()) + 2 * len(json.dumps(p.payload, default=str)))
               for p in points)


def _edge():
    import qdrant_edge

    return qdrant_edge


def edge_filter(f: SearchFilter | None):
    """SearchFilter -> qdrant_edge.Filter (None when there is nothing to filter)."""
    clauses = filter_clauses(f)
    if clauses is None:
        return None
    q = _edge()

    def cond(c):
        if c.kind == "any":
            return q.FieldCondition(c.key, match=q.MatchAny(c.value))
        if c.kind == "value":
            return q.FieldCondition(c.key, match=q.MatchValue(c.value))
        if c.kind == "range":
            lo, hi = c.value
            return q.FieldCondition(c.key, range=q.RangeFloat(gte=None if lo is None else float(lo),
                                                              lte=None if hi is None else float(hi)))
        if c.kind == "has_id":
            return q.HasIdCondition(set(c.value))
        return q.HasVectorCondition(c.value)
    must, must_not = ([cond(c) for c in cs] for cs in clauses)
    return q.Filter(must=must or None, must_not=must_not or None)


class EdgeStore:
    """VectorStore over Qdrant Edge shards in one folder."""

    def __init__(self, root: str | Path, wait: float = 0.0):
        from reelvec.locks import ShardLocks

        self.root = Path(root)
        (self.root / "collections").mkdir(parents=True, exist_ok=True)
        self._shards: dict[str, object] = {}
        self._locks = ShardLocks(wait)

    def _lock(self, name: str) -> None:
        """Take collection `name`'s shard lock (before anything opens the shard)."""
        self._dir(name)  # the name is checked first
        self._locks.take(self.root / "collections" / f"{name}.lock", f"collection {name}")

    def _room(self, need: int, what: str) -> None:
        """Refuse a write the disk has no room for (a shard would die of SIGBUS half way)."""
        from reelvec.fsutil import free_bytes

        free = free_bytes(self.root)
        if free < need + WAL_HEADROOM:
            raise NoRoomError(f"disk full: {self.root} has {free / 2**20:.0f} MiB free, {what} needs about "
                             f"{(need + WAL_HEADROOM) / 2**20:.0f} MiB; free some space and run it again "
                             "(nothing was written)")

    # ------------------------------------------------------------------ collections
    def _dir(self, name: str) -> Path:
        if not name or "/" in name or name.startswith("."):
            raise StoreError(f"bad collection name {name!r}")
        return self.root / "collections" / name

    def _meta(self, name: str) -> Path:
        return self.root / "collections" / f"{name}.json"

    def create_collection(self, name: str, vectors: dict[str, int], shards: int = 1, replication_factor: int = 1) -> None:
        q = _edge()
        if self._meta(name).exists():
            check_vectors(name, self.collection_vectors(name), vectors)
            return
        path = self._dir(name)
        self._lock(name)
        self._room(0, f"creating collection {name}")
        if path.exists():
            shutil.rmtree(path)  # a half-created shard without its metadata file
        # no HNSW building while a bulk load is running (it competed with the upserts for the two
        # cores and slowed them ~30x at 45k points); `finalize` turns indexing on and builds it once
        cfg = q.EdgeConfig(vectors=self._vector_params(vectors, GRAPHS),
                           optimizers=q.EdgeOptimizersConfig(indexing_threshold=0))
        shard = q.EdgeShard.create(str(path), cfg)
        schema = {"keyword": q.PayloadSchemaType.Keyword, "integer": q.PayloadSchemaType.Integer}
        for fld, kind in INDEXED_FIELDS.items():
            shard.update(q.UpdateOperation.create_field_index(fld, schema[kind]))
        shard.flush()
        self._shards[name] = shard
        atomic_write_json(self._meta(name), {"vectors": vectors, "graphs": list(GRAPHS)}, indent=None)

    @staticmethod
    def _vector_params(vectors: dict[str, int], graphs: tuple[str, ...] | None = None):
        """Vector params: an HNSW graph only for the vectors in `graphs` (None: every vector, as
        collections made before `GRAPHS` have); the others keep no graph (exact scans; readers
        answer from the published copy anyway), the 1280-d image vector on disk."""
        q = _edge()
        out = {}
        for n, d in vectors.items():
            if graphs is None or n in graphs:
                out[n] = q.EdgeVectorParams(size=d, distance=q.Distance.Cosine)
            else:
                out[n] = q.EdgeVectorParams(size=d, distance=q.Distance.Cosine, on_disk=d >= 1000,
                                            hnsw_config=q.HnswIndexConfig(m=0, ef_construct=100,
                                                                          full_scan_threshold=10_000))
        return out

    def _graphs(self, name: str) -> tuple[str, ...] | None:
        """The vectors collection `name` keeps HNSW graphs for (None: all, an older collection)."""
        try:
            g = json.loads(self._meta(name).read_text()).get("graphs")
        except FileNotFoundError as exc:
            raise StoreError(f"no collection {name!r} in {self.root}") from exc
        return tuple(g) if g is not None else None

    def collection_vectors(self, name: str) -> dict[str, int]:
        try:
            return json.loads(self._meta(name).read_text())["vectors"]
        except FileNotFoundError as exc:
            raise StoreError(f"no collection {name!r} in {self.root}") from exc

    def collections(self) -> list[str]:
        return sorted(p.stem for p in (self.root / "collections").glob("*.json"))

    def collection_exists(self, name: str) -> bool:
        return self._meta(name).exists()

    def drop_collection(self, name: str) -> None:
        """Remove a collection, its shard and its published copy (refused while another process
        has the shard open)."""
        self._lock(name)
        shard = self._shards.pop(name, None)
        if shard is not None:
            shard.close()
        self._meta(name).unlink(missing_ok=True)
        shutil.rmtree(self._dir(name), ignore_errors=True)
        from reelvec.index.published import published_dir

        shutil.rmtree(published_dir(self.root, name), ignore_errors=True)  # readers keep their open maps
        lock = self.root / "collections" / f"{name}.lock"
        lock.unlink(missing_ok=True)
        self._locks.release(lock)

    def _shard(self, name: str):
        shard = self._shards.get(name)
        if shard is None:
            if not self._meta(name).exists():
                raise StoreError(f"no collection {name!r} in {self.root}; build it with `reelvec build`")
            self._lock(name)
            self._room(0, f"opening collection {name} (its write-ahead log is preallocated)")
            try:
                shard = _edge().EdgeShard.load(str(self._dir(name)))
            except Exception as exc:
                if "WouldBlock" in str(exc):
                    raise StoreError(
                        f"store {self.root} (collection {name}) is locked by another process; wait for it "
                        "to finish or pass --store elsewhere") from exc
                raise StoreError(f"cannot open collection {name} in {self.root}: {exc}") from exc
            self._shards[name] = shard
        return shard

    # ------------------------------------------------------------------ points
    def upsert(self, collection: str, points: Sequence[PointData]) -> None:
        q = _edge()
        check_points(collection, self.collection_vectors(collection), points)
        pts = [q.Point(p.id, {n: as_list(v) for n, v in p.vectors.items()}, p.payload) for p in points]
        if pts:
            shard = self._shard(collection)
            self._room(point_bytes(points) + self._copy_bytes(collection, len(points)),
                       f"writing {len(points)} point(s) to {collection}")
            shard.update(q.UpdateOperation.upsert_points(pts))
            self._patch_published(collection, upserts=[Found(p.id, 1.0, p.payload, p.vectors) for p in points])

    def delete(self, collection: str, ids: Sequence[str]) -> None:
        if ids:
            shard = self._shard(collection)
            self._room(self._copy_bytes(collection, 0), f"deleting from {collection}")
            shard.update(_edge().UpdateOperation.delete_points(list(ids)))
            self._patch_published(collection, deletes=list(ids))

    def _copy_bytes(self, collection: str, rows: int) -> int:
        """What a live edit of `rows` rows writes into `collection`'s published copy (0: none)."""
        from reelvec.index.publish import edit_bytes
        from reelvec.index.published import published_dir

        folder = published_dir(self.root, collection)
        try:
            meta = json.loads((folder / "meta.json").read_text())
        except (OSError, ValueError):
            return 0
        return edit_bytes(folder, meta, rows) if isinstance(meta, dict) and "vectors" in meta else 0

    def _patch_published(self, collection: str, upserts=(), deletes=()) -> None:
        """A published collection (the live one, or one kept for rollback) gets the same edit, so
        readers see it; a collection being bulk-loaded has no copy yet and costs one stat."""
        from reelvec.index.publish import patch
        from reelvec.index.published import published_dir

        if (published_dir(self.root, collection) / "meta.json").exists():
            self._shard(collection).flush()  # the shard holds the edit before readers are shown it
            patch(self.root, collection, upserts, deletes)

    def retrieve(self, collection: str, ids: Sequence[str], with_vectors: bool = False,
                 with_payload: bool = True) -> list[Found]:
        recs = self._shard(collection).retrieve(list(ids), with_payload=with_payload, with_vector=with_vectors)
        by_id = {str(r.id): r for r in recs}
        return [Found(i, 1.0, by_id[i].payload or {}, by_id[i].vector if with_vectors else None) for i in ids if i in by_id]

    def _request(self, spec: QuerySpec):
        q = _edge()
        return q.QueryRequest(limit=spec.k, query=q.Query.Nearest(as_list(spec.vector), using=spec.using),
                              filter=edge_filter(spec.filter), with_payload=spec.with_payload,
                              with_vector=spec.with_vectors)

    @staticmethod
    def _found(points, with_vectors: bool = False) -> list[Found]:
        return [Found(str(p.id), float(p.score), p.payload or {}, p.vector if with_vectors else None) for p in points]

    def query(self, collection: str, spec: QuerySpec) -> list[Found]:
        return self._found(self._shard(collection).query(self._request(spec)), spec.with_vectors)

    def query_batch(self, collection: str, specs: Sequence[QuerySpec]) -> list[list[Found]]:
        q = _edge()
        res = self._shard(collection).query_batch(q.QueryBatchRequest([self._request(s) for s in specs]))
        return [self._found(r, s.with_vectors) for r, s in zip(res, specs)]

    def recommend(self, collection, positive, negative, using, k, flt=SearchFilter()) -> list[Found]:
        q = _edge()
        query = q.Query.RecommendBestScore(q.RecommendQuery([as_list(v) for v in positive],
                                                            [as_list(v) for v in negative]), using=using)
        req = q.QueryRequest(limit=k, query=query, filter=edge_filter(flt), with_payload=True)
        return self._found(self._shard(collection).query(req))

    def count(self, collection: str, flt: SearchFilter | None = None) -> int:
        return self._shard(collection).count(_edge().CountRequest(exact=True, filter=edge_filter(flt)))

    def scroll(self, collection: str, batch: int = 1000, with_vectors: bool = False,
               flt: SearchFilter | None = None) -> Iterator[Found]:
        q = _edge()
        offset = None
        while True:
            recs, offset = self._shard(collection).scroll(
                q.ScrollRequest(offset=offset, limit=batch, with_payload=True, with_vector=with_vectors,
                                filter=edge_filter(flt)))
            for r in recs:
                yield Found(str(r.id), 1.0, r.payload or {}, r.vector if with_vectors else None)
            if offset is None:
                return

    def finalize(self, collection: str) -> None:
        """Build the HNSW graphs now (not on the first query) and make everything durable."""
        q = _edge()
        shard = self._shard(collection)
        shard.flush()
        shard.close()
        self._shards.pop(collection, None)
        cfg = q.EdgeConfig(vectors=self._vector_params(self.collection_vectors(collection), self._graphs(collection)),
                           optimizers=q.EdgeOptimizersConfig(indexing_threshold=INDEXING_THRESHOLD_KB))
        shard = q.EdgeShard.load(str(self._dir(collection)), cfg)
        self._shards[collection] = shard
        shard.optimize()
        shard.flush()

    # ------------------------------------------------------------------ snapshots
    def snapshot(self, collection: str, dest: str | Path) -> str:
        """A .tar.gz of the flushed shard folder and its metadata."""
        import tarfile

        shard = self._shard(collection)
        shard.flush()
        dest = Path(dest)
        dest.mkdir(parents=True, exist_ok=True)
        out = dest / f"{collection}.snapshot.tar.gz"
        with atomic_path(out) as tmp, tarfile.open(tmp, "w:gz") as tar:
            tar.add(self._meta(collection), arcname="collection.json")
            tar.add(self._dir(collection), arcname="shard", filter=lambda ti: None if ti.name.endswith(".lock") else ti)
        return str(out)

    def restore(self, snapshot: str | Path, name: str) -> str:
        """Unpack a snapshot as collection `name` (which must not exist)."""
        import tarfile

        if self._meta(name).exists():
            raise StoreError(f"collection {name} already exists in {self.root}; pick another name")
        target = self._dir(name)
        tmpdir = target.with_name(f".restore-{name}")
        shutil.rmtree(tmpdir, ignore_errors=True)
        try:
            with tarfile.open(snapshot, "r:gz") as tar:
                tar.extractall(tmpdir, filter="data")
        except (OSError, tarfile.TarError) as exc:
            shutil.rmtree(tmpdir, ignore_errors=True)
            raise StoreError(f"cannot read snapshot {snapshot}: {exc}") from exc
        os.replace(tmpdir / "shard", target)
        os.replace(tmpdir / "collection.json", self._meta(name))
        shutil.rmtree(tmpdir, ignore_errors=True)
        self.count(name)  # opens the shard: proves the snapshot is usable
        return name

    # ------------------------------------------------------------------ aliases
    def _aliases(self) -> dict[str, str]:
        path = self.root / "aliases.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, ValueError) as exc:
            raise StoreError(f"{path} is unreadable ({exc}); `reelvec rollback` or `reelvec build` writes it "
                             "again (or delete it and run `reelvec build`)") from exc
        if not isinstance(data, dict) or not all(isinstance(v, str) for v in data.values()):
            raise StoreError(f"{path} is not a JSON object of alias -> collection; delete it and run `reelvec build`")
        return data

    def publish(self, collection: str) -> Path:
        """Write the read-only copy readers open (see `reelvec.index.published`); idempotent."""
        from reelvec.index.publish import publish

        return publish(self.root, collection, self.collection_vectors(collection),
                       self.scroll(collection, batch=1000, with_vectors=True))

    def set_alias(self, alias: str, collection: str) -> None:
        """Publish `collection` for readers, then move the alias in one atomic file replace."""
        if not self._meta(collection).exists():
            raise StoreError(f"cannot point alias {alias} at missing collection {collection}")
        self.publish(collection)
        aliases = self._aliases() | {alias: collection}
        atomic_write_json(self.root / "aliases.json", aliases, indent=None)  # readers see old or new, never half

    def resolve_alias(self, alias: str) -> str | None:
        return self._aliases().get(alias)

    def release(self, collection: str) -> None:
        shard = self._shards.pop(collection, None)
        if shard is not None:
            shard.flush()
            shard.close()
        self._locks.release(self.root / "collections" / f"{collection}.lock")

    def close(self) -> None:
        for shard in self._shards.values():
            try:
                shard.flush()
                shard.close()
            except Exception:
                pass
        self._shards.clear()
        self._locks.release_all()
