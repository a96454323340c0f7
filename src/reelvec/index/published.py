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

import contextlib
import dataclasses
import errno
import itertools
import json
import logging
import os
import shutil
import time
import zipfile
import zlib
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from reelvec import jsonutil
from reelvec.errors import StoreError
from reelvec.fsutil import BLOCK, block_digests, file_digest
from reelvec.index.base import Found, QuerySpec, SearchFilter, filter_clauses

logger = logging.getLogger(__name__)

FORMAT = 2
PUBLISHED = "published"
COLUMNS = ("genres", "year", "original_language", "tmdb_id", "title", "vote_count", "director", "cast")
KNN_VECTOR = "fused"  # the vector whose nearest neighbours each row keeps (what `similar` starts from)
NEIGHBOURS = 64  # per row: a blended `similar` of k <= 10 reads 60
KNN_PARTS = ("rows", "sims", "floor")
MASKS_KEPT = 256  # filter masks a reader keeps per generation (a few KB each)
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


def _rows_of(folder: Path, name: str, dim: int, n: int) -> np.ndarray:
    """The first `n` rows of vector `name` in `folder`, memory-mapped."""
    return np.asarray(np.memmap(folder / f"vec-{name}.f32", np.float32, "r", shape=(n, dim))) if n else \
        np.zeros((0, dim), np.float32)


def _neighbours(M: np.ndarray, live: np.ndarray, rows: np.ndarray, k: int,
                block: int = 512) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The `k` nearest `live` rows of each of `rows` by the unit rows of `M` (itself excluded),
    best first -> (neighbour rows int32, their cosines float32, each list's floor: the best cosine
    left out of it, -inf when none was). A row that is not live gets no list (floor +inf)."""
    idx = np.full((len(rows), k), -1, np.int32)
    sim = np.full((len(rows), k), -np.inf, np.float32)
    floor = np.full(len(rows), np.inf, np.float32)
    cols = np.flatnonzero(live)
    if not len(cols):
        return idx, sim, floor
    pool = M[cols]
    for s in range(0, len(rows), block):
        r = rows[s:s + block]
        S = M[r] @ pool.T
        at = np.minimum(np.searchsorted(cols, r), len(cols) - 1)
        mine = cols[at] == r
        S[np.flatnonzero(mine), at[mine]] = -np.inf  # not its own neighbour
        m = min(k + 1, S.shape[1])
        part = (np.argpartition(-S, m - 1, axis=1)[:, :m] if m < S.shape[1]
                else np.broadcast_to(np.arange(m), (len(r), m)))
        ps = np.take_along_axis(S, part, axis=1)
        order = np.lexsort((cols[part], -ps), axis=1)  # best first; ties by row, as a scan orders them
        part, ps = np.take_along_axis(part, order, axis=1), np.take_along_axis(ps, order, axis=1)
        n = min(k, m)
        ok = live[r][:, None] & np.isfinite(ps[:, :n])
        idx[s:s + len(r), :n] = np.where(ok, cols[part[:, :n]], -1)
        sim[s:s + len(r), :n] = np.where(ok, ps[:, :n], -np.inf)
        left = ps[:, k] if m > k else np.full(len(r), -np.inf, np.float32)
        floor[s:s + len(r)] = np.where(live[r], left, np.inf)
    return idx, sim, floor


def _all_neighbours(M: np.ndarray, live: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The lists of every row (`_neighbours` of all rows, `NEIGHBOURS` long)."""
    return _neighbours(M, live, np.arange(len(live)), NEIGHBOURS)


