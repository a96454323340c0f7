"""Live edits kept as a catalogue delta: ``<home>/edits.jsonl``, one JSON object per edit,
appended in order (``{"op": "upsert", "movie": {...}}`` or ``{"op": "delete", "key": "..."}``).

`reelvec add` / `reelvec delete` (and `Engine.upsert` / `Engine.delete`) log their intent here
first, then write the live collection, then mark it committed (``{"commit": txn}``); every
later `reelvec build` / `reindex` applies the log to the catalogue it read, so an edit
survives rebuilds until the sources themselves carry it.
An upsert replaces the whole record of its key (a movie of the sources included).
"""
from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path

from reelvec.errors import IngestError
from reelvec.ingest.movie import Movie

logger = logging.getLogger(__name__)

OWN = "own"  # key prefix of added movies without a TMDB id: own:<id>, or own:<title>:<year>


@dataclass(frozen=True)
class Edit:
    op: str  # upsert | delete
    key: str
    movie: Movie | None = None
    at: float = 0.0
    txn: str | None = None  # the live edit it belongs to (None: logged before transactions)
    title: str | None = None  # a delete: the title of the movie it deleted


COMMIT = b'{"commit": '  # how a commit mark starts: found from the end of the log without parsing it


class EditLog:
    """The append-only edit log of one home: the first step of every live edit's commit.

    A writer (holding the home's writer lock) appends an edit's *intent* (its lines, each with
    the edit's ``txn``) and fsyncs it, then applies it to the store and the published copy, then
    appends ``{"commit": txn}``. An intent without its commit mark is an edit that died half
    way: the next writer applies it again (`pending`) before its own edit, and every build
    applies it (`read` returns intents whether committed or not: what is logged will happen)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def _append(self, data: bytes) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_APPEND | os.O_CREAT, 0o644)
        try:  # one write: concurrent appenders never interleave inside a line
            start = os.fstat(fd).st_size
            start = self._cut_damaged_tail(fd, start)
            try:
                if os.write(fd, data) != len(data):
                    raise OSError(errno.ENOSPC, "short write")
                os.fsync(fd)
            except OSError as exc:
                with contextlib.suppress(OSError):  # never leave half a line behind
                    os.ftruncate(fd, start)
                from reelvec.errors import StoreError

                what = "disk full" if exc.errno in (errno.ENOSPC, errno.EDQUOT) else str(exc)
                raise StoreError(f"cannot append to {self.path} ({what}; {len(data)} bytes needed); nothing was "
                                 "changed: free some space and run the edit again") from exc
        finally:
            os.close(fd)

    def _cut_damaged_tail(self, fd: int, size: int) -> int:
        """Before appending: a last line that is torn (a crash mid-append) or does not parse (a
        damaged disk block) would end up in the middle of the log, where it stops every build;
        it is moved to ``edits.quarantine.jsonl`` instead. Returns the new size."""
        if not size:
            return size
        tail = os.pread(fd, min(size, 1 << 20), max(0, size - (1 << 20)))
        body = tail[:-1] if tail.endswith(b"\n") else tail
        cut = body.rfind(b"\n") + 1
        last = body[cut:]
        try:
            ok = tail.endswith(b"\n") and (not last.strip() or isinstance(json.loads(last.decode("utf-8")), dict))
        except (ValueError, UnicodeDecodeError):
            ok = False
        if ok:
            return size
        keep = size - len(tail) + cut
        q = self.path.with_name(self.path.stem + ".quarantine.jsonl")
        with open(q, "ab") as fh:
            fh.write(json.dumps({"where": f"{self.path.name} byte {keep}", "raw": last.decode("utf-8", "replace"),
                                 "reason": "torn or unparsable last line", "at": time.time()}).encode() + b"\n")
        logger.warning("%s ended in a torn or unparsable line; it was moved to %s", self.path, q)
        os.ftruncate(fd, keep)
        return keep

    def append(self, upserts: Sequence[Movie] = (), deletes: Sequence[str] = (), txn: str | None = None,
               titles: dict[str, str] | None = None) -> str | None:
        """Log one edit's intent (fsynced before it returns); returns its transaction id (None:
        nothing to log). Without `txn` a new id is made."""
        now = time.time()
        txn = txn or f"{time.time_ns():x}-{os.getpid()}"
        lines = [{"op": "upsert", "key": m.key, "movie": m.to_dict(), "at": now, "txn": txn} for m in upserts]
        lines += [{"op": "delete", "key": k, "at": now, "txn": txn, **({"title": (titles or {})[k]}
                                                                      if (titles or {}).get(k) else {})}
                  for k in deletes]
        if not lines:
            return None
        self._append("".join(json.dumps(x, ensure_ascii=False, sort_keys=True) + "\n" for x in lines).encode())
        return txn

    def abort(self, txn: str) -> None:
        """Mark a logged intent as never applied (it was refused before it changed anything):
        builds and the next writer skip it."""
        self._append(f'{{"commit": {json.dumps(txn)}, "aborted": true, "at": {time.time()}}}\n'.encode())

    def commit(self, txns: Sequence[str]) -> None:
        """Mark transactions applied (their edits are in the live collection and its copy)."""
        if txns:
            now = time.time()
            self._append("".join(f'{{"commit": {json.dumps(t)}, "at": {now}}}\n' for t in txns).encode())

    def _lines(self, text: str, first: int = 1) -> list[tuple[int, dict]]:
        lines = text.split("\n")
        out = []
        for n, line in enumerate(lines, first):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                if not isinstance(d, dict):
                    raise ValueError("not an object")
                if "commit" in d:
                    out.append((n, d))
                    continue
                op, key = d["op"], d["key"]
                if op not in ("upsert", "delete") or not isinstance(key, str):
                    raise ValueError(f"op {op!r}")
                d["_movie"] = Movie.from_dict(d["movie"]) if op == "upsert" else None
            except (ValueError, KeyError, TypeError) as exc:
                if n >= first + len(lines) - 2:  # the last line: an append that did not finish
                    logger.warning("%s:%d is incomplete (%s); ignored", self.path, n, exc)
                    continue
                raise IngestError(f"{self.path}:{n} is not a valid edit ({exc}); fix or delete that line "
                                  "(the other edits stay)") from exc
            out.append((n, d))
        return out

    def read(self) -> list[Edit]:
        """Every edit, oldest first (commit marks left out). A torn last line (a crash mid-append)
        is skipped with a warning; a damaged line elsewhere is an error naming it."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        except UnicodeDecodeError as exc:
            raise IngestError(f"{self.path} is not UTF-8 text ({exc}); fix or delete the damaged line") from exc
        lines = self._lines(text)
        aborted = {d["commit"] for _, d in lines if "commit" in d and d.get("aborted")}
        return [Edit(d["op"], d["key"], d["_movie"], float(d.get("at") or 0.0), d.get("txn"), d.get("title"))
                for _, d in lines if "commit" not in d and d.get("txn") not in aborted]

    def pending(self) -> list[tuple[str, list[Edit]]]:
        """The transactions logged after the last commit mark that have none of their own, oldest
        first, with their edits: edits that died between their intent and their commit. Reads only
        the log's tail (writers recover before they write, so nothing older can be pending)."""
        try:
            data = self.path.read_bytes()
        except FileNotFoundError:
            return []
        at = data.rfind(b"\n" + COMMIT)
        if at >= 0:
            start = data.find(b"\n", at + 1) + 1  # the line after the last commit mark
        else:
            start = data.find(b"\n") + 1 if data.startswith(COMMIT) else 0
        try:
            text = data[start:].decode("utf-8")
        except UnicodeDecodeError as exc:
            raise IngestError(f"{self.path} is not UTF-8 text after byte {start} ({exc}); fix or delete the "
                              "damaged line") from exc
        first = data[:start].count(b"\n") + 1
        done: set[str] = set()
        txns: dict[str, list[Edit]] = {}
        for _, d in self._lines(text, first):
            if "commit" in d:
                done.add(str(d["commit"]))
            elif d.get("txn"):
                txns.setdefault(d["txn"], []).append(
                    Edit(d["op"], d["key"], d["_movie"], float(d.get("at") or 0.0), d["txn"]))
        return [(t, es) for t, es in txns.items() if t not in done]

    def __len__(self) -> int:
        return len(self.read())


def apply_edits(movies: Iterable[Movie], edits: Sequence[Edit]) -> list[Movie]:
    """The catalogue with the edits applied in order: an upsert replaces (or adds) its key, a
    delete removes it. Catalogue order is kept; new keys come last."""
    by_key = {m.key: m for m in movies}
    for e in edits:
        if e.op == "upsert" and e.movie is not None:
            by_key[e.key] = e.movie  # a known key keeps its place
        elif e.op == "delete":
            by_key.pop(e.key, None)
    return list(by_key.values())
