"""Feature cache: vectors keyed by (modality, sha256 of the exact input, encoder version).

Layout of a cache folder::

    index.sqlite          vectors(modality, version, input_sha, row, crc) + file hash memo
    <modality>-<dim>.f16  float16 rows, appended; row i starts at byte i*dim*2
    lock                  held (fcntl) by the one process writing
    parts/<i>-of-<n>/     caches of the same layout that `reelvec encode --part i/n` fills, one
                          process each (no shared lock); the next writer absorbs them

One data file per modality, not one file per movie. Each row's crc32 is in the index: a row
whose bytes no longer match (disk corruption, truncation, a stray write) is reported as a miss
and recomputed, never served. Rows are appended and fsynced before the index commits, so a
crash leaves at most unreferenced bytes.

Encoding spread over processes or machines: each runs ``reelvec encode --part i/n`` over every
n-th movie into ``parts/<i>-of-<n>`` (killed, it resumes from its own rows); then one plain
``encode`` or ``build`` absorbs the parts (`FeatureCache.absorb_parts`: rows copied with their
checksums verified, each part removed once it is whole here) and computes only what is left.
"""
from __future__ import annotations

import fcntl
import logging
import os
import re
import shutil
import sqlite3
import zlib
from pathlib import Path

import numpy as np

from reelvec.errors import EncoderError

logger = logging.getLogger(__name__)

PARTS = "parts"
PART_NAME = re.compile(r"[0-9]+-of-[0-9]+")  # what `part_folder` names (nothing else in parts/ is touched)
MAX_PARTS = 10_000
ABSORB_BATCH = 4096  # rows copied from a part at a time


def part_folder(folder: str | Path, part: int, parts: int) -> Path:
    """Where `reelvec encode --part part/parts` keeps its rows inside cache `folder`."""
    return Path(folder) / PARTS / f"{part}-of-{parts}"