def _merge_neighbours(M: np.ndarray, live: np.ndarray, idx: np.ndarray, sim: np.ndarray, floor: np.ndarray,
                      new: np.ndarray) -> None:
    """Bring the lists of the old live rows up to date, in place, after rows `new` were added
    (and others marked dead): dead entries leave; a new row joins a list when it beats that
    list's floor; a list over its length drops its worst entries and raises its floor to them.
    What stays is always exactly a list's best live rows."""
    k = idx.shape[1]
    gone = (idx >= 0) & ~live[np.maximum(idx, 0)]
    idx[gone], sim[gone] = -1, -np.inf
    old = np.flatnonzero(live[:len(idx)])
    add = new[live[new]]
    if not len(old) or not len(add):
        return
    S = M[old] @ M[add].T
    join = S > floor[old, None]
    touched = np.flatnonzero(join.any(axis=1))
    for t in touched:
        i = old[t]
        cand_i = np.concatenate([idx[i], add[join[t]].astype(np.int32)])
        cand_s = np.concatenate([sim[i], S[t, join[t]]])
        order = np.lexsort((np.where(cand_i < 0, np.iinfo(np.int32).max, cand_i), -cand_s))
        cand_i, cand_s = cand_i[order], cand_s[order]
        if len(cand_i) > k and np.isfinite(cand_s[k]):
            floor[i] = max(float(floor[i]), float(cand_s[k]))
        idx[i], sim[i] = cand_i[:k], cand_s[:k]


def _save_neighbours(folder: Path, gen: int, lists: tuple[np.ndarray, ...]) -> None:
    for part, a in zip(KNN_PARTS, lists):
        tmp = folder / f".knn-{part}-{gen}.tmp.npy"
        np.save(tmp, a)
        os.replace(tmp, folder / f"knn-{part}-{gen}.npy")


def _file_records(folder: Path, gen: int, vectors: dict[str, int], rows: int, payload_end: int,
                  before: dict | None = None) -> dict[str, dict]:
    """Checksums of everything generation `gen` of the copy in `folder` is made of: the first
    `rows` rows of each vector file and `payload_end` bytes of payloads (block lists, of which
    `before`'s are reused for the blocks an append left alone) and each per-generation file."""
    before = before or {}
    out: dict[str, dict] = {}
    for name, size in [*((f"vec-{n}.f32", rows * d * 4) for n, d in vectors.items()), ("payload.jsonl", payload_end)]:
        out[name] = {"size": size, "blocks": block_digests(folder / name, size, before.get(name, {}).get("blocks"))}
    for name in (f"gen-{gen}.npz", f"columns-{gen}.json", f"title-{gen}.npz",
                 *(f"knn-{part}-{gen}.npy" for part in KNN_PARTS)):
        path = folder / name
        if path.exists():
            out[name] = {"size": path.stat().st_size, "xxh": file_digest(path)}
    return out


def _write_generation(folder: Path, gen: int, meta: dict, offsets: np.ndarray, has: dict[str, np.ndarray],
                      dead: np.ndarray, columns: dict[str, list],
                      neighbours: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                      before: dict | None = None) -> None:
    """Generation `gen`'s files, then meta.json pointing at it with their checksums (the commit),
    then the generation before the previous one is removed (the previous one stays for readers
    that just read meta)."""
    from reelvec.ingest.franchise import TitleSimilarity

    if neighbours is not None:
        _save_neighbours(folder, gen, neighbours)

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
    files = _file_records(folder, gen, meta["vectors"], len(dead), int(offsets[-1]), before)
    body = {k: v for k, v in meta.items() if k != "files"}
    tmp = folder / ".meta.tmp.json"
    with open(tmp, "w") as fh:
        fh.write(json.dumps(body | {"format": FORMAT, "generation": gen, "count": len(dead), "files": files}))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / "meta.json")
    for old in (*folder.glob("gen-*.npz"), *folder.glob("columns-*.json"), *folder.glob("title-*.npz"),
                *folder.glob("knn-*.npy"), *folder.glob("answers-*.npz"), *folder.glob("answers-*.sum.json")):
        g = old.name.split(".")[0].rsplit("-", 1)[1]
        if g.isdigit() and int(g) < gen - 1:
            old.unlink(missing_ok=True)


