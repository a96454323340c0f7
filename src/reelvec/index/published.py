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
A live edit (`reelvec.index.publish.patch`, run by the writer that holds the home's writer lock) appends the new rows,
writes generation g+1 and then ``meta.json``; it keeps generation g for readers that just read
the old ``meta.json``. An update is an appended row plus the old row marked dead, so the copy
grows with edits until the next build publishes a fresh collection.

Writing lives in `reelvec.index.publish`, neighbour lists in `reelvec.index.neighbours`,
checksums in `reelvec.index.integrity` (every generation's meta.json records them; readers
check them on open). `PublishedStore` implements the read half of `VectorStore` over these copies with exact search
(every filter is a mask over all rows before ranking, so `k` hits come back whenever `k` exist;
results equal Qdrant's exact search, checked by the congruence suite). It writes nothing, and it
follows the alias and the generation: after a reindex moves ``movies`` or an edit publishes a new
generation, the next query (at most a second later) reads it.

Cost: one more copy of the vectors on disk (about 90 MB for 11k movies x 1,920 floats), written
in a second or two after the collection is verified; a live edit rewrites only the small
per-generation files (ids, offsets and columns: about 3 MB for 11k movies).
"""
from __future__ import annotations

import errno
import gc
import itertools
import json
import logging
import os
import time
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np

from reelvec import arrays, jsonutil
from reelvec.errors import StoreError
from reelvec.index.base import Found, QuerySpec, SearchFilter
from reelvec.index.integrity import _SEEN, FULL_CHECK_BYTES, answers_problem, check_file, check_meta, damaged
from reelvec.index.neighbours import KNN_PARTS
from reelvec.index.rowfilter import Allowed, RowFilter

logger = logging.getLogger(__name__)

FORMAT = 3  # 3: meta.json carries the checksums of every file and of itself
FORMATS_READ = (2, 3)  # 2: copies published before checksums (read with size checks only; a build republishes)
PUBLISHED = "published"
COLUMNS = ("genres", "year", "original_language", "tmdb_id", "title", "vote_count", "director", "cast", "series",
           "directors", "hub", "aliases")
KNN_VECTOR = "fused"  # the vector whose nearest neighbours each row keeps (what `similar` starts from)
ANN_VECTORS = ("fused", "text", "image")  # the vectors queries search: each gets an index in a large copy
CODED_VECTORS = ("fused",)  # vectors whose index also keeps each row's uint8 codes (1 byte a dimension: 244 MB
# at a million movies), what postings and selective filters are ranked with before exact rescoring
ANN_TAIL = 10_000  # rows a live edit may add after an index before it is extended (they are scanned exactly)
REFRESH_SECONDS = 1.0  # how often a reader looks for a newer generation of a copy it has open
PREAD_BYTES = 4 << 30  # a copy whose vectors pass 4 GiB gathers rows with pread, not through its map
# (`CopyView.gather`): at 1M movies (7.7 GB) the map had filled a reader's RSS to 4.0 GB at the same
# latency; at 100k-300k (0.8-2.3 GB) the map was 1-2 ms faster a `similar` (bench/RESULTS.md)
PREAD_MAX = 4096  # more rows than this at once: through the map (the largest exact scan is EXACT_ROWS)


def published_dir(root: str | Path, collection: str) -> Path:
    return Path(root) / PUBLISHED / collection


SHARED_COLUMNS = ("genres", "original_language", "director", "directors", "cast", "series")  # text: 1 and 1.0 stay apart


def _shared_values(cols: dict[str, list]) -> dict[str, list]:
    """`cols` with one object per distinct value (and list item) of `SHARED_COLUMNS`: a JSON
    parser makes a new string for every occurrence of a genre or an actor's name, 0.4 GB of a
    million-movie reader's 2.2 GB when warm (bench/RESULTS.md). Lists are shared read-only, as
    before. The garbage collector is held meanwhile (a million new lists set off full passes)."""
    paused = gc.isenabled()
    gc.disable()
    try:
        return _share(cols)
    finally:
        if paused:
            gc.enable()


def _share(cols: dict[str, list]) -> dict[str, list]:
    for name in SHARED_COLUMNS:
        values = cols.get(name)
        if not isinstance(values, list):
            continue
        one: dict = {}
        same = one.setdefault
        try:
            if any(type(v) is list for v in values):
                cols[name] = [list(map(same, v, v)) if type(v) is list else v for v in values]
            else:
                cols[name] = list(map(same, values, values))
        except TypeError:  # an unhashable value (a hand-edited payload): the column as it is
            logger.debug("column %s keeps its values unshared", name)
    return cols


def load_codes(folder: Path, rec: dict, n: int, d: int) -> tuple[np.ndarray, np.ndarray]:
    """(codes memory-mapped, scale) of ANN index record `rec` of copy `folder`, of `n` labels of
    dimension `d`; ValueError (or OSError) naming what is wrong with them. What readers, `reelvec
    verify` and an edit deciding whether to keep them all check."""
    scale = np.asarray(rec.get("scale"), np.float32)
    codes = np.asarray(np.load(folder / rec["codes"], mmap_mode="r", allow_pickle=False))  # a plain view
    if scale.shape != (2, d) or not np.isfinite(scale).all() or (scale[1] <= 0).any():
        raise ValueError(f"its scale in meta.json is {scale.shape}, not (2, {d}) finite")
    if codes.shape != (n, d) or codes.dtype != np.uint8:
        raise ValueError(f"it holds {codes.shape} {codes.dtype} codes, not ({n}, {d}) uint8")
    return codes, scale


class CopyView:
    """One generation of a published collection, opened for reading (memory-mapped).

    Opening checks the files this generation needs against the checksums in its meta.json:
    sizes always, the small files whole, the vectors and payloads block by block (every block
    of a copy up to FULL_CHECK_BYTES, else a sample; blocks checked before in this process are
    not read again, so a new generation after a live edit costs only its new bytes)."""

    def __init__(self, folder: Path, attempts: int = 3, check: str = "open"):
        last = None
        for attempt in range(attempts):  # a writer may retire a generation between meta.json and its files
            try:
                self._open(folder, check)
                break
            except FileNotFoundError as exc:
                try:
                    meta = (folder / "meta.json").read_bytes()
                except OSError:
                    meta = None
                if attempt == attempts - 1 or (meta is not None and meta == last):
                    if meta is not None and meta == last:  # the same meta twice: its files are really gone
                        raise damaged(folder, f"{Path(exc.filename or '?').name} is missing") from None
                    raise StoreError(f"published copy {folder} changed while it was opened {attempts} times; "
                                     "try again") from None
                last = meta
                time.sleep(0.05)
        self.folder = folder
        self.checked = time.monotonic()
        self.row = {pid: i for i, pid in enumerate(self.ids) if not self.dead[i]}
        self.filters = RowFilter(self.ids, self.dead, self.has, self.cols, self.row)
        self.live_cols: dict[str, list] | None = None
        self.title_arrays: dict[str, np.ndarray] | None = None
        self._neighbours: tuple[np.ndarray, ...] | None | bool = False  # False: not read yet
        self._answers: dict[str, np.ndarray] | None = None
        self._ann: dict = {}  # vector -> ann.Indexed, or None: no index
        self._answers_checked = -1.0  # when answers-<g>.npz was last looked for (a build adds it later)

    def _check(self, folder: Path, names: Sequence[str], mode: str) -> None:
        files = self.meta.get("files")
        if not files or mode == "none":
            return  # a copy published before checksums: sizes are still checked below
        sample = mode != "full" and sum(r["size"] for r in files.values()) > FULL_CHECK_BYTES
        for name in names:
            rec = files.get(name)
            if rec is None:
                raise damaged(folder, f"meta.json has no checksum for {name}")
            problem = check_file(folder, name, rec, sample=sample, seen=_SEEN)
            if problem:
                if problem.endswith("is missing") and name != "meta.json":
                    raise FileNotFoundError(errno.ENOENT, problem, str(folder / name))
                raise damaged(folder, problem)

    def verified(self, name: str) -> bool:
        """An optional file of this generation (title arrays, neighbour lists) matches its
        checksum (True for a copy without checksums); a mismatch is logged."""
        rec = (self.meta.get("files") or {}).get(name)
        if rec is None:
            return not self.meta.get("files")
        problem = check_file(self.folder, name, rec, seen=_SEEN)
        if problem:
            logger.warning("published copy %s: %s; not used (run `reelvec build` to publish it again)",
                           self.folder, problem)
        return problem is None

    def _open(self, folder: Path, check: str = "open") -> None:
        try:
            self.meta = json.loads((folder / "meta.json").read_text())
            if not isinstance(self.meta, dict):
                raise ValueError("meta.json is not a JSON object")
            if self.meta.get("format") not in FORMATS_READ:
                raise ValueError(f"format {self.meta.get('format')}, this reelvec reads formats {FORMATS_READ}")
            if self.meta.get("format") == FORMAT:
                check_meta(folder, self.meta)
            gen = int(self.meta.get("generation", 0))
            self._check(folder, [*(f"vec-{n}.f32" for n in self.meta["vectors"]), "payload.jsonl",
                                 f"gen-{gen}.npz", f"columns-{gen}.json"], check)
            with np.load(folder / f"gen-{gen}.npz") as z:
                self.offsets, self.dead = z["offsets"], z["dead"]
                self.has = {n: z[f"has-{n}"] for n in self.meta["vectors"]}
            cols = jsonutil.loads((folder / f"columns-{gen}.json").read_bytes())
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
            self._fds = {name: os.open(folder / f"vec-{name}.f32", os.O_RDONLY)  # what `gather` reads
                         for name in self.vectors} if n * 4 * sum(self.meta["vectors"].values()) > PREAD_BYTES else {}
        except (FileNotFoundError, StoreError):
            raise
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise StoreError(f"published copy {folder} is unreadable ({exc}); run `reelvec build` to publish "
                             "the live collection again") from exc
        if not isinstance(cols, dict) or not isinstance(cols.get("ids"), list):
            raise damaged(folder, f"columns-{gen}.json is not an object of columns")
        self.ids: list[str] = cols.pop("ids")
        self.cols = _shared_values(cols)
        sizes = {len(self.ids), len(self.offsets) - 1, len(self.dead), *(len(h) for h in self.has.values()),
                 *(len(c) for c in cols.values())}
        payload_bytes = os.fstat(self._payload.fileno()).st_size
        rec = (self.meta.get("files") or {}).get("payload.jsonl")
        if rec is not None and rec.get("size") != int(self.offsets[-1]):
            self.close()
            raise damaged(folder, f"gen-{gen}.npz's payload offsets end at {int(self.offsets[-1])}, meta.json says "
                                  f"{rec.get('size')}")
        if sizes != {n} or payload_bytes < int(self.offsets[-1]):
            self.close()
            raise StoreError(f"published copy {folder} is damaged (expected {n} points, found sizes {sorted(sizes)}, "
                             f"payload {payload_bytes} of {int(self.offsets[-1])} bytes); run `reelvec build` to "
                             "publish the live collection again")

    def check_rows(self) -> None:
        """Every live row's vectors are finite and of unit length (or all zero where a point has
        no such vector): what `verify_copy` adds to the checksums."""
        live = ~self.dead
        for name, m in self.vectors.items():
            for s in range(0, len(m), 65536):
                block = np.asarray(m[s:s + 65536])
                norms = np.linalg.norm(block, axis=1)
                want = self.has[name][s:s + 65536] & live[s:s + 65536]
                bad = ~np.isfinite(norms) | (want & (np.abs(norms - 1.0) > 1e-3))
                if bad.any():
                    r = s + int(np.flatnonzero(bad)[0])
                    raise damaged(self.folder, f"vec-{name}.f32 row {r} ({self.ids[r]}) is not a unit vector")

    @property
    def generation(self) -> int:
        return int(self.meta.get("generation", 0))

    def payload(self, i: int) -> dict:
        """Row i's payload, parsed anew (10 us with orjson; keeping parsed payloads saved 0.03 ms
        a query and cost the service 4-26 ms garbage-collector pauses over them)."""
        start, end = int(self.offsets[i]), int(self.offsets[i + 1])
        raw = os.pread(self._payload.fileno(), end - start, start)  # thread-safe: no seek
        try:
            out = jsonutil.loads(raw)
        except ValueError as exc:
            raise damaged(self.folder, f"payload.jsonl row {i} is not JSON ({exc})") from exc
        if not isinstance(out, dict):
            raise damaged(self.folder, f"payload.jsonl row {i} is not a JSON object")
        return out

    def neighbours(self) -> tuple[np.ndarray, ...] | None:
        """This generation's nearest-neighbour lists of `KNN_VECTOR` (rows, cosines, floors; memory-
        mapped), or None for a copy published without them."""
        if self._neighbours is False:
            try:
                names = [f"knn-{part}-{self.generation}.npy" for part in KNN_PARTS]
                if not all(self.verified(n) for n in names):
                    raise ValueError("damaged")
                lists = tuple(np.load(self.folder / n, mmap_mode="r") for n in names)
                ok = all(len(a) == len(self.ids) for a in lists) and int(lists[0].max(initial=-1)) < len(self.ids)
                self._neighbours = lists if ok else None
            except (OSError, ValueError) as exc:
                logger.debug("no neighbour lists in %s (%s)", self.folder, exc)
                self._neighbours = None
        return self._neighbours  # type: ignore[return-value]

    def ann(self, name: str):
        """Vector `name`'s index (`ann.Indexed`, memory-mapped: the faiss index, the row of each
        label, the rows it covers, the labels' uint8 codes when the copy has them), or None: a
        copy under `ann.ANN_MIN_ROWS` rows, or an index that fails its checksum (exact scans
        then; logged)."""
        if name not in self._ann:
            from reelvec import ann

            rec = (self.meta.get("ann") or {}).get(name)
            got = None
            if rec is not None and rec.get("kind") != ann.KIND:
                logger.warning("published copy %s: its %s index is of another kind (%s); scanning exactly (run "
                               "`reelvec build` to index it again)", self.folder, name, rec.get("kind"))
            elif rec is not None and self.verified(rec["index"]) and self.verified(rec["rows"]):
                try:
                    labels = np.load(self.folder / rec["rows"], mmap_mode="r")
                    index = ann.load(self.folder / rec["index"])
                    if index.ntotal != len(labels) or int(labels.max(initial=-1)) >= len(self.ids):
                        raise StoreError(f"{rec['index']} holds {index.ntotal} rows, its label file {len(labels)}")
                    codes, scale = self._codes(rec, len(labels), index.d)
                    got = ann.Indexed(index, np.asarray(labels), int(rec["covered"]), codes, scale)
                except (OSError, ValueError, StoreError) as exc:
                    logger.warning("published copy %s: ANN index of %s unusable (%s); scanning exactly",
                                   self.folder, name, exc)
            self._ann[name] = got
        return self._ann[name]

    def _codes(self, rec: dict, n: int, d: int) -> tuple[np.ndarray | None, np.ndarray | None]:
        """(the uint8 codes of an index's `n` labels, memory-mapped, and their (2, d) scale) when
        the copy keeps them whole and sound; else (None, None): the index's cells answer alone
        (logged: the next live edit writes them again)."""
        if not rec.get("codes") or not self.verified(rec["codes"]):  # a checksum failure is logged there
            return None, None
        try:
            return load_codes(self.folder, rec, n, d)
        except (OSError, ValueError, TypeError) as exc:
            logger.warning("published copy %s: %s unusable (%s); the index's cells answer without them",
                           self.folder, rec["codes"], exc)
            return None, None

    def answers(self) -> dict[str, np.ndarray] | None:
        """This generation's precomputed answers (`save_answers`), or None (looked for again at
        most every REFRESH_SECONDS: a build writes them after it publishes)."""
        if self._answers is None and time.monotonic() - self._answers_checked > REFRESH_SECONDS:
            self._answers_checked = time.monotonic()
            try:
                if not (self.folder / f"answers-{self.generation}.npz").exists():
                    raise FileNotFoundError
                problem = answers_problem(self.folder, self.generation)
                if problem:
                    raise ValueError(problem)
                with np.load(self.folder / f"answers-{self.generation}.npz") as z:
                    a = {k: z[k] for k in z.files}
                if "which" not in a:  # written before answers were kept per answered row: one per row
                    a["which"] = np.flatnonzero(a.pop("done"))
                    a = {k: (v[a["which"]] if k in ("rows", "score", "placed") or k.startswith("cos_") else v)
                         for k, v in a.items()}
                n = len(self.ids)
                if (len(a["rows"]) == len(a["which"]) and int(a["rows"].max(initial=-1)) < n
                        and int(a["which"].max(initial=-1)) < n):
                    a["at"] = np.full(n, -1, np.int32)  # row -> its answer
                    a["at"][a["which"]] = np.arange(len(a["which"]), dtype=np.int32)
                    a["meta"] = json.loads(str(a["meta"]))
                    self._answers = a
            except FileNotFoundError:
                pass
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                logger.warning("precomputed answers in %s unusable (%s); computing instead (`reelvec precompute` "
                               "makes them again)", self.folder, exc)
        return self._answers

    def row_vectors(self, i: int) -> dict:
        """Row i's vectors as float32 arrays (unit length), only those the point has."""
        return {n: self.gather(n, np.array([i]))[0] for n in self.vectors if self.has[n][i]}

    def gather(self, name: str, rows: np.ndarray) -> np.ndarray:
        """Rows `rows` of vector `name`, as a new float32 array. A copy of more than `PREAD_BYTES`
        of vectors reads them with one pread each instead of through the map: no mapped pages
        piling up in the reader's RSS (a mapped row read faults in a whole large folio, up to
        2 MB, around it)."""
        M = self.vectors[name]
        if not self._fds or len(rows) > PREAD_MAX:
            return M[rows]
        fd = self._fds[name]
        width = M.shape[1] * 4
        out = np.empty((len(rows), M.shape[1]), np.float32)
        for i, r in enumerate(rows.tolist()):
            if os.preadv(fd, [out[i]], r * width) != width:
                raise damaged(self.folder, f"vec-{name}.f32 ends before row {r}")
        return out

    def close(self) -> None:
        self._payload.close()
        for fd in self._fds.values():
            os.close(fd)
        self._fds.clear()


