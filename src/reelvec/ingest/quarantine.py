"""Bad input is recorded, never dropped in silence: every rejected row becomes a `Rejection`
written to a JSONL quarantine file, and every source gets a `SourceReport` that reconciles
``rows_read == accepted + quarantined``."""
from __future__ import annotations

import json
from collections import Counter
from dataclasses import asdict, dataclass, field
from pathlib import Path

from reelvec.fsutil import atomic_open


def printable(text: str) -> str:
    """Undecodable bytes (read as lone surrogates) shown as \\xNN, so any text can be written as UTF-8."""
    return text.encode("utf-8", "surrogateescape").decode("utf-8", "backslashreplace")


@dataclass(frozen=True)
class Rejection:
    source: str
    where: str  # "file:line" or "file[index]"
    reason: str
    raw: str

    def to_json(self) -> str:
        return json.dumps({k: printable(v) for k, v in asdict(self).items()}, ensure_ascii=False)


@dataclass
class SourceReport:
    source: str
    rows_read: int = 0
    accepted: int = 0
    quarantined: int = 0
    duplicates_merged: int = 0  # identical repeats, folded into the first (counted in accepted)
    reasons: Counter = field(default_factory=Counter)
    unknown_genres: dict = field(default_factory=dict)  # genre -> rows (kept, outside the shared vocabulary)
    people: Counter = field(default_factory=Counter)  # names read and rejected (`reelvec.ingest.people`)

    def reject(self, rejections: list[Rejection], where: str, reason: str, raw: str) -> None:
        self.quarantined += 1
        self.reasons[reason.split(":")[0]] += 1
        rejections.append(Rejection(self.source, where, reason, raw[:2000]))

    def fold(self, seen: dict, key, movie, rejections: list[Rejection], where: str, raw: str) -> None:
        """Accept a row, fold an identical repeat into the first, or quarantine a conflicting one."""
        prev = seen.get(key)
        if prev is None:
            seen[key] = movie
            self.accepted += 1
        elif prev == movie:
            self.accepted += 1
            self.duplicates_merged += 1
        else:
            self.reject(rejections, where, f"duplicate id with different content: {key}", raw)

    @property
    def reconciles(self) -> bool:
        return self.rows_read == self.accepted + self.quarantined

    def as_dict(self) -> dict:
        return {
            "source": self.source,
            "rows_read": self.rows_read,
            "accepted": self.accepted,
            "quarantined": self.quarantined,
            "duplicates_merged": self.duplicates_merged,
            "reasons": dict(self.reasons),
            **({"people": dict(self.people)} if self.people else {}),
        }


def write_quarantine(path: Path, rejections: list[Rejection]) -> None:
    """Replace the quarantine file atomically, so a rerun leaves exactly this run's rejections."""
    with atomic_open(path) as fh:
        for r in rejections:
            fh.write(r.to_json() + "\n")
