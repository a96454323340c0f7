"""`reelvec rollback`, `reelvec snapshot` and `reelvec restore`: operations on a live store's
collections and its `movies` alias. Each takes the VectorStore (and the job ledger) it acts on."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from reelvec.errors import StoreError
from reelvec.index.base import ALIAS

logger = logging.getLogger(__name__)


def rollback(store, ledger) -> str:
    """Point the alias back at the previous kept collection; returns its name."""
    from reelvec.index.jobs import rollback as roll

    target = roll(store, ledger)
    logger.info("alias %s -> %s", ALIAS, target)
    return target


@dataclass
class SnapshotResult:
    collection: str
    location: str  # embedded: the .tar.gz path; server: the snapshot name Qdrant keeps


def snapshot(store, out: str, collection: str | None = None) -> SnapshotResult:
    """Snapshot `collection` (default: the one the alias points at)."""
    coll = collection or store.resolve_alias(ALIAS)
    if not coll:
        raise StoreError("nothing to snapshot: no collection given and the alias points nowhere; "
                         "run `reelvec build` first or pass --collection")
    return SnapshotResult(coll, store.snapshot(coll, out))


@dataclass
class RestoreResult:
    collection: str
    activated: bool


def restore(store, ledger, snapshot_location: str, name: str | None = None, activate: bool = False) -> RestoreResult:
    """Restore a snapshot as a new collection; with `activate`, move the alias to it."""
    name = name or f"movies_restored_{time.strftime('%Y%m%d%H%M%S', time.gmtime())}"
    store.restore(snapshot_location, name)
    if activate:
        store.set_alias(ALIAS, name)
        ledger.push_history(name)
    return RestoreResult(name, activate)