class PublishedStore:
    """The read half of `VectorStore` over ``<root>/published`` and ``<root>/aliases.json``.
    Opening it takes no lock and reading it writes nothing."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        self._copies: dict[str, CopyView] = {}
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

    def _copy(self, name: str) -> CopyView:
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
            c = self._copies[name] = CopyView(folder)
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
                if not c.verified(f"title-{c.generation}.npz"):
                    raise ValueError("it does not match its checksum")
                with np.load(c.folder / f"title-{c.generation}.npz") as z:
                    c.title_arrays = {k: z[k] for k in z.files}
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
                logger.debug("no title arrays in %s (%s)", c.folder, exc)
                c.title_arrays = {}
        return c.title_arrays or None

    def warm(self, collection: str) -> None:
        """Build the filter masks and postings of `collection`'s copy now (`RowFilter.warm`)."""
        self._copy(collection).filters.warm()

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

    def _top(self, c: CopyView, rows: np.ndarray, s: np.ndarray, k: int, with_vectors: bool = False,
             with_payload: bool = True) -> list[Found]:
        """The best `k` of candidate `rows` scored `s`."""
        if len(rows) == 0:
            return []
        if not np.isfinite(s).all():  # a NaN or inf row: never served
            bad = int(rows[np.flatnonzero(~np.isfinite(s))[0]])
            raise damaged(c.folder, f"row {bad} ({c.ids[bad]}) holds a vector that is not finite")
        if len(rows) > k:
            part = np.argpartition(-s, k - 1)[:k]
            rows, s = rows[part], s[part]
        order = np.lexsort((rows, -s))  # best first; ties by row, stable across calls
        return [Found(c.ids[r], score, c.payload(r) if with_payload else {}, c.row_vectors(r) if with_vectors else None)
                for r, score in zip(rows[order].tolist(), s[order].tolist())]

    def query(self, collection: str, spec: QuerySpec) -> list[Found]:
        c = self._copy(collection)
        if spec.using not in c.vectors:
            raise StoreError(f"collection {collection} has no vector {spec.using!r}")
        q = np.asarray(spec.vector, np.float32)
        q = q / max(float(np.linalg.norm(q)), 1e-12)
        M = c.vectors[spec.using]
        near = self._near(c, spec, q)
        if near is not None:
            return near
        rows = c.filters.select(spec.filter)
        if rows is not None:  # series, people or ids: their rows from postings, scanned exactly when few
            rows = rows[c.has[spec.using][rows]]
            rows = self._ann_among(c, spec.using, q, spec.k, rows)
        else:  # the filter's clauses from a mask kept per filter; the query's exclusions as rows
            allowed, drop = c.filters.allowed(spec.filter, spec.using), c.filters.dropped(spec.filter)
            rows = self._ann_rows(c, spec.using, q[None, :], spec.k, allowed, drop)
            if rows is None:  # a selective filter (or the index found too few): its rows, by their codes
                scan = self._scan_rows(allowed, drop)  # all with the vector (`allowed`)
                coded = self._coded(c, spec.using, q, spec.k, scan)
                rows = scan if coded is None else coded
        # a selective filter scores only its rows; otherwise one pass over the whole map is cheaper
        s = c.gather(spec.using, rows) @ q if len(rows) * 4 < len(M) else (M @ q)[rows]
        return self._top(c, rows, s, spec.k, spec.with_vectors, spec.with_payload)

    @staticmethod
    def _scan_rows(allowed: Allowed, drop: np.ndarray) -> np.ndarray:
        """Every row `allowed` passes but `drop`: what an exact scan scores."""
        rows = np.flatnonzero(allowed.ok)
        return rows[~np.isin(rows, drop)] if len(drop) else rows

    @staticmethod
    def _coded(c: CopyView, using: str, q: np.ndarray, k: int, rows: np.ndarray) -> np.ndarray | None:
        """Candidates for the best `k` of `rows` (ascending, all with vector `using`): the
        `ann.candidates(k)` best on the index's uint8 codes plus the rows added after the index,
        rescored exactly by the caller; None when the copy keeps no codes or the rows are too
        few (up to `ann.EXACT_ROWS`: scanned exactly) or too many (`ann.CODED_MAX`) for them."""
        from reelvec import ann

        index = c.ann(using)
        want = ann.candidates(k)
        if index is None or index.codes is None or k < 1 or not max(2 * want, ann.EXACT_ROWS) < len(rows) <= ann.CODED_MAX:
            return None
        inside, _ = index.positions(rows)
        return np.concatenate([index.nearest(q, inside, want), rows[len(inside):]])

    @classmethod
    def _ann_among(cls, c: CopyView, using: str, q: np.ndarray, k: int, rows: np.ndarray) -> np.ndarray:
        """Candidates for the best `k` of `rows` (ascending, all with vector `using`; a series',
        a person's films), rescored exactly by the caller: those the codes rank first
        (`_coded`); else, above `ann.EXACT_ROWS`, `ann.candidates(k)` found by the index among
        them (a prolific actor's thousands of films: an exact scan of them took most of a
        `similar` at a million movies) plus the rows added after it; else the rows themselves."""
        coded = cls._coded(c, using, q, k, rows)
        if coded is not None:
            return coded
        from reelvec import ann

        index = c.ann(using)
        if index is None or k < 1 or len(rows) <= ann.EXACT_ROWS:
            return rows
        inside, at = index.positions(rows)
        found = ann.search(index.graph, q[None, :], min(len(at), ann.candidates(k)), passing=len(at), labels=at)[0]
        found = found[found >= 0]
        if len(found) < min(k, len(at)):
            return rows
        return np.concatenate([np.sort(index.labels[found]), rows[len(inside):]])

    @classmethod
    def _ann_rows(cls, c: CopyView, using: str, qs: np.ndarray, k: int, allowed: Allowed,
                  drop: np.ndarray) -> np.ndarray | None:
        """The candidate rows for the best `k` of the rows `allowed` passes but `drop` (the union
        over the query rows of `qs`; see `_ann_lists`), rescored exactly by the caller; None:
        scan instead."""
        lists = cls._ann_lists(c, using, qs, k, allowed, drop)
        return None if lists is None else arrays.unique(np.concatenate(lists))

    @staticmethod
    def _ann_lists(c: CopyView, using: str, qs: np.ndarray, k: int, allowed: Allowed,
                   drop: np.ndarray) -> list[np.ndarray] | None:
        """For each query row of `qs`, candidate rows for its best `k` of the rows `allowed`
        passes, less the few a query drops (`drop`: itself, ids or series it leaves out), from
        vector `using`'s ANN index: `ann.candidates(k)` labels the index finds among those its
        filter's bitmap allows (kept per filter: no pass over the rows per query), plus as many
        as `drop` removes, plus every allowed row added after the index. None when an exact scan
        answers instead: no index (a small copy), k < 1, a filter that passes at most
        `EXACT_ROWS` rows, or an index that found fewer than k for some query."""
        index = c.ann(using)
        if index is None or k < 1:
            return None
        from reelvec import ann

        graph, labels, covered = index.graph, index.labels, index.covered
        bits, passing = allowed.bitmap(labels, covered)
        gone = drop[allowed.ok[drop]] if len(drop) else drop  # rows the query leaves out that pass
        n_gone = int(np.count_nonzero(gone < covered))  # of them, in the index
        if passing - n_gone <= ann.EXACT_ROWS:
            return None
        want = min(passing, ann.candidates(k) + n_gone)
        found = ann.search(graph, qs, want, None if passing == len(labels) else bits, passing)
        lists = [labels[f[f >= 0]] for f in found]
        if n_gone:
            lists = [r[~np.isin(r, gone)] for r in lists]
        if min(len(r) for r in lists) < min(k, passing - n_gone):
            return None
        tail = covered + np.flatnonzero(allowed.ok[covered:])
        if len(gone):
            tail = tail[~np.isin(tail, gone)]
        return [np.concatenate([r, tail]) for r in lists]

    def _near(self, c: CopyView, spec: QuerySpec, q: np.ndarray) -> list[Found] | None:
        """`spec` answered from the kept neighbours of point `spec.near_id`, or None when they
        cannot answer it exactly. A list holds a point's best live rows, so when at least k of
        them pass the filter, they are the k best of all rows that pass it; they are scored
        again here, exactly as a scan scores them."""
        if spec.near_id is None or spec.using != KNN_VECTOR:
            return None
        r = c.row.get(spec.near_id)
        lists = c.neighbours()
        if r is None or lists is None or spec.k > lists[0].shape[1]:
            return None
        rows = lists[0][r]
        rows = rows[rows >= 0]
        rows = c.filters.keep(spec.filter, rows)
        rows = rows[c.has[spec.using][rows]]
        if len(rows) < spec.k:
            return None
        return self._top(c, rows, c.gather(spec.using, rows) @ q, spec.k, spec.with_vectors, spec.with_payload)

    def query_batch(self, collection: str, specs: Sequence[QuerySpec]) -> list[list[Found]]:
        return [self.query(collection, s) for s in specs]

    def recommend(self, collection: str, positive, negative, using: str, k: int,
                  flt: SearchFilter = SearchFilter()) -> list[Found]:
        """Qdrant's best-score strategy: a candidate's score is the sigmoid of its best positive
        similarity, or minus the sigmoid of its best negative one when that is higher."""
        c = self._copy(collection)
        unit = lambda vs: np.asarray(vs, np.float32) / np.maximum(
            np.linalg.norm(np.asarray(vs, np.float32), axis=1, keepdims=True), 1e-12)
        sig = lambda x: 0.5 * (x / (1.0 + np.abs(x)) + 1.0)  # Qdrant scaled_fast_sigmoid

        def scored(m: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
            """(is each row nearer a positive than every negative, its best-score) over rows `m`."""
            best = [(m @ unit(vs).T).max(axis=1) if len(vs) else np.full(len(m), -1e30, np.float32)
                    for vs in (positive, negative)]  # no negatives: -1e30, not -inf (nan below)
            pos, neg = (np.maximum(b, -1e30) for b in best)
            return pos > neg, np.where(pos > neg, sig(pos), -sig(neg))
        allowed, drop = c.filters.allowed(flt, using), c.filters.dropped(flt)
        lists = (self._ann_lists(c, using, unit(positive), k + len(negative) * k, allowed, drop)
                 if len(positive) and not c.filters.narrows(flt) else None)
        if lists is not None:  # a large copy: the candidates of each positive from the index
            rows = arrays.unique(np.concatenate(lists))
            nearer, scores = scored(c.gather(using, rows))
            # exact when each positive's own list holds k rows nearer it than to every negative: a
            # row missing from positive p's list is farther from p than all of them, so k rows beat it
            if all(int(nearer[np.searchsorted(rows, one)].sum()) >= k for one in lists):
                return self._top(c, rows, scores, k)
        rows = c.filters.select(flt)
        if rows is not None:  # series, people or ids: their rows
            rows = rows[c.has[using][rows]]
            return self._top(c, rows, scored(c.gather(using, rows))[1], k)
        rows = self._scan_rows(allowed, drop)  # a small copy, or too few candidates nearer a positive: every row
        return self._top(c, rows, scored(c.vectors[using])[1][rows], k)

    def count(self, collection: str, flt: SearchFilter | None = None) -> int:
        return int(self._copy(collection).filters.mask(flt).sum())

    def scroll(self, collection: str, batch: int = 1000, with_vectors: bool = False,
               flt: SearchFilter | None = None) -> Iterator[Found]:
        c = self._copy(collection)
        for i in np.flatnonzero(c.filters.mask(flt)):
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

    def vectors_of(self, collection: str, ids: Sequence[str],
                   names: Sequence[str]) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
        """Vectors `names` of each point in `ids`, each as one (len(ids), dim) array of unit rows,
        and which points have it (a row of zeros where one has not, or is unknown): a blended
        query rescores its candidates with one gather per vector instead of reading them back."""
        c = self._copy(collection)
        rows = np.fromiter(map(c.row.get, ids, itertools.repeat(-1)), np.int64, len(ids))
        ok = rows >= 0
        safe = np.maximum(rows, 0)
        out, present = {}, {}
        for name in names:
            if name not in c.vectors:
                raise StoreError(f"collection {collection} has no vector {name!r}")
            if len(c.ids):
                present[name] = ok & c.has[name][safe]
                m = c.gather(name, safe)
                if not np.isfinite(m).all():
                    bad = int(safe[np.flatnonzero(~np.isfinite(m).all(axis=1))[0]])
                    raise damaged(c.folder, f"row {bad} ({c.ids[bad]}) holds a vector that is not finite")
                m[~present[name]] = 0.0
            else:  # an empty copy: every id is unknown
                present[name], m = ok, np.zeros((len(ids), c.vectors[name].shape[1]), np.float32)
            out[name] = m
        return out, present

    def answer_meta(self, collection: str) -> dict | None:
        """The meta of the precomputed answers of the generation this store reads (None: none)."""
        a = self._copy(collection).answers()
        return None if a is None else a["meta"]

    def answer(self, collection: str, pid: str) -> tuple[dict, dict] | None:
        """The precomputed answer for point `pid` (`save_answers`) in the generation this store
        reads, and the meta it was saved with; None when there is none."""
        c = self._copy(collection)
        a = c.answers()
        r = c.row.get(pid)
        if a is None or r is None or a["at"][r] < 0:
            return None
        r = int(a["at"][r])
        rows = a["rows"][r]
        m = int((rows >= 0).sum())
        labels = a["labels"].tolist()
        out = {"ids": [c.ids[i] for i in rows[:m].tolist()], "score": a["score"][r, :m].tolist(),
               "placed_by": [labels[i] if i >= 0 else None for i in a["placed"][r, :m].tolist()]}
        for v in ("fused", "text", "image"):
            out[v] = [None if x != x else x for x in a[f"cos_{v}"][r, :m].tolist()]
        return out, a["meta"]

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

    def release(self, collection: str) -> None:
        """Nothing to let go of: readers hold no lock."""

    def close(self) -> None:
        for c in self._copies.values():
            c.close()
        self._copies.clear()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

