"""Writing published copies (the writer's half of `reelvec.index.published`): `publish` a
collection from its points, `patch` it with a live edit (a new generation), `save_answers` of
precomputed queries. Every file is written beside its final name and renamed; meta.json, with
the checksums of everything the generation is made of, is written last: that rename commits.
A full disk is a StoreError naming the path, and a failed write leaves the last generation."""
from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import shutil
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path

import numpy as np

from reelvec.errors import StoreError
from reelvec.fsutil import atomic_open, atomic_path, file_digest
from reelvec.index import neighbours as knn
from reelvec.index.base import Found
from reelvec.index.integrity import file_records, meta_digest, verify_copy
from reelvec.index.published import (
    ANN_TAIL,
    ANN_VECTORS,
    CODED_VECTORS,
    COLUMNS,
    FORMAT,
    KNN_VECTOR,
    CopyView,
    load_codes,
    published_dir,
)

logger = logging.getLogger(__name__)


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
                 chunk: int = 2048) -> tuple[list[str], list[int], dict[str, list[bool]], dict[str, list]]:
    """Append `points` after the first `rows` rows (and `payload_end` payload bytes) of the copy
    in `folder`; anything past them (a crashed edit's leftovers) is overwritten. Returns the new
    rows' ids, payload end offsets, has-vector flags and columns (`_row_columns`, made a chunk at a
    time: no payload is kept, so a million rows publish in bounded memory)."""
    ids: list[str] = []
    ends: list[int] = []
    has: dict[str, list[bool]] = {n: [] for n in vectors}
    payloads: list[dict] = []
    columns: dict[str, list] = {}

    def to_columns():
        for name, values in _row_columns(payloads).items():
            columns.setdefault(name, []).extend(values)
        payloads.clear()
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
                to_columns()
        flush()
        to_columns()
        for fh in (*fhs.values(), pay):
            fh.truncate()
            fh.flush()
            os.fsync(fh.fileno())
    finally:
        for fh in (*fhs.values(), pay):
            fh.close()
    return ids, ends, has, columns


def _rows_of(folder: Path, name: str, dim: int, n: int) -> np.ndarray:
    """The first `n` rows of vector `name` in `folder`, memory-mapped."""
    return np.asarray(np.memmap(folder / f"vec-{name}.f32", np.float32, "r", shape=(n, dim))) if n else \
        np.zeros((0, dim), np.float32)


def _ann_indexes(folder: Path, vectors: dict[str, int], has: dict[str, np.ndarray], count: int,
                 current: dict | None, files: dict | None = None, written: set[str] | None = None) -> dict:
    """The ANN index of each searched vector (`ANN_VECTORS`) for a copy of `count` rows, as meta
    records ``{vector: {"index": file, "rows": file, "covered": rows[, "codes": file, "scale":
    [least, span]]}}`` (codes: each label's uint8 codes, for `CODED_VECTORS`): none below
    `ann.ANN_MIN_ROWS`; `current`'s are kept while the rows added after them (scanned exactly by
    readers) stay under `ANN_TAIL`, else extended with them into a new file (old files stay for
    readers of the previous generation until the next edit prunes them). Codes are reused only
    when they pass their checksum in `files` (the current meta's) and have the labels' shape;
    else made anew. The names of the files written go to `written`."""
    from reelvec import ann

    out = {}
    written = set() if written is None else written
    if count < ann.ANN_MIN_ROWS:
        return out
    for name in ANN_VECTORS:
        if name not in vectors:
            continue
        rec = (current or {}).get(name)
        if rec is not None and (rec.get("kind") != ann.KIND or not (folder / rec["index"]).exists()
                                or not (folder / rec["rows"]).exists()):
            rec = None  # an index of another kind, or lost: made anew
        if rec is not None and count - rec["covered"] <= ANN_TAIL:
            out[name] = rec
            if name in CODED_VECTORS and _sound_codes(folder, rec, files, vectors[name]) is None:
                out[name] = _with_codes(folder, name, vectors[name], rec)  # lost, damaged, or made before codes
                written.add(out[name]["codes"])
            continue
        if int(has[name][:count].sum()) < ann.MIN_INDEXED:
            continue  # a vector few rows have (posters of a text-only catalogue): scanned exactly
        M = _rows_of(folder, name, vectors[name], count)
        start = 0 if rec is None else rec["covered"]
        new_rows = start + np.flatnonzero(has[name][start:count])
        old = None
        if rec is None:
            index, labels = ann.build(M, new_rows), new_rows
        else:
            index = ann.load(folder / rec["index"], mmap=False)
            ann.extend(index, M, new_rows)
            old = _sound_codes(folder, rec, files, vectors[name]) if name in CODED_VECTORS else None
            labels = np.concatenate([np.load(folder / rec["rows"]), new_rows])
        out[name] = {"index": f"ann-{name}-{count}.faiss", "rows": f"ann-{name}-{count}.rows.npy", "covered": count,
                     "kind": ann.KIND}
        with atomic_path(folder / out[name]["index"]) as tmp:  # fsynced before meta.json names it
            ann.save(index, tmp)
        with atomic_open(folder / out[name]["rows"], "wb") as fh:
            np.save(fh, labels.astype(np.int64))
        written |= {out[name]["index"], out[name]["rows"]}
        if name in CODED_VECTORS:
            if old is not None:  # the old labels' codes, then the new rows' on the same scale
                codes, scale = np.concatenate([old[0], ann.codes_of(old[1], M, new_rows)]), old[1]
            else:
                scale = ann.code_range(M, labels)
                codes = ann.codes_of(scale, M, labels)
            out[name] |= {"codes": f"ann-{name}-{count}.codes.npy", "scale": scale.tolist()}
            with atomic_open(folder / out[name]["codes"], "wb") as fh:
                np.save(fh, codes)
            written.add(out[name]["codes"])
        logger.info("ANN index of %s: %d rows (%s)", name, len(labels), out[name]["index"])
    return out


