"""Checksums of published copies: what a writer records with each generation (`file_records`)
and what readers, `reelvec verify` and a build check against it (`check_file`, `verify_copy`).

Every per-generation file is hashed whole; the append-only vector and payload files are hashed
in `BLOCK`-sized pieces over the prefix the generation uses, so an append re-hashes only the
last block and the new bytes, and a reader of a large copy can check a sample of blocks.
"""
from __future__ import annotations

import json
import os
from collections.abc import Collection, Sequence
from pathlib import Path

import numpy as np

from reelvec.errors import StoreError
from reelvec.fsutil import BLOCK, block_digests, file_digest
from reelvec.index.neighbours import KNN_PARTS

FULL_CHECK_BYTES = 512 << 20  # a reader checks every block of a copy up to this size on open, else samples
_SEEN: set = set()  # (file stamp, block, checksum) a reader of this process has checked already


def file_records(folder: Path, gen: int, vectors: dict[str, int], rows: int, payload_end: int,
                  before: dict | None = None, shared: Sequence[str] = (),
                  written: Collection[str] | None = None) -> dict[str, dict]:
    """Checksums of everything generation `gen` of the copy in `folder` is made of: the first
    `rows` rows of each vector file and `payload_end` bytes of payloads (block lists, of which
    `before`'s are reused for the blocks an append left alone), the files `shared` with earlier
    generations (ANN indexes: block lists, sampled by readers; written once, so `before`'s
    record stands for one not in `written`: a file damaged since keeps failing it) and each
    per-generation file."""
    before = before or {}
    out: dict[str, dict] = {}
    kept = [n for n in shared if n in before and written is not None and n not in written]
    out.update((n, before[n]) for n in kept)
    sizes = [*((f"vec-{n}.f32", rows * d * 4) for n, d in vectors.items()), ("payload.jsonl", payload_end),
             *((name, (folder / name).stat().st_size) for name in shared if name not in kept)]
    for name, size in sizes:
        out[name] = {"size": size, "blocks": block_digests(folder / name, size, before.get(name, {}).get("blocks"))}
    for name in (f"gen-{gen}.npz", f"columns-{gen}.json", f"title-{gen}.npz",
                 *(f"knn-{part}-{gen}.npy" for part in KNN_PARTS)):
        path = folder / name
        if path.exists():
            out[name] = {"size": path.stat().st_size, "xxh": file_digest(path)}
    return out


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


def meta_digest(meta: dict) -> str:
    """The checksum meta.json carries of itself: xxh3 of its other fields as canonical JSON."""
    from reelvec.fsutil import digest_bytes

    body = {k: v for k, v in meta.items() if k != "checksum"}
    return digest_bytes(json.dumps(body, sort_keys=True, separators=(",", ":")).encode())


def check_meta(folder: Path, meta: dict) -> None:
    """meta.json is the one it wrote (its own checksum) and agrees with itself: a checksum for
    every file, and vector and payload files recorded at the sizes its row count needs."""
    if meta.get("checksum") != meta_digest(meta):
        raise damaged(folder, "meta.json does not match its own checksum")
    files = meta.get("files")
    if not isinstance(files, dict) or not files:
        raise damaged(folder, "meta.json lists no files")
    n = int(meta.get("count", -1))
    for name, d in (meta.get("vectors") or {}).items():
        rec = files.get(f"vec-{name}.f32")
        if rec is None or rec.get("size") != n * int(d) * 4:
            raise damaged(folder, f"meta.json's vec-{name}.f32 is not {n} rows of {d} floats")


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
    check_meta(folder, meta)
    gen = meta.get("generation", 0)
    for name, rec in files.items():
        problem = check_file(folder, name, rec)
        if problem:
            raise damaged(folder, problem)
    answers = folder / f"answers-{gen}.npz"
    if answers.exists():
        problem = answers_problem(folder, gen)
        if problem:
            raise damaged(folder, problem)
    from reelvec.index.published import CopyView, load_codes

    c = CopyView(folder, check="full")  # the contents: sizes agree, every vector finite, codes in shape
    try:
        c.check_rows()
        for name, rec in (meta.get("ann") or {}).items():
            if rec.get("codes"):
                try:
                    labels = np.load(folder / rec["rows"], mmap_mode="r", allow_pickle=False)
                    load_codes(folder, rec, len(labels), int(meta["vectors"][name]))
                except (OSError, ValueError, TypeError, KeyError) as exc:
                    raise StoreError(f"published copy {folder} is damaged ({rec['codes']} is unusable: {exc}); "
                                     "the next live edit (`reelvec add`/`delete`) makes the codes anew, or run "
                                     "`reelvec build`; queries meanwhile use the index without them") from exc
    finally:
        c.close()
    return {"folder": str(folder), "generation": gen, "files": len(files),
            "bytes": sum(r["size"] for r in files.values()), "answers": answers.exists()}


def answers_problem(folder: Path, gen: int) -> str | None:
    try:
        rec = json.loads((folder / f"answers-{gen}.sum.json").read_text())
    except FileNotFoundError:
        return f"answers-{gen}.npz has no checksum"
    except (OSError, ValueError) as exc:
        return f"answers-{gen}.sum.json is unreadable ({exc})"
    return check_file(folder, f"answers-{gen}.npz", rec)


FULL_CHECK_BYTES = 512 << 20  # a reader checks every block of a copy up to this size on open, else samples
_SEEN: set = set()  # (file, block, checksum) a reader of this process has checked already