def publish(root: str | Path, collection: str, vectors: dict[str, int], points: Iterator[Found]) -> Path:
    """Write the published copy of `collection` from its points (with vectors); idempotent. A
    copy that is there and passes a full check of its checksums is kept; a damaged one, or one
    an older reelvec wrote without checksums, is published again."""
    target = published_dir(root, collection)
    if (target / "meta.json").exists():
        try:
            verify_copy(target)
            return target
        except StoreError as exc:
            logger.warning("%s; publishing it again", exc)
    tmp = target.with_name(f".{collection}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    try:
        ids, ends, has, payloads = _append_rows(tmp, vectors, 0, 0, points)
        columns = {"ids": ids, **_row_columns(payloads)}
        has_rows = {n: np.array(h, bool) for n, h in has.items()}
        neighbours = None
        if KNN_VECTOR in vectors:
            M = _rows_of(tmp, KNN_VECTOR, vectors[KNN_VECTOR], len(ids))
            neighbours = _all_neighbours(M, has_rows[KNN_VECTOR])
        _write_generation(tmp, 0, {"collection": collection, "vectors": vectors}, np.array([0, *ends], np.int64),
                          has_rows, np.zeros(len(ids), bool), columns, neighbours)
    except OSError as exc:
        shutil.rmtree(tmp, ignore_errors=True)
        raise disk_error(exc, tmp, f"publishing {collection}") from exc
    shutil.rmtree(target, ignore_errors=True)
    tmp.rename(target)
    logger.info("published %s (%d points) for readers", collection, len(ids))
    return target


def disk_error(exc: OSError, path: Path, what: str, need: int | None = None) -> StoreError:
    """An OSError of a write as a StoreError naming the path (and, for a full disk, the space)."""
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        from reelvec.fsutil import free_bytes

        need_s = f"; it needs about {need / 2**20:.0f} MiB" if need else ""
        return StoreError(f"disk full: {what} could not write {path} ({free_bytes(path) / 2**20:.0f} MiB free"
                          f"{need_s}); free some space and run it again (nothing was changed)")
    return StoreError(f"{what} could not write {path}: {exc}")


def edit_bytes(folder: Path, meta: dict, rows: int) -> int:
    """About how many bytes a live edit of `rows` rows writes into the copy in `folder`: the rows
    themselves, and a new generation of the small files as large as the current one's."""
    gen = int(meta.get("generation", 0))
    small = sum(rec.get("size", 0) for name, rec in (meta.get("files") or {}).items()
                if name.split(".")[0].rsplit("-", 1)[-1] == str(gen))
    row = sum(4 * d for d in meta["vectors"].values()) + 4096
    return int(1.5 * small) + rows * row + (1 << 20)


def patch(root: str | Path, collection: str, upserts: Sequence[Found] = (), deletes: Sequence[str] = ()) -> int | None:
    """Apply a live edit to the published copy of `collection`: `upserts` (points with vectors)
    replace or add rows, `deletes` (point ids) remove them. Only the writer holding the home's
    writer lock may call it. Returns the new generation (None: the collection has no copy). A full disk is a StoreError
    raised before anything changes (checked first; a write that still fails is rolled back)."""
    from reelvec.fsutil import free_bytes

    folder = published_dir(root, collection)
    if not (folder / "meta.json").exists():
        return None
    c = _Copy(folder)
    try:
        vectors, rows = c.meta["vectors"], len(c.ids)
        need = edit_bytes(folder, c.meta, len(upserts))
        if free_bytes(folder) < need:
            raise disk_error(OSError(errno.ENOSPC, "no space"), folder, f"a live edit of {collection}", need)
        gone = set(deletes) | {f.id for f in upserts}
        dead = c.dead.copy()
        for pid in gone:
            r = c.row.get(pid)
            if r is not None:
                dead[r] = True
        gen = int(c.meta.get("generation", 0)) + 1
        try:
            ids, ends, has, payloads = _append_rows(folder, vectors, rows, int(c.offsets[-1]), upserts)
            columns = {"ids": c.ids + ids}
            for name, values in _row_columns(payloads).items():
                columns[name] = c.cols[name] + values
            all_has = {n: np.concatenate([c.has[n], np.array(has[n], bool)]) for n in vectors}
            all_dead = np.concatenate([dead, np.zeros(len(ids), bool)])
            neighbours = None
            if KNN_VECTOR in vectors:
                M = _rows_of(folder, KNN_VECTOR, vectors[KNN_VECTOR], len(all_dead))
                live = all_has[KNN_VECTOR] & ~all_dead
                new = np.arange(rows, len(all_dead))
                before = c.neighbours()
                if before is None:  # a copy published without lists: make them all
                    neighbours = _all_neighbours(M, live)
                else:
                    old_lists = tuple(np.array(a) for a in before)  # writable copies
                    _merge_neighbours(M, live, *old_lists, new)
                    added = _neighbours(M, live, new, NEIGHBOURS)
                    neighbours = tuple(np.concatenate([a, b]) for a, b in zip(old_lists, added))  # type: ignore
            _write_generation(folder, gen, c.meta, np.concatenate([c.offsets, np.array(ends, np.int64)]), all_has,
                              all_dead, columns, neighbours, before=c.meta.get("files"))
        except OSError as exc:  # nothing is committed before meta.json: drop this generation's leftovers
            for f in (*folder.glob(f"*-{gen}.*"), *folder.glob(f".*-{gen}.tmp.*"), folder / ".meta.tmp.json"):
                f.unlink(missing_ok=True)
            for n, d in vectors.items():  # appended rows past the committed ones are not read, but take space
                with contextlib.suppress(OSError):
                    os.truncate(folder / f"vec-{n}.f32", rows * d * 4)
            with contextlib.suppress(OSError):
                os.truncate(folder / "payload.jsonl", int(c.offsets[-1]))
            raise disk_error(exc, folder, f"a live edit of {collection}", need) from exc
    finally:
        c.close()
    logger.info("published %s generation %d: %d upserted, %d deleted", collection, gen, len(upserts), len(deletes))
    return gen


def save_answers(root: str | Path, collection: str, generation: int, answers: dict[str, list], meta: dict) -> bool:
    """Keep precomputed answers of one query shape (a `similar` preset, its k) next to generation
    `generation` of `collection`'s copy: ``answers`` maps each point id to its hits (``ids``,
    ``score``, ``fused``/``text``/``image`` cosines and ``placed_by``, best first). They hold for
    that generation only: a reader of a later one (a live edit) computes instead. False when the
    copy has moved on already (or a hit is no longer in it). Any process may write them
    (atomically, named by generation, with their checksum beside them in ``answers-<g>.sum.json``)."""
    folder = published_dir(root, collection)
    c = _Copy(folder)
    tmp = folder / f".answers-{generation}.{os.getpid()}.tmp.npz"
    try:
        if c.generation != generation:
            return False
        k = max((len(a["ids"]) for a in answers.values()), default=0)
        n = len(c.ids)
        rows = np.full((n, k), -1, np.int32)
        score = np.zeros((n, k), np.float64)
        cos = {v: np.full((n, k), np.nan, np.float32) for v in ("fused", "text", "image")}
        labels = sorted({x for a in answers.values() for x in a["placed_by"] if x})
        code = {x: i for i, x in enumerate(labels)}
        placed = np.full((n, k), -1, np.int16)
        done = np.zeros(n, bool)
        for pid, a in answers.items():
            r = c.row.get(pid)
            if r is None:
                continue
            m = len(a["ids"])
            if any(i not in c.row for i in a["ids"]):
                return False  # computed over rows a later edit removed
            rows[r, :m] = [c.row[i] for i in a["ids"]]
            score[r, :m] = a["score"]
            for v in cos:
                cos[v][r, :m] = [np.nan if x is None else x for x in a[v]]
            placed[r, :m] = [code[x] if x else -1 for x in a["placed_by"]]
            done[r] = True
        try:
            np.savez(tmp, rows=rows, score=score, placed=placed, done=done, labels=np.array(labels or [""], str),
                     meta=np.array(json.dumps(meta, sort_keys=True)), **{f"cos_{v}": a for v, a in cos.items()})
            from reelvec.fsutil import atomic_write_json

            atomic_write_json(folder / f"answers-{generation}.sum.json",
                              {"size": tmp.stat().st_size, "xxh": file_digest(tmp)})
            os.replace(tmp, folder / f"answers-{generation}.npz")
        except OSError as exc:
            raise disk_error(exc, tmp, "precompute") from exc
        return True
    finally:
        tmp.unlink(missing_ok=True)
        c.close()


def check_file(folder: Path, name: str, rec: dict, sample: bool = False, seen: set | None = None) -> str | None:
    """What is wrong with file `name` of a copy against its checksum record (None: nothing).
    Append-only files are checked over their recorded prefix, block by block (`sample`: the
    first, the last and two random blocks only); blocks in `seen` (by file, inode, mtime and
    checksum) were checked before in this process and are skipped (and the ones checked now are
    added): a file written since, in place or appended to, is read again."""
    path = folder / name
    try:
        size = path.stat().st_size
        if "xxh" in rec:
            if size != rec["size"]:
                return f"{name} has {size} bytes, not {rec['size']}"
            return None if file_digest(path) == rec["xxh"] else f"{name} does not match its checksum"
        if size < rec["size"]:
            return f"{name} has {size} bytes, fewer than the {rec['size']} its rows need"
        blocks = rec.get("blocks") or []
        todo = range(len(blocks))
        if sample and len(blocks) > 4:
            rng = np.random.default_rng()
            todo = sorted({0, len(blocks) - 1, *rng.integers(0, len(blocks), 2).tolist()})
        stamp = (str(path), os.stat(path).st_ino, os.stat(path).st_mtime_ns)  # a write in place changes it
        for b in todo:
            key = (stamp, b, blocks[b])
            if seen is not None and key in seen:
                continue
            got = file_digest(path, b * BLOCK, min(rec["size"], (b + 1) * BLOCK))
            if got != blocks[b]:
                return f"{name} does not match its checksum (bytes {b * BLOCK}-{min(rec['size'], (b + 1) * BLOCK)})"
            if seen is not None:
                seen.add(key)
    except FileNotFoundError:
        return f"{name} is missing"
    except OSError as exc:
        return f"{name} is unreadable ({exc})"
    return None


def damaged(folder: Path, problem: str) -> StoreError:
    return StoreError(f"published copy {folder} is damaged ({problem}); run `reelvec build` to publish the live "
                      "collection again")


def verify_copy(folder: Path) -> dict:
    """Check every file of the current generation of the copy in `folder` against its checksum
    (all blocks of the large files, the neighbour lists and precomputed answers too): what
    `reelvec verify` and a build run. Returns what was checked; raises a StoreError naming the
    first damaged file. A copy without checksums (an older reelvec) counts as damaged."""
    try:
        meta = json.loads((folder / "meta.json").read_text())
    except (OSError, ValueError) as exc:
        raise damaged(folder, f"meta.json is unreadable: {exc}") from exc
    files = meta.get("files") if isinstance(meta, dict) else None
    if not files:
        raise damaged(folder, "it has no checksums: it was published by an older reelvec")
    gen = meta.get("generation", 0)
    for name, rec in files.items():
        problem = check_file(folder, name, rec)
        if problem:
            raise damaged(folder, problem)
    answers = folder / f"answers-{gen}.npz"
    if answers.exists():
        problem = _answers_problem(folder, gen)
        if problem:
            raise damaged(folder, problem)
    c = _Copy(folder, check="full")  # the contents: sizes agree, every vector finite
    try:
        c.check_rows()
    finally:
        c.close()
    return {"folder": str(folder), "generation": gen, "files": len(files),
            "bytes": sum(r["size"] for r in files.values()), "answers": answers.exists()}


def _answers_problem(folder: Path, gen: int) -> str | None:
    try:
        rec = json.loads((folder / f"answers-{gen}.sum.json").read_text())
    except FileNotFoundError:
        return f"answers-{gen}.npz has no checksum"
    except (OSError, ValueError) as exc:
        return f"answers-{gen}.sum.json is unreadable ({exc})"
    return check_file(folder, f"answers-{gen}.npz", rec)


FULL_CHECK_BYTES = 512 << 20  # a reader checks every block of a copy up to this size on open, else samples
_SEEN: set = set()  # (file, block, checksum) a reader of this process has checked already


class _Copy:
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
        self.year = np.array([y if isinstance(y, int) else -(1 << 30) for y in self.cols["year"]], np.int64)
        self._genres: dict[str, np.ndarray] = {}
        self._langs: dict[str, np.ndarray] = {}
        self._masks: dict[tuple, np.ndarray] = {}  # by the filter's clauses other than ids
        self.live_cols: dict[str, list] | None = None
        self.title_arrays: dict[str, np.ndarray] | None = None
        self._neighbours: tuple[np.ndarray, ...] | None | bool = False  # False: not read yet
        self._answers: dict[str, np.ndarray] | None = None
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
            if self.meta.get("format") != FORMAT:
                raise ValueError(f"format {self.meta.get('format')}, this reelvec reads format {FORMAT}")
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
        except (FileNotFoundError, StoreError):
            raise
        except (OSError, ValueError, KeyError, TypeError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
            raise StoreError(f"published copy {folder} is unreadable ({exc}); run `reelvec build` to publish "
                             "the live collection again") from exc
        if not isinstance(cols, dict) or not isinstance(cols.get("ids"), list):
            raise damaged(folder, f"columns-{gen}.json is not an object of columns")
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

    def answers(self) -> dict[str, np.ndarray] | None:
        """This generation's precomputed answers (`save_answers`), or None (looked for again at
        most every REFRESH_SECONDS: a build writes them after it publishes)."""
        if self._answers is None and time.monotonic() - self._answers_checked > REFRESH_SECONDS:
            self._answers_checked = time.monotonic()
            try:
                if not (self.folder / f"answers-{self.generation}.npz").exists():
                    raise FileNotFoundError
                problem = _answers_problem(self.folder, self.generation)
                if problem:
                    raise ValueError(problem)
                with np.load(self.folder / f"answers-{self.generation}.npz") as z:
                    a = {k: z[k] for k in z.files}
                if len(a["rows"]) == len(self.ids) and int(a["rows"].max(initial=-1)) < len(self.ids):
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
        """The rows that pass `flt`, as a new boolean array. The mask of its payload and vector
        clauses is kept per filter (this generation never changes); its id clauses are applied
        to a copy."""
        flt = flt or SearchFilter()
        key = (flt.genres_any, flt.genres_all, flt.exclude_genres, flt.year_min, flt.year_max, flt.languages,
               flt.has_vector)
        base = self._masks.get(key)
        if base is None:
            if len(self._masks) >= MASKS_KEPT:
                self._masks.clear()
            base = self._masks[key] = self._clauses_mask(dataclasses.replace(flt, exclude_ids=(), only_ids=None))
        ok = base.copy()
        if flt.exclude_ids:
            ok[[self.row[i] for i in flt.exclude_ids if i in self.row]] = False
        if flt.only_ids is not None:
            only = np.zeros(len(self.ids), bool)
            only[[self.row[i] for i in flt.only_ids if i in self.row]] = True
            ok &= only
        return ok

    def _clauses_mask(self, flt: SearchFilter) -> np.ndarray:
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
                if not c.verified(f"title-{c.generation}.npz"):
                    raise ValueError("it does not match its checksum")
                with np.load(c.folder / f"title-{c.generation}.npz") as z:
                    c.title_arrays = {k: z[k] for k in z.files}
            except (OSError, ValueError, KeyError, EOFError, zipfile.BadZipFile, zlib.error) as exc:
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
        rows = np.flatnonzero(c.mask(spec.filter) & c.has[spec.using])
        # a selective filter scores only its rows; otherwise one pass over the whole map is cheaper
        s = M[rows] @ q if len(rows) * 4 < len(M) else (M @ q)[rows]
        return self._top(c, rows, s, spec.k, spec.with_vectors, spec.with_payload)

    def _near(self, c: _Copy, spec: QuerySpec, q: np.ndarray) -> list[Found] | None:
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
        rows = rows[c.mask(spec.filter)[rows] & c.has[spec.using][rows]]
        if len(rows) < spec.k:
            return None
        return self._top(c, rows, c.vectors[spec.using][rows] @ q, spec.k, spec.with_vectors, spec.with_payload)

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
                m = c.vectors[name][safe]
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
        if a is None or r is None or not a["done"][r]:
            return None
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