class FeatureCache:
    """`folder`'s cache; `fallback`: another cache read (never written) for rows this one lacks
    (a part reads the main cache, so a rerun of a part recomputes nothing the whole has). The
    fallback is closed with this cache."""

    def __init__(self, folder: str | Path, fallback: FeatureCache | None = None):
        self.fallback = fallback
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)
        self._lock_fh = None
        try:
            self._open_db()
        except sqlite3.DatabaseError as exc:  # not a database (truncated, overwritten): start afresh
            import time

            bad = self.folder / f"index.sqlite.corrupt-{int(time.time())}"
            logger.warning("feature cache index %s is unreadable (%s); moved it to %s and starting an empty "
                           "cache (vectors are recomputed)", self.folder / "index.sqlite", exc, bad.name)
            self.db.close()
            (self.folder / "index.sqlite").rename(bad)
            for side in ("index.sqlite-wal", "index.sqlite-shm"):
                (self.folder / side).unlink(missing_ok=True)
            self._open_db()
        self.corrupt_seen = 0

    def _open_db(self) -> None:
        self.db = sqlite3.connect(self.folder / "index.sqlite", timeout=30)
        self.db.execute("PRAGMA journal_mode=WAL")
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.executescript(
            """
            CREATE TABLE IF NOT EXISTS vectors(
                modality TEXT, version TEXT, input_sha TEXT, dim INTEGER, row INTEGER, crc INTEGER,
                PRIMARY KEY(modality, version, input_sha));
            CREATE TABLE IF NOT EXISTS files(path TEXT PRIMARY KEY, size INTEGER, mtime_ns INTEGER, sha TEXT);
            """
        )

    # -------------------------------------------------------------------------------- locking
    def lock(self) -> None:
        """Take the writer lock or fail naming the holder."""
        if self._lock_fh is not None:
            return
        fh = open(self.folder / "lock", "a+")
        try:
            fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError as exc:
            fh.seek(0)
            holder = fh.read().strip() or "another process"
            fh.close()
            raise EncoderError(
                f"feature cache {self.folder} is locked by PID {holder}; wait for it or pass --cache elsewhere"
            ) from exc
        fh.seek(0)
        fh.truncate()
        fh.write(str(os.getpid()))
        fh.flush()
        self._lock_fh = fh

    def close(self) -> None:
        if self.fallback is not None:
            self.fallback.close()
        self.db.close()
        if self._lock_fh is not None:
            fcntl.flock(self._lock_fh, fcntl.LOCK_UN)
            self._lock_fh.close()
            self._lock_fh = None

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()

    # ---------------------------------------------------------------------------- file hashes
    def file_sha(self, path: str | Path) -> str:
        """sha256 of a file's bytes, memoised on (path, size, mtime) like git's index."""
        p = Path(path)
        st = p.stat()
        row = self.db.execute("SELECT size, mtime_ns, sha FROM files WHERE path=?", (str(p),)).fetchone()
        if row and row[0] == st.st_size and row[1] == st.st_mtime_ns:
            return row[2]
        sha = sha256_bytes(p.read_bytes())
        self.db.execute("INSERT OR REPLACE INTO files VALUES (?,?,?,?)", (str(p), st.st_size, st.st_mtime_ns, sha))
        return sha

    def commit(self) -> None:
        self.db.commit()

    # -------------------------------------------------------------------------------- vectors
    def _data_path(self, modality: str, dim: int) -> Path:
        return self.folder / f"{modality}-{dim}.f16"

    def get_many(self, modality: str, version: str, shas: list[str], dim: int) -> tuple[np.ndarray, np.ndarray]:
        """Returns (vectors float32 (n, dim), hit mask). Missing or corrupt rows are misses (then
        looked up in the fallback cache, if any)."""
        out, hit = self._get_many(modality, version, shas, dim)
        if self.fallback is not None and not hit.all():
            miss = np.flatnonzero(~hit)
            more, found = self.fallback.get_many(modality, version, [shas[i] for i in miss], dim)
            out[miss[found]], hit[miss[found]] = more[found], True
        return out, hit

    def _get_many(self, modality: str, version: str, shas: list[str], dim: int) -> tuple[np.ndarray, np.ndarray]:
        out = np.zeros((len(shas), dim), np.float32)
        hit = np.zeros(len(shas), bool)
        if not shas:
            return out, hit
        rows = dict(
            (sha, (r, crc))
            for sha, r, crc in self.db.execute(
                "SELECT input_sha, row, crc FROM vectors WHERE modality=? AND version=? AND dim=?",
                (modality, version, dim),
            )
        )
        path = self._data_path(modality, dim)
        if not rows or not path.exists():
            return out, hit
        n_rows = path.stat().st_size // (dim * 2)
        if n_rows == 0:
            return out, hit
        data = np.memmap(path, dtype=np.float16, mode="r", shape=(n_rows, dim))
        want = [(i, rows[s]) for i, s in enumerate(shas) if s in rows]
        idx = np.array([i for i, _ in want], dtype=np.int64)
        ridx = np.array([r for _, (r, _) in want], dtype=np.int64)
        inside = ridx < n_rows
        idx, ridx = idx[inside], ridx[inside]
        crcs = [want_crc for (_, (r, want_crc)) in want if r < n_rows]
        block = np.asarray(data[ridx]) if len(ridx) else np.zeros((0, dim), np.float16)
        for j, (i, expected) in enumerate(zip(idx, crcs)):
            if zlib.crc32(block[j].tobytes()) == expected:
                out[i] = block[j]
                hit[i] = True
            else:
                self.corrupt_seen += 1
        self.corrupt_seen += len(want) - int(inside.sum())
        del data
        return out, hit

    def absorb_parts(self) -> tuple[int, list[str]]:
        """Copy in every row of the part caches under ``parts/`` (`part_folder`: folders named
        ``<i>-of-<n>``, nothing else there is touched) that this cache lacks, then remove each
        part; returns (rows copied, text and poster vectors alike; the parts left for later).
        A part whose writer still runs (its lock is held) is left, logged; a part whose index is
        unreadable is renamed ``<name>.unreadable-<time>`` (its movies are recomputed); a row
        that fails its checksum is not copied (recomputed, counted in `corrupt_seen`). A part
        that is a symbolic link is absorbed and the link removed, not what it points to."""
        base = self.folder / PARTS
        if not base.is_dir():
            return 0, []
        self.lock()
        total, left = 0, []
        for sub in sorted(p for p in base.iterdir() if PART_NAME.fullmatch(p.name) and p.is_dir()):
            try:
                part = FeatureCache(sub)
            except (sqlite3.Error, OSError) as exc:
                self._set_aside(sub, exc)
                continue
            try:
                part.lock()
            except EncoderError as exc:
                part.close()
                logger.warning("feature cache part %s is still being written (%s); not absorbed yet", sub, exc)
                left.append(sub.name)
                continue
            try:  # the part's lock is held until it is gone: no part process starts on it meanwhile
                got = self._absorb(part)
                part.db.close()
                sub.unlink() if sub.is_symlink() else shutil.rmtree(sub)
            except (sqlite3.Error, OSError) as exc:
                part.close()
                self._set_aside(sub, exc)
                continue
            finally:
                part.close()
            total += got
            logger.info("feature cache: absorbed %d row(s) from part %s", got, sub.name)
        try:
            if not base.is_symlink() and not any(base.iterdir()):
                base.rmdir()
        except OSError as exc:  # someone put something there meanwhile: it stays
            logger.debug("kept %s (%s)", base, exc)
        return total, left

    def _set_aside(self, sub: Path, exc: Exception) -> None:
        import time

        aside = sub.with_name(f"{sub.name}.unreadable-{int(time.time())}")
        logger.warning("feature cache part %s is unreadable (%s); moved it to %s: its movies are encoded again",
                       sub, exc, aside.name)
        sub.rename(aside)

    def _absorb(self, part: FeatureCache) -> int:
        copied = skipped = 0
        groups = part.db.execute("SELECT DISTINCT modality, version, dim FROM vectors").fetchall()
        for modality, version, dim in groups:
            have = {s for (s,) in self.db.execute(
                "SELECT input_sha FROM vectors WHERE modality=? AND version=? AND dim=?", (modality, version, dim))}
            missing = [s for (s,) in part.db.execute(
                "SELECT input_sha FROM vectors WHERE modality=? AND version=? AND dim=? ORDER BY row",
                (modality, version, dim)) if s not in have]
            for s in range(0, len(missing), ABSORB_BATCH):
                shas = missing[s:s + ABSORB_BATCH]
                vectors, hit = part._get_many(modality, version, shas, dim)
                self.put_many(modality, version, [x for x, h in zip(shas, hit) if h], vectors[hit])
                copied += int(hit.sum())
                skipped += len(shas) - int(hit.sum())
        if skipped:
            logger.warning("feature cache part %s: %d row(s) failed their checksums or were cut off; they are "
                           "encoded again", part.folder, skipped)
            self.corrupt_seen += skipped
        self.db.executemany("INSERT OR IGNORE INTO files VALUES (?,?,?,?)",
                            part.db.execute("SELECT path, size, mtime_ns, sha FROM files").fetchall())
        self.db.commit()
        return copied

    def put_many(self, modality: str, version: str, shas: list[str], vectors: np.ndarray) -> None:
        if len(shas) == 0:
            return
        vectors = np.asarray(vectors, dtype=np.float16)
        n, dim = vectors.shape
        if n != len(shas):
            raise EncoderError(f"put_many: {len(shas)} keys but {n} vectors")
        self.lock()
        path = self._data_path(modality, dim)
        with open(path, "ab") as fh:
            size = fh.seek(0, os.SEEK_END)
            if size % (dim * 2):  # a torn tail from a crash: pad to a row boundary
                fh.write(b"\0" * (dim * 2 - size % (dim * 2)))
                size = fh.tell()
            start = size // (dim * 2)
            fh.write(vectors.tobytes())
            fh.flush()
            os.fsync(fh.fileno())
        self.db.executemany(
            "INSERT OR REPLACE INTO vectors VALUES (?,?,?,?,?,?)",
            [(modality, version, s, dim, start + i, zlib.crc32(vectors[i].tobytes())) for i, s in enumerate(shas)],
        )
        self.db.commit()


def sha256_bytes(data: bytes) -> str:
    import hashlib

    return hashlib.sha256(data).hexdigest()


def sha256_text(text: str) -> str:
    return sha256_bytes(text.encode("utf-8"))
