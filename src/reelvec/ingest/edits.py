"""Live edits kept as a catalogue delta: ``<home>/edits.jsonl``, one JSON object per edit,
appended in order (``{"op": "upsert", "movie": {...}}`` or ``{"op": "delete", "key": "..."}``).

`reelvec add` / `reelvec delete` (and `Engine.upsert` / `Engine.delete`) write the live
collection at once and append here; every later `reelvec build` / `reindex` applies the log to
the catalogue it read, so an edit survives rebuilds until the sources themselves carry it.
An upsert replaces the whole record of its key (a movie of the sources included).
"""
from __future__ import annotations

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


class EditLog:
    """The append-only edit log of one home."""

    def __init__(self, path: str | Path):
        self.path = Path(path)

    def append(self, upserts: Sequence[Movie] = (), deletes: Sequence[str] = ()) -> None:
        now = time.time()
        lines = [{"op": "upsert", "key": m.key, "movie": m.to_dict(), "at": now} for m in upserts]
        lines += [{"op": "delete", "key": k, "at": now} for k in deletes]
        if not lines:
            return
        self.path.parent.mkdir(parents=True, exist_ok=True)
        data = "".join(json.dumps(x, ensure_ascii=False, sort_keys=True) + "\n" for x in lines).encode()
        fd = os.open(self.path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o644)
        try:  # one write: concurrent appenders never interleave inside a line
            os.write(fd, data)
            os.fsync(fd)
        finally:
            os.close(fd)

    def read(self) -> list[Edit]:
        """Every edit, oldest first. A torn last line (a crash mid-append) is skipped with a
        warning; a damaged line elsewhere is an error naming it."""
        try:
            text = self.path.read_text(encoding="utf-8")
        except FileNotFoundError:
            return []
        lines = text.split("\n")
        out = []
        for n, line in enumerate(lines, 1):
            if not line.strip():
                continue
            try:
                d = json.loads(line)
                op, key = d["op"], d["key"]
                if op not in ("upsert", "delete") or not isinstance(key, str):
                    raise ValueError(f"op {op!r}")
                movie = Movie.from_dict(d["movie"]) if op == "upsert" else None
            except (ValueError, KeyError, TypeError) as exc:
                if n >= len(lines) - 1:  # the last line: an append that did not finish
                    logger.warning("%s:%d is incomplete (%s); ignored", self.path, n, exc)
                    continue
                raise IngestError(f"{self.path}:{n} is not a valid edit ({exc}); fix or delete that line "
                                  "(the other edits stay)") from exc
            out.append(Edit(op, key, movie, float(d.get("at") or 0.0)))
        return out

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
