"""The reelvec home folder (default ``.reelvec``): the one place that knows its layout.

::

    catalog.jsonl (+ catalog.quarantine.jsonl)   merged catalog and rejected rows
    features/                                    feature cache, features.npz, encode.quarantine.jsonl,
                                                 artifacts/ (exported ONNX graphs)
    model/                                       fusion model; model/sequence/ the watch-history model
    store/                                       embedded Qdrant Edge store (unless a server is used)
    jobs/                                        index job ledger and alias history
    posters/                                     `reelvec fetch-posters` cache + ledger.sqlite
    edits.jsonl                                  live edits (`reelvec add` / `delete`), applied by every build
    writer.lock                                  the writer lock (who holds it: pid, command, since)
    add.quarantine.jsonl                         the rows the last `reelvec add` skipped, with reasons
    manifest.json                                what `reelvec.open(home)` needs (written by builds)

The manifest records every path relative to the home, so the search layer reads it without
knowing this layout. Which Qdrant a home uses is resolved the same way everywhere: an explicit
URL/key > ``QDRANT_URL``/``QDRANT_API_KEY`` > the manifest's URL; the API key is never written to disk.
"""
from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass
from pathlib import Path

from reelvec.errors import ReelvecError
from reelvec.fsutil import atomic_write_json

logger = logging.getLogger(__name__)

DEFAULT_HOME = Path(".reelvec")
DEFAULT_DATA = Path("../shared/data")


def data_dir(arg: str | Path | None = None) -> Path:
    """The data folder: the argument, else $REELVEC_DATA, else ../shared/data."""
    return Path(arg or os.environ.get("REELVEC_DATA") or DEFAULT_DATA)


@dataclass(frozen=True)
class Home:
    """Paths inside one reelvec home folder, and the manifest that describes it."""

    root: Path = DEFAULT_HOME

    @classmethod
    def at(cls, root: str | Path | None) -> Home:
        return cls(Path(root) if root else DEFAULT_HOME)

    @property
    def catalog(self) -> Path:
        return self.root / "catalog.jsonl"

    @property
    def features_dir(self) -> Path:
        return self.root / "features"

    @property
    def features(self) -> Path:
        return self.features_dir / "features.npz"

    @property
    def artifacts(self) -> Path:
        return self.features_dir / "artifacts"

    @property
    def model(self) -> Path:
        return self.root / "model"

    @property
    def sequence(self) -> Path:
        return self.model / "sequence"

    @property
    def store(self) -> Path:
        return self.root / "store"

    @property
    def jobs(self) -> Path:
        return self.root / "jobs"

    @property
    def posters(self) -> Path:
        return self.root / "posters"

    @property
    def edits(self) -> Path:
        return self.root / "edits.jsonl"

    @property
    def add_quarantine(self) -> Path:
        return self.root / "add.quarantine.jsonl"

    @property
    def manifest_path(self) -> Path:
        return self.root / "manifest.json"

    # ------------------------------------------------------------------------------ manifest
    def manifest(self) -> dict:
        """The manifest a build wrote ({} when there is none)."""
        try:
            m = json.loads(self.manifest_path.read_text())
        except FileNotFoundError:
            return {}
        except (OSError, json.JSONDecodeError) as exc:
            raise ReelvecError(f"{self.manifest_path} is unreadable ({exc}); rerun `reelvec build` "
                               "to write it again") from exc
        if not isinstance(m, dict):
            raise ReelvecError(f"{self.manifest_path} is not a JSON object; rerun `reelvec build` to write it again")
        return m

    def write_manifest(self, qdrant_url: str | None, scope: str, text_max_tokens: int | None = None,
                       text_encoder: str = "minilm") -> Path:
        rel = lambda p: str(p.relative_to(self.root))
        return atomic_write_json(self.manifest_path, {
            "store": None if qdrant_url else rel(self.store), "qdrant_url": qdrant_url, "model": rel(self.model),
            "sequence": rel(self.sequence), "catalog": rel(self.catalog), "features": rel(self.features_dir),
            "encoders": rel(self.artifacts), "jobs": rel(self.jobs), "edits": rel(self.edits), "scope": scope,
            "text_max_tokens": text_max_tokens, "text_encoder": text_encoder})

    # ------------------------------------------------------------------------------ the store
    def qdrant(self, url: str | None = None, api_key: str | None = None) -> tuple[str | None, str | None]:
        """(url, api_key) for this home: flag > environment > manifest (the key: flag > env only)."""
        url = url or os.environ.get("QDRANT_URL") or self.manifest().get("qdrant_url")
        return url, (api_key or os.environ.get("QDRANT_API_KEY")) if url else None

    def open_store(self, url: str | None = None, api_key: str | None = None):
        """The VectorStore this home indexes into: a Qdrant server, or the embedded store."""
        from reelvec.index import open_store

        url, key = self.qdrant(url, api_key)
        return open_store(url=url, api_key=key) if url else open_store(path=str(self.store))

    @property
    def writer_lock_path(self) -> Path:
        from reelvec.locks import WRITER_LOCK

        return self.root / WRITER_LOCK

    def writer_lock(self, wait: float = 0.0, what: str | None = None):
        """The home's writer lock (a context manager): held by live edits, a build's swap and
        replay, rollback and restore; readers never take it. Waits up to `wait` seconds for
        another holder, then raises a StoreError naming it."""
        from reelvec.locks import file_lock

        return file_lock(self.writer_lock_path, wait, what)

    def ledger(self):
        from reelvec.index.jobs import JobLedger

        return JobLedger(self.jobs)