def _sound_codes(folder: Path, rec: dict, files: dict | None, dim: int) -> tuple[np.ndarray, np.ndarray] | None:
    """(the codes, their scale) of index record `rec` when its codes file is there, matches its
    checksum record in `files` and holds one uint8 row per label; None otherwise (logged)."""
    from reelvec.index.integrity import check_file

    name = rec.get("codes")
    if not name or rec.get("scale") is None or not (folder / name).exists():
        return None
    try:
        problem = check_file(folder, name, (files or {})[name])
        if problem is None:
            return load_codes(folder, rec, len(np.load(folder / rec["rows"], mmap_mode="r")), dim)
    except (OSError, ValueError, KeyError, TypeError) as exc:
        problem = f"{name} is unusable ({exc})"
    logger.warning("published copy %s: %s; its codes are made anew", folder, problem)
    return None


def _with_codes(folder: Path, name: str, dim: int, rec: dict) -> dict:
    """`rec` (an index kept as it is) with its labels' uint8 codes and their scale made anew."""
    from reelvec import ann

    labels = np.asarray(np.load(folder / rec["rows"], mmap_mode="r"))
    M = _rows_of(folder, name, dim, rec["covered"])
    scale = ann.code_range(M, labels)
    out = rec | {"codes": f"ann-{name}-{rec['covered']}.codes.npy", "scale": scale.tolist()}
    with atomic_open(folder / out["codes"], "wb") as fh:
        np.save(fh, ann.codes_of(scale, M, labels))
    return out


def _ann_names(meta: dict | None) -> set[str]:
    return {f for rec in ((meta or {}).get("ann") or {}).values()
            for f in (rec["index"], rec["rows"], *([rec["codes"]] if rec.get("codes") else []))}


