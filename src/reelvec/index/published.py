"""Read-only published copies of embedded collections: many readers, one writer, no locks.

A Qdrant Edge shard belongs to one process (it locks its WAL) and even a read-only load rewrites
files inside it, so readers cannot open the writer's shard. Instead, when the writer moves the
alias to a collection it *publishes* it once: ``<store>/published/<collection>/`` holds the
vectors as float32 matrices (memory-mapped by readers, so any number of processes share one copy
in the page cache), the payloads as JSON Lines with a row-offset table, and the filterable fields
as columns. The folder is written to a temp name and renamed, so a reader sees all of it or none.

`PublishedStore` implements the read half of `VectorStore` over these copies with exact search
(every filter is a mask over all rows before ranking, so `k` hits come back whenever `k` exist;
results equal Qdrant's exact search, checked by the congruence suite). It writes nothing, and it
follows the alias: after a reindex moves ``movies``, the next query reads the new collection.

Cost: one more copy of the vectors on disk (about 90 MB for 11k movies x 1,920 floats), written
in about a second after the collection is verified.
"""
from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from reelvec.errors import StoreError
from reelvec.index.base import Found, QuerySpec, SearchFilter, filter_clauses

logger = logging.getLogger(__name__)

FORMAT = 1
PUBLISHED = "published"
COLUMNS = ("genres", "year", "original_language", "tmdb_id", "title", "vote_count", "director", "cast")


def published_dir(root: str | Path, collection: str) -> Path:
    return Path(root) / PUBLISHED / collection


