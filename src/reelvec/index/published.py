"""Read-only published copies of embedded collections: many readers, one writer, no locks.

A Qdrant Edge shard belongs to one process (it locks its WAL) and even a read-only load rewrites
files inside it, so readers cannot open the writer's shard. Instead, when the writer moves the
alias to a collection it *publishes* it: ``<store>/published/<collection>/`` holds

* ``vec-<name>.f32``: the vectors as raw float32 rows (memory-mapped by readers, so any number of
  processes share one copy in the page cache) and ``payload.jsonl``: one JSON payload per row.
  Both are **append-only**: a row, once written, never changes while a reader may map it.
* ``gen-<g>.npz`` + ``columns-<g>.json`` + ``title-<g>.npz``: generation g's view of those rows:
  payload offsets, which rows have which vector, which rows are dead (deleted or replaced by a
  later row), the point ids and the filterable fields as columns, and the title similarity of
  the live rows (so a cold reader does not build it).
* ``meta.json``: the current generation and its row count, replaced atomically (``os.replace``).

A reader reads ``meta.json`` and then that generation's files, so it sees one whole generation.
A live edit (`patch`, run by the writer that holds the collection's lock) appends the new rows,
writes generation g+1 and then ``meta.json``; it keeps generation g for readers that just read
the old ``meta.json``. An update is an appended row plus the old row marked dead, so the copy
grows with edits until the next build publishes a fresh collection.

`PublishedStore` implements the read half of `VectorStore` over these copies with exact search
(every filter is a mask over all rows before ranking, so `k` hits come back whenever `k` exist;
results equal Qdrant's exact search, checked by the congruence suite). It writes nothing, and it
follows the alias and the generation: after a reindex moves ``movies`` or an edit publishes a new
generation, the next query (at most a second later) reads it.

Cost: one more copy of the vectors on disk (about 90 MB for 11k movies x 1,920 floats), written
in a second or two after the collection is verified; a live edit rewrites only the small
per-generation files (ids, offsets and columns: about 3 MB for 11k movies).
"""
from __future__ import annotations

import json
import logging
import os
import shutil
import time
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from reelvec.errors import StoreError
from reelvec.index.base import Found, QuerySpec, SearchFilter, filter_clauses

logger = logging.getLogger(__name__)

FORMAT = 2
PUBLISHED = "published"
COLUMNS = ("genres", "year", "original_language", "tmdb_id", "title", "vote_count", "director", "cast")
REFRESH_SECONDS = 1.0  # how often a reader looks for a newer generation of a copy it has open


def published_dir(root: str | Path, collection: str) -> Path:
    return Path(root) / PUBLISHED / collection


def _row_columns(payloads: Sequence[dict]) -> dict[str, list]:
    """The columns of some rows: the filterable fields, each title's words for `similar`'s title
    signal and its normalised form for title lookup (computed once here rather than by every
    reader; words space-joined: strings load faster than nested lists)."""
    from reelvec.ingest.franchise import title_words
    from reelvec.ingest.movie import normalise_title

    cols: dict[str, list] = {c: [p.get(c) for p in payloads] for c in COLUMNS}
    words = [title_words(t or "") for t in cols["title"]]
    cols["title_words"] = [" ".join(w) for w, _ in words]
    cols["head_words"] = [" ".join(h) for _, h in words]
    cols["norm_title"] = [normalise_title(t or "") for t in cols["title"]]  # the title index's keys
    return cols


def _append_rows(folder: Path, vectors: dict[str, int], rows: int, payload_end: int, points: Iterable[Found],
                 chunk: int = 2048) -> tuple[list[str], list[int], dict[str, list[bool]], list[dict]]:
    """Append `points` after the first `rows` rows (and `payload_end` payload bytes) of the copy
    in `folder`; anything past them (a crashed edit's leftovers) is overwritten. Returns the new
    rows' ids, payload end offsets, has-vector flags and payloads."""
    ids: list[str] = []
    ends: list[int] = []
    has: dict[str, list[bool]] = {n: [] for n in vectors}
    payloads: list[dict] = []
    fhs = {n: open(folder / f"vec-{n}.f32", "r+b" if (folder / f"vec-{n}.f32").exists() else "w+b") for n in vectors}
    pay = open(folder / "payload.jsonl", "r+b" if (folder / "payload.jsonl").exists() else "w+b")
    try:
        for n, fh in fhs.items():
            fh.seek(rows * vectors[n] * 4)
        pay.seek(payload_end)
        end = payload_end
        buf: dict[str, list] = {n: [] for n in vectors}

        def flush():
            for n, vs in buf.items():
                if vs:
                    fhs[n].write(np.asarray(vs, np.float32).tobytes())
                vs.clear()
        for f in points:
            ids.append(f.id)
            payloads.append(f.payload)
            line = json.dumps(f.payload, ensure_ascii=False, separators=(",", ":")).encode() + b"\n"
            pay.write(line)
            end += len(line)
            ends.append(end)
            for n, d in vectors.items():
                v = f.vec.get(n)
                ok = v is not None and len(v) == d
                a = np.asarray(v, np.float32) if ok else np.zeros(d, np.float32)
                buf[n].append(a / max(float(np.linalg.norm(a)), 1e-12) if ok else a)  # unit rows, like Qdrant
                has[n].append(ok)
            if len(buf[next(iter(vectors))]) >= chunk:
                flush()
        flush()
        for fh in (*fhs.values(), pay):
            fh.truncate()
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        for fh in (*fhs.values(), pay):
            fh.close()
    return ids, ends, has, payloads