def _write_generation(folder: Path, gen: int, meta: dict, offsets: np.ndarray, has: dict[str, np.ndarray],
                      dead: np.ndarray, columns: dict[str, list],
                      neighbours: tuple[np.ndarray, np.ndarray, np.ndarray] | None = None,
                      before: dict | None = None, written: set[str] | None = None) -> None:
    """Generation `gen`'s files, then meta.json pointing at it with their checksums (the commit),
    then the generation before the previous one is removed (the previous one stays for readers
    that just read meta)."""
    from reelvec.ingest.franchise import TitleSimilarity

    if neighbours is not None:
        knn.save_neighbours(folder, gen, neighbours)

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
    files = file_records(folder, gen, meta["vectors"], len(dead), int(offsets[-1]), before,
                         shared=sorted(_ann_names(meta)), written=written)
    body = {k: v for k, v in meta.items() if k not in ("files", "checksum")}
    body |= {"format": FORMAT, "generation": gen, "count": len(dead), "files": files}
    body["checksum"] = meta_digest(body)
    tmp = folder / ".meta.tmp.json"
    with open(tmp, "w") as fh:
        fh.write(json.dumps(body))
        fh.flush()
        os.fsync(fh.fileno())
    os.replace(tmp, folder / "meta.json")
    for old in (*folder.glob("gen-*.npz"), *folder.glob("columns-*.json"), *folder.glob("title-*.npz"),
                *folder.glob("knn-*.npy"), *folder.glob("answers-*.npz"), *folder.glob("answers-*.sum.json")):
        g = old.name.split(".")[0].rsplit("-", 1)[1]
        if g.isdigit() and int(g) < gen - 1:
            old.unlink(missing_ok=True)
    keep = _ann_names(body) | {n for n in (before or {}) if n.startswith("ann-")}
    for old in folder.glob("ann-*"):  # indexes neither this generation nor the one before reads
        if old.name not in keep:
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
        ids, ends, has, row_columns = _append_rows(tmp, vectors, 0, 0, points)
        columns = {"ids": ids, **row_columns}
        has_rows = {n: np.array(h, bool) for n, h in has.items()}
        neighbours = None
        indexes = _ann_indexes(tmp, vectors, has_rows, len(ids), None)
        if KNN_VECTOR in vectors and not indexes:  # with an index, `similar` reads it instead of lists
            M = _rows_of(tmp, KNN_VECTOR, vectors[KNN_VECTOR], len(ids))
            neighbours = knn.all_neighbours(M, has_rows[KNN_VECTOR])
        meta = {"collection": collection, "vectors": vectors, **({"ann": indexes} if indexes else {})}
        _write_generation(tmp, 0, meta, np.array([0, *ends], np.int64),
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
    c = CopyView(folder)
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
        ann_before = {f.name for f in folder.glob("ann-*")}
        try:
            ids, ends, has, row_columns = _append_rows(folder, vectors, rows, int(c.offsets[-1]), upserts)
            columns = {"ids": c.ids + ids}
            for name, values in row_columns.items():
                columns[name] = c.cols[name] + values
            all_has = {n: np.concatenate([c.has[n], np.array(has[n], bool)]) for n in vectors}
            all_dead = np.concatenate([dead, np.zeros(len(ids), bool)])
            neighbours = None
            written: set[str] = set()
            indexes = _ann_indexes(folder, vectors, all_has, len(all_dead), c.meta.get("ann"), c.meta.get("files"),
                                   written)
            meta = {k: v for k, v in c.meta.items() if k != "ann"} | ({"ann": indexes} if indexes else {})
            if KNN_VECTOR in vectors and not indexes:
                M = _rows_of(folder, KNN_VECTOR, vectors[KNN_VECTOR], len(all_dead))
                live = all_has[KNN_VECTOR] & ~all_dead
                new = np.arange(rows, len(all_dead))
                before = c.neighbours()
                if before is None:  # a copy published without lists: make them all
                    neighbours = knn.all_neighbours(M, live)
                else:
                    old_lists = tuple(np.array(a) for a in before)  # writable copies
                    knn.merge_neighbours(M, live, *old_lists, new)
                    added = knn.neighbours(M, live, new, knn.NEIGHBOURS)
                    neighbours = tuple(np.concatenate([a, b]) for a, b in zip(old_lists, added))  # type: ignore
            _write_generation(folder, gen, meta, np.concatenate([c.offsets, np.array(ends, np.int64)]), all_has,
                              all_dead, columns, neighbours, before=c.meta.get("files"), written=written)
        except (OSError, StoreError, RuntimeError, ValueError) as exc:  # nothing is committed before meta.json: drop this
            # generation's leftovers (and the ANN files this edit made; earlier ones may be read)
            stray = [f for f in (*folder.glob("ann-*"), *folder.glob(".ann-*")) if f.name not in ann_before]
            for f in (*folder.glob(f"*-{gen}.*"), *folder.glob(f".*-{gen}.tmp.*"), folder / ".meta.tmp.json", *stray):
                f.unlink(missing_ok=True)
            for n, d in vectors.items():  # appended rows past the committed ones are not read, but take space
                with contextlib.suppress(OSError):
                    os.truncate(folder / f"vec-{n}.f32", rows * d * 4)
            with contextlib.suppress(OSError):
                os.truncate(folder / "payload.jsonl", int(c.offsets[-1]))
            if isinstance(exc, OSError):
                raise disk_error(exc, folder, f"a live edit of {collection}", need) from exc
            raise
    finally:
        c.close()
    logger.info("published %s generation %d: %d upserted, %d deleted", collection, gen, len(upserts), len(deletes))
    return gen


def save_answers(root: str | Path, collection: str, generation: int, answers: dict[str, list], meta: dict) -> bool:
    """Keep precomputed answers of one query shape (a `similar` preset, its k) next to generation
    `generation` of `collection`'s copy: ``answers`` maps each point id to its hits (``ids``,
    ``score``, ``fused``/``text``/``image`` cosines and ``placed_by``, best first; kept for the rows
    answered only: a large catalogue precomputes its most voted films). They hold for
    that generation only: a reader of a later one (a live edit) computes instead. False when the
    copy has moved on already (or a hit is no longer in it). Any process may write them
    (atomically, named by generation, with their checksum beside them in ``answers-<g>.sum.json``)."""
    folder = published_dir(root, collection)
    c = CopyView(folder)
    tmp = folder / f".answers-{generation}.{os.getpid()}.tmp.npz"
    try:
        if c.generation != generation:
            return False
        k = max((len(a["ids"]) for a in answers.values()), default=0)
        which = np.array(sorted(c.row[pid] for pid in answers if pid in c.row), np.int32)  # the rows answered
        at = {int(r): i for i, r in enumerate(which.tolist())}
        n = len(which)
        rows = np.full((n, k), -1, np.int32)
        score = np.zeros((n, k), np.float64)
        cos = {v: np.full((n, k), np.nan, np.float32) for v in ("fused", "text", "image")}
        labels = sorted({x for a in answers.values() for x in a["placed_by"] if x})
        code = {x: i for i, x in enumerate(labels)}
        placed = np.full((n, k), -1, np.int16)
        for pid, a in answers.items():
            r = at.get(c.row.get(pid, -1))
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
        try:
            np.savez(tmp, rows=rows, score=score, placed=placed, which=which, labels=np.array(labels or [""], str),
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