def publish(root: str | Path, collection: str, vectors: dict[str, int], points: Iterator[Found]) -> Path:
    """Write the published copy of `collection` from its points (with vectors); idempotent."""
    target = published_dir(root, collection)
    if (target / "meta.json").exists():
        try:
            _Copy(target).close()  # intact: nothing to do
            return target
        except StoreError as exc:
            logger.warning("%s; publishing it again", exc)
    tmp = target.with_name(f".{collection}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    ids, offsets, cols = [], [0], {c: [] for c in COLUMNS}
    mats: dict[str, list] = {n: [] for n in vectors}
    with open(tmp / "payload.jsonl", "wb") as fh:
        for f in points:
            ids.append(f.id)
            line = json.dumps(f.payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
            fh.write(line)
            offsets.append(offsets[-1] + len(line))
            for c in COLUMNS:
                cols[c].append(f.payload.get(c))
            for n, d in vectors.items():
                v = f.vec.get(n)
                mats[n].append(np.asarray(v, np.float32) if v is not None and len(v) == d else None)
    from reelvec.ingest.franchise import title_words

    # title words for `similar`'s title signal, tokenised once here rather than by every reader
    # (space-joined: strings load faster than nested lists)
    words = [title_words(t or "") for t in cols["title"]]
    cols["title_words"] = [" ".join(w) for w, _ in words]
    cols["head_words"] = [" ".join(h) for _, h in words]
    for n, d in vectors.items():
        has = np.array([v is not None for v in mats[n]], bool)
        m = np.zeros((len(ids), d), np.float32)
        for i, v in enumerate(mats[n]):
            if v is not None:
                m[i] = v / max(float(np.linalg.norm(v)), 1e-12)  # cosine: rows unit-length, like Qdrant
        np.save(tmp / f"vec-{n}.npy", m)
        np.save(tmp / f"has-{n}.npy", has)
    np.save(tmp / "offsets.npy", np.array(offsets, np.int64))
    (tmp / "columns.json").write_text(json.dumps({"ids": ids, **cols}, ensure_ascii=False))
    (tmp / "meta.json").write_text(json.dumps({"format": FORMAT, "collection": collection, "vectors": vectors,
                                               "count": len(ids)}))
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    logger.info("published %s (%d points) for readers", collection, len(ids))
    return target


class _Copy:
    """One published collection, opened for reading (memory-mapped)."""

    def __init__(self, folder: Path):
        try:
            self.meta = json.loads((folder / "meta.json").read_text())
            cols = json.loads((folder / "columns.json").read_text())
            self.offsets = np.load(folder / "offsets.npy")
            self.vectors = {n: np.asarray(np.load(folder / f"vec-{n}.npy", mmap_mode="r"))  # plain views of the maps
                            for n in self.meta["vectors"]}
            self.has = {n: np.load(folder / f"has-{n}.npy") for n in self.meta["vectors"]}
            self._payload = open(folder / "payload.jsonl", "rb")  # kept open: survives a prune
        except (OSError, ValueError, KeyError) as exc:
            raise StoreError(f"published copy {folder} is unreadable ({exc}); run `reelvec build` to publish "
                             "the live collection again") from exc
        self.ids: list[str] = cols.pop("ids")
        n = self.meta.get("count")
        sizes = {len(self.ids), len(self.offsets) - 1, *(len(m) for m in self.vectors.values()),
                 *(len(h) for h in self.has.values())}
        payload_bytes = os.fstat(self._payload.fileno()).st_size
        if sizes != {n} or payload_bytes != int(self.offsets[-1]):
            self._payload.close()
            raise StoreError(f"published copy {folder} is damaged (expected {n} points, found sizes {sorted(sizes)}, "
                             f"payload {payload_bytes} of {int(self.offsets[-1])} bytes); run `reelvec build` to "
                             "publish the live collection again")
        self.row = {pid: i for i, pid in enumerate(self.ids)}
        self.cols = cols
        self.year = np.array([y if isinstance(y, int) else -(1 << 30) for y in cols["year"]], np.int64)
        self._genres: dict[str, np.ndarray] = {}
        self._langs: dict[str, np.ndarray] = {}

    def payload(self, i: int) -> dict:
        start, end = int(self.offsets[i]), int(self.offsets[i + 1])
        return json.loads(os.pread(self._payload.fileno(), end - start, start))  # thread-safe: no seek

    def row_vectors(self, i: int) -> dict:
        """Row i's vectors as float32 arrays (unit length), only those the point has."""
        return {n: np.array(m[i]) for n, m in self.vectors.items() if self.has[n][i]}

    def _match(self, key: str, value) -> np.ndarray:
        if key == "genres":
            if value not in self._genres:
                self._genres[value] = np.array([value in (g or ()) for g in self.cols["genres"]], bool)
            return self._genres[value]
        if key == "original_language":
            if value not in self._langs:
                self._langs[value] = np.array([x == value for x in self.cols["original_language"]], bool)
            return self._langs[value]
        raise StoreError(f"published copies cannot filter on {key!r}")

    def mask(self, flt: SearchFilter | None) -> np.ndarray:
        ok = np.ones(len(self.ids), bool)
        clauses = filter_clauses(flt)
        if clauses is None:
            return ok
        for negate, conds in ((False, clauses[0]), (True, clauses[1])):
            for c in conds:
                if c.kind == "any":
                    m = np.zeros(len(self.ids), bool)
                    for v in c.value:
                        m |= self._match(c.key, v)
                elif c.kind == "value":
                    m = self._match(c.key, c.value)
                elif c.kind == "range":
                    lo, hi = c.value
                    m = np.ones(len(self.ids), bool)
                    if lo is not None:
                        m &= self.year >= lo
                    if hi is not None:
                        m &= self.year <= hi
                    m &= self.year > -(1 << 30)  # no year: a range never matches (as in Qdrant)
                elif c.kind == "has_id":
                    m = np.zeros(len(self.ids), bool)
                    m[[self.row[i] for i in c.value if i in self.row]] = True
                else:
                    m = self.has.get(c.value, np.zeros(len(self.ids), bool))
                ok &= ~m if negate else m
        return ok

    def close(self) -> None:
        self._payload.close()


class PublishedStore:
    """The read half of `VectorStore` over ``<root>/published`` and ``<root>/aliases.json``.
    Opening it takes no lock and reading it writes nothing."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._copies: dict[str, _Copy] = {}
        self._aliases: tuple[int, dict] | None = None

    # ------------------------------------------------------------------ collections and aliases
    def collections(self) -> list[str]:
        base = self.root / PUBLISHED
        return sorted(p.name for p in base.iterdir() if (p / "meta.json").exists()) if base.is_dir() else []

    def collection_exists(self, name: str) -> bool:
        return (published_dir(self.root, name) / "meta.json").exists()

    def collection_vectors(self, name: str) -> dict[str, int]:
        return dict(self._copy(name).meta["vectors"])

    def resolve_alias(self, alias: str) -> str | None:
        path = self.root / "aliases.json"
        try:
            stamp = path.stat().st_mtime_ns
        except FileNotFoundError:
            return None
        if self._aliases is None or self._aliases[0] != stamp:
            try:
                data = json.loads(path.read_text())
            except (OSError, ValueError) as exc:
                raise StoreError(f"{path} is unreadable ({exc}); rerun `reelvec build` to point the alias again") from exc
            if not isinstance(data, dict):
                raise StoreError(f"{path} is not a JSON object; rerun `reelvec build` to point the alias again")
            self._aliases = (stamp, data)
        return self._aliases[1].get(alias)

    def _copy(self, name: str) -> _Copy:
        c = self._copies.get(name)
        if c is None:
            folder = published_dir(self.root, name)
            if not (folder / "meta.json").exists():
                raise StoreError(f"collection {name!r} has no published copy in {self.root}; run `reelvec build` "
                                 "(it publishes the live collection for readers)")
            c = self._copies[name] = _Copy(folder)
        return c

    # ------------------------------------------------------------------ reads
    def retrieve(self, collection: str, ids: Sequence[str], with_vectors: bool = False,
                 with_payload: bool = True) -> list[Found]:
        c = self._copy(collection)
        out = []
        for pid in ids:
            i = c.row.get(pid)
            if i is None:
                continue
            out.append(Found(pid, 1.0, c.payload(i) if with_payload else {}, c.row_vectors(i) if with_vectors else None))
        return out

    def _top(self, c: _Copy, rows: np.ndarray, s: np.ndarray, k: int, with_vectors: bool = False,
             with_payload: bool = True) -> list[Found]:
        """The best `k` of candidate `rows` scored `s`."""
        if len(rows) == 0:
            return []
        if len(rows) > k:
            part = np.argpartition(-s, k - 1)[:k]
            rows, s = rows[part], s[part]
        order = np.lexsort((rows, -s))  # best first; ties by row, stable across calls
        return [Found(c.ids[int(rows[j])], float(s[j]), c.payload(int(rows[j])) if with_payload else {},
                      c.row_vectors(int(rows[j])) if with_vectors else None) for j in order]

    def query(self, collection: str, spec: QuerySpec) -> list[Found]:
        c = self._copy(collection)
        if spec.using not in c.vectors:
            raise StoreError(f"collection {collection} has no vector {spec.using!r}")
        q = np.asarray(spec.vector, np.float32)
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        rows = np.flatnonzero(c.mask(spec.filter) & c.has[spec.using])
        M = c.vectors[spec.using]
        # a selective filter scores only its rows; otherwise one pass over the whole map is cheaper
        s = M[rows] @ q if len(rows) * 4 < len(M) else (M @ q)[rows]
        return self._top(c, rows, s, spec.k, spec.with_vectors, spec.with_payload)

    def query_batch(self, collection: str, specs: Sequence[QuerySpec]) -> list[list[Found]]:
        return [self.query(collection, s) for s in specs]

    def recommend(self, collection: str, positive, negative, using: str, k: int,
                  flt: SearchFilter = SearchFilter()) -> list[Found]:
        """Qdrant's best-score strategy: a candidate's score is the sigmoid of its best positive
        similarity, or minus the sigmoid of its best negative one when that is higher."""
        c = self._copy(collection)
        m = c.vectors[using]

        def best(vs) -> np.ndarray:
            if not len(vs):
                return np.full(len(c.ids), -np.inf, np.float32)
            q = np.asarray(vs, np.float32)
            q = q / np.maximum(np.linalg.norm(q, axis=1, keepdims=True), 1e-12)
            return (m @ q.T).max(axis=1)
        pos, neg = best(positive), best(negative)
        pos, neg = np.maximum(pos, -1e30), np.maximum(neg, -1e30)  # no negatives: -inf would make nan below
        sig = lambda x: 0.5 * (x / (1.0 + np.abs(x)) + 1.0)  # Qdrant scaled_fast_sigmoid
        scores = np.where(pos > neg, sig(pos), -sig(neg))
        rows = np.flatnonzero(c.mask(flt) & c.has[using])
        return self._top(c, rows, scores[rows], k)

    def count(self, collection: str, flt: SearchFilter | None = None) -> int:
        return int(self._copy(collection).mask(flt).sum())

    def scroll(self, collection: str, batch: int = 1000, with_vectors: bool = False,
               flt: SearchFilter | None = None) -> Iterator[Found]:
        c = self._copy(collection)
        for i in np.flatnonzero(c.mask(flt)):
            i = int(i)
            yield Found(c.ids[i], 1.0, c.payload(i), c.row_vectors(i) if with_vectors else None)

    def columns(self, collection: str) -> dict[str, list]:
        """Filterable fields and titles of every point, by column (``ids`` first): what a title
        index needs, without reading a payload."""
        c = self._copy(collection)
        return {"ids": c.ids, **c.cols}

    def vectors_of(self, collection: str, ids: Sequence[str], name: str) -> np.ndarray:
        """Vector `name` of each point in `ids` as one (len(ids), dim) array of unit rows, zero where
        a point has no such vector (or is unknown): a blended query rescores its candidates with one
        gather instead of reading each point back."""
        c = self._copy(collection)
        if name not in c.vectors:
            raise StoreError(f"collection {collection} has no vector {name!r}")
        rows = np.array([c.row.get(i, -1) for i in ids], np.int64)
        ok = rows >= 0
        out = np.zeros((len(ids), c.vectors[name].shape[1]), np.float32)
        out[ok] = c.vectors[name][rows[ok]]
        out[ok & ~c.has[name][np.maximum(rows, 0)]] = 0.0
        return out

    def fields_of(self, collection: str, ids: Sequence[str], names: Sequence[str]) -> list[dict] | None:
        """Payload fields kept as columns (genres, director, cast, ...) of each point, without
        decoding a payload; None when this copy was published without one of them."""
        c = self._copy(collection)
        if any(n not in c.cols for n in names):
            return None
        out = []
        for i in ids:
            r = c.row.get(i)
            out.append({} if r is None else {n: c.cols[n][r] for n in names})
        return out

    # ------------------------------------------------------------------ writes: not here
    def _read_only(self, *args, **kwargs):
        raise StoreError(f"{self.root} is opened read-only (published copies); writes go through the "
                         "embedded store of a writer: `reelvec build` / `reindex`")

    create_collection = drop_collection = upsert = delete = set_alias = finalize = restore = _read_only

    def snapshot(self, collection: str, dest: str | Path) -> str:
        return self._read_only()

    def close(self) -> None:
        for c in self._copies.values():
            c.close()
        self._copies.clear()