def _write_generation(folder: Path, gen: int, meta: dict, offsets: np.ndarray, has: dict[str, np.ndarray],
                      dead: np.ndarray, columns: dict[str, list]) -> None:
    """Generation `gen`'s files, then meta.json pointing at it (the commit), then the generation
    before the previous one is removed (the previous one stays for readers that just read meta)."""
    from reelvec.ingest.franchise import TitleSimilarity

    tmp = folder / f".gen-{gen}.tmp.npz"
    np.savez(tmp, offsets=offsets, dead=dead, **{f"has-{n}": h for n, h in has.items()})
    os.replace(tmp, folder / f"gen-{gen}.npz")
    tmp = folder / f".columns-{gen}.tmp.json"
    tmp.write_text(json.dumps(columns, ensure_ascii=False))
    os.replace(tmp, folder / f"columns-{gen}.json")
    live = np.flatnonzero(~dead)  # what readers' title indexes hold, in their order
    words = [(columns["title_words"][i].split(), columns["head_words"][i].split()) for i in live]
    tmp = folder / f".title-{gen}.tmp.npz"
    np.savez(tmp, **TitleSimilarity([""] * len(live), words).to_arrays())
    os.replace(tmp, folder / f"title-{gen}.npz")
    tmp = folder / ".meta.tmp.json"
    tmp.write_text(json.dumps(meta | {"format": FORMAT, "generation": gen, "count": len(dead)}))
    os.replace(tmp, folder / "meta.json")
    for old in (*folder.glob("gen-*.npz"), *folder.glob("columns-*.json"), *folder.glob("title-*.npz")):
        g = old.stem.split("-", 1)[1]
        if g.isdigit() and int(g) < gen - 1:
            old.unlink(missing_ok=True)


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
    ids, ends, has, payloads = _append_rows(tmp, vectors, 0, 0, points)
    columns = {"ids": ids, **_row_columns(payloads)}
    _write_generation(tmp, 0, {"collection": collection, "vectors": vectors}, np.array([0, *ends], np.int64),
                      {n: np.array(h, bool) for n, h in has.items()}, np.zeros(len(ids), bool), columns)
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    logger.info("published %s (%d points) for readers", collection, len(ids))
    return target


def patch(root: str | Path, collection: str, upserts: Sequence[Found] = (), deletes: Sequence[str] = ()) -> int | None:
    """Apply a live edit to the published copy of `collection`: `upserts` (points with vectors)
    replace or add rows, `deletes` (point ids) remove them. Only the writer holding the
    collection's lock may call it. Returns the new generation (None: the collection has no copy)."""
    folder = published_dir(root, collection)
    if not (folder / "meta.json").exists():
        return None
    c = _Copy(folder)
    try:
        vectors, rows = c.meta["vectors"], len(c.ids)
        gone = set(deletes) | {f.id for f in upserts}
        dead = c.dead.copy()
        for pid in gone:
            r = c.row.get(pid)
            if r is not None:
                dead[r] = True
        ids, ends, has, payloads = _append_rows(folder, vectors, rows, int(c.offsets[-1]), upserts)
        columns = {"ids": c.ids + ids}
        for name, values in _row_columns(payloads).items():
            columns[name] = c.cols[name] + values
        gen = int(c.meta.get("generation", 0)) + 1
        _write_generation(folder, gen, c.meta, np.concatenate([c.offsets, np.array(ends, np.int64)]),
                          {n: np.concatenate([c.has[n], np.array(has[n], bool)]) for n in vectors},
                          np.concatenate([dead, np.zeros(len(ids), bool)]), columns)
    finally:
        c.close()
    logger.info("published %s generation %d: %d upserted, %d deleted", collection, gen, len(upserts), len(deletes))
    return gen


