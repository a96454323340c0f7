"""`reelvec rollback`, `reelvec snapshot` and `reelvec restore`: operations on a live store's
collections and its `movies` alias. Each takes the VectorStore (and the job ledger) it acts on."""
from __future__ import annotations

import logging
import time
from dataclasses import dataclass

from reelvec.errors import StoreError
from reelvec.index.base import ALIAS

logger = logging.getLogger(__name__)


def rollback(store, ledger, home=None) -> str:
    """Point the alias back at the previous kept collection; returns its name. With the `home`
    (a `Home`; the caller holds its writer lock), the live edits logged after that collection
    stopped being live are applied to it again, so a rollback loses no acknowledged edit;
    when it was built with another fusion model than the home's they cannot be, and a warning
    says how many the rollback hides (the next build applies them)."""
    from reelvec.index.jobs import rollback as roll

    target = roll(store, ledger)
    logger.info("alias %s -> %s", ALIAS, target)
    if home is not None:
        store.release(target)  # the replay below opens it as a writer of its own
        _replay_after(home, ledger, target)
    return target


def _replay_after(home, ledger, target: str) -> int:
    import json

    from reelvec.index.base import point_id
    from reelvec.ingest.edits import EditLog, apply_edits
    from reelvec.search.engine import open_engine

    st = ledger.load(target)
    edits = EditLog(home.edits).read()
    seen = st.edits_seen if st is not None and st.edits_seen is not None else None
    if seen is None or seen >= len(edits):
        return 0
    later = edits[seen:]
    try:
        model = json.loads((home.model / "config.json").read_text()).get("version")
    except (OSError, ValueError):
        model = None
    if st is None or model != st.model_version:
        logger.warning("%d live edit(s) made after %s stopped being live are not in it (it was built with model %s, "
                       "the home has %s); they stay in %s and the next `reelvec build` applies them", len(later),
                       target, st.model_version if st else "?", model, home.edits)
        return 0
    ups = apply_edits([], later)  # each key's last state: the movies still there afterwards
    gone = sorted({e.key for e in later} - {m.key for m in ups})
    url, key = home.qdrant()
    with open_engine(home.root, url=url, api_key=key) as engine, engine.editing():
        if ups:
            engine.upsert(ups, record=False)
        there = {f.id for f in engine.store.retrieve(engine.collection, [point_id(k) for k in gone],
                                                     with_payload=False)}
        dels = [k for k in gone if point_id(k) in there]
        if dels:
            engine.delete(dels, record=False)
    st.edits_seen = len(edits)
    ledger.save(st)
    logger.info("rollback: applied the %d live edit(s) made after %s stopped being live", len(later), target)
    return len(later)


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