class _Copy:
    """One generation of a published collection, opened for reading (memory-mapped)."""

    def __init__(self, folder: Path, attempts: int = 3):
        for attempt in range(attempts):  # a writer may retire a generation between meta.json and its files
            try:
                self._open(folder)
                break
            except FileNotFoundError:
                if attempt == attempts - 1:
                    raise StoreError(f"published copy {folder} changed while it was opened {attempts} times; "
                                     "try again") from None
        self.folder = folder
        self.checked = time.monotonic()
        self.row = {pid: i for i, pid in enumerate(self.ids) if not self.dead[i]}
        self.year = np.array([y if isinstance(y, int) else -(1 << 30) for y in self.cols["year"]], np.int64)
        self._genres: dict[str, np.ndarray] = {}
        self._langs: dict[str, np.ndarray] = {}
        self.live_cols: dict[str, list] | None = None
        self.title_arrays: dict[str, np.ndarray] | None = None

    def _open(self, folder: Path) -> None:
        try:
            self.meta = json.loads((folder / "meta.json").read_text())
            if self.meta.get("format") != FORMAT:
                raise ValueError(f"format {self.meta.get('format')}, this reelvec reads format {FORMAT}")
            gen = int(self.meta.get("generation", 0))
            with np.load(folder / f"gen-{gen}.npz") as z:
                self.offsets, self.dead = z["offsets"], z["dead"]
                self.has = {n: z[f"has-{n}"] for n in self.meta["vectors"]}
            cols = json.loads((folder / f"columns-{gen}.json").read_text())
            n = int(self.meta["count"])
            self.vectors = {}
            for name, d in self.meta["vectors"].items():
                path = folder / f"vec-{name}.f32"
                if path.stat().st_size < n * d * 4:
                    raise StoreError(f"published copy {folder} is damaged ({path.name} holds fewer than {n} rows); "
                                     "run `reelvec build` to publish the live collection again")
                self.vectors[name] = (np.asarray(np.memmap(path, np.float32, "r", shape=(n, d))) if n
                                      else np.zeros((0, d), np.float32))  # plain views of the maps
            self._payload = open(folder / "payload.jsonl", "rb")  # kept open: survives a prune
        except FileNotFoundError:
            raise
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise StoreError(f"published copy {folder} is unreadable ({exc}); run `reelvec build` to publish "
                             "the live collection again") from exc
        self.ids: list[str] = cols.pop("ids")
        self.cols = cols
        sizes = {len(self.ids), len(self.offsets) - 1, len(self.dead), *(len(h) for h in self.has.values()),
                 *(len(c) for c in cols.values())}
        payload_bytes = os.fstat(self._payload.fileno()).st_size
        if sizes != {n} or payload_bytes < int(self.offsets[-1]):
            self._payload.close()
            raise StoreError(f"published copy {folder} is damaged (expected {n} points, found sizes {sorted(sizes)}, "
                             f"payload {payload_bytes} of {int(self.offsets[-1])} bytes); run `reelvec build` to "
                             "publish the live collection again")

    @property
    def generation(self) -> int:
        return int(self.meta.get("generation", 0))

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
        ok = ~self.dead
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
        if c is not None and time.monotonic() - c.checked > REFRESH_SECONDS:
            c.checked = time.monotonic()
            try:
                newer = json.loads((c.folder / "meta.json").read_text()).get("generation", 0) != c.generation
            except (OSError, ValueError, AttributeError):
                newer = False  # gone (pruned) or mid-replace: keep answering from the open generation
            if newer:  # a live edit published a new generation
                c.close()
                c = None
        if c is None:
            folder = published_dir(self.root, name)
            if not (folder / "meta.json").exists():
                raise StoreError(f"collection {name!r} has no published copy in {self.root}; run `reelvec build` "
                                 "(it publishes the live collection for readers)")
            c = self._copies[name] = _Copy(folder)
        return c

    def refresh(self, collection: str) -> None:
        """Read `collection`'s newest generation on the next call (a writer in this process just
        published one)."""
        c = self._copies.pop(collection, None)
        if c is not None:
            c.close()

    def title_arrays(self, collection: str) -> dict[str, np.ndarray] | None:
        """The title similarity of the live rows, as `TitleSimilarity.to_arrays` saved it with this
        generation (None for a copy published without it)."""
        c = self._copy(collection)
        if c.title_arrays is None:
            try:
                with np.load(c.folder / f"title-{c.generation}.npz") as z:
                    c.title_arrays = {k: z[k] for k in z.files}
            except (OSError, ValueError) as exc:
                logger.debug("no title arrays in %s (%s)", c.folder, exc)
                c.title_arrays = {}
        return c.title_arrays or None

    def generation(self, collection: str) -> int:
        """The generation of `collection`'s copy this store reads (a live edit adds one)."""
        return self._copy(collection).generation

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
        if not c.dead.any():
            return {"ids": c.ids, **c.cols}
        if c.live_cols is None:  # rows a live edit deleted or replaced are left out
            live = np.flatnonzero(~c.dead)
            c.live_cols = {name: [values[i] for i in live] for name, values in (("ids", c.ids), *c.cols.items())}
        return c.live_cols

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

