"""Bulk (re)indexing with zero downtime: build a new versioned collection in batches, verify it,
then swap the `movies` alias; keep the previous collection for rollback, delete older ones.

A small job ledger (JSON, replaced atomically after every committed batch) makes a killed job
resumable: the rerun finds the unfinished collection for the same model and catalogue, skips
the committed batches, and ends with an exact point count (point ids are uuid5 of the movie
key, so re-sent points overwrite rather than duplicate). The alias moves only after
verification, so readers never see a half-built collection.
"""
from __future__ import annotations

import contextlib
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from reelvec.errors import StoreError
from reelvec.fsutil import atomic_write_json
from reelvec.index.base import ALIAS, PointData, VectorStore

logger = logging.getLogger(__name__)


@dataclass
class JobState:
    collection: str
    model_version: str
    catalog_digest: str
    total: int
    batch_size: int
    committed: int = 0  # batches fully upserted (of the last run's batch size)
    points_done: int = 0  # points upserted, in order: what a rerun resumes from, whatever its batch size
    done: bool = False
    verified: bool = False
    score: float | None = None  # the model's gate metric, if known
    created: float = field(default_factory=time.time)
    pending: list[int] | None = None  # [lo, hi]: the counts a live edit under way (or one that died) may leave
    edits_seen: int | None = None  # it holds the first this many edits of edits.jsonl (set when it goes live or stops)


class JobLedger:
    """One JSON file per collection in `folder`, plus the alias history for rollback."""

    def __init__(self, folder: str | Path):
        self.folder = Path(folder)
        self.folder.mkdir(parents=True, exist_ok=True)

    def _write(self, path: Path, data) -> None:
        atomic_write_json(path, data)

    def save(self, st: JobState) -> None:
        self._write(self.folder / f"{st.collection}.json", asdict(st))

    def load(self, collection: str) -> JobState | None:
        """The job state of `collection`; None when there is none or it is unreadable (then the
        collection counts as unverified and the next build indexes anew)."""
        path = self.folder / f"{collection}.json"
        try:
            return JobState(**json.loads(path.read_text()))
        except FileNotFoundError:
            return None
        except (OSError, ValueError, TypeError) as exc:
            logger.warning("job ledger %s is unreadable (%s); treating %s as unverified", path, exc, collection)
            return None

    def all(self) -> list[JobState]:
        out = []
        for p in sorted(self.folder.glob("movies_*.json")):
            try:
                out.append(JobState(**json.loads(p.read_text())))
            except (OSError, ValueError, TypeError) as exc:
                logger.warning("job ledger %s is unreadable (%s); ignored", p, exc)
                continue
        return sorted(out, key=lambda s: s.created)

    def forget(self, collection: str) -> None:
        (self.folder / f"{collection}.json").unlink(missing_ok=True)

    def history(self) -> list[str]:
        path = self.folder / "alias_history.json"
        try:
            data = json.loads(path.read_text())
        except FileNotFoundError:
            return []
        except (OSError, ValueError) as exc:
            logger.warning("alias history %s is unreadable (%s); starting a new one", path, exc)
            return []
        return [c for c in data if isinstance(c, str)] if isinstance(data, list) else []

    def push_history(self, collection: str) -> None:
        self._write(self.folder / "alias_history.json", (self.history() + [collection])[-20:])

    def set_history(self, items: list[str]) -> None:
        self._write(self.folder / "alias_history.json", items)


def _intact(store: VectorStore, collection: str, expected: int) -> bool:
    """The live collection still holds every point the ledger verified (a deleted segment folder
    or an unopenable shard means: index anew)."""
    try:
        n = store.count(collection)
    except StoreError as exc:
        logger.warning("live collection %s cannot be read (%s); indexing a new one", collection, exc)
        return False
    if n != expected:
        logger.warning("live collection %s has %d points, the ledger verified %d; indexing a new one",
                       collection, n, expected)
    return n == expected


def collection_name(model_version: str, now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now or time.time()))
    return f"movies_{model_version.replace('-', '_')}_{stamp}"


@dataclass
class IndexResult:
    collection: str
    points: int
    skipped_points: int  # points a killed run had committed, not sent again
    swapped: bool
    reused: bool = False
    message: str = ""
    dropped: list[str] = field(default_factory=list)  # orphaned partial collections removed
    replayed: int = 0  # live edits made during the bulk load, applied before the swap


def index_points(
    store: VectorStore,
    ledger: JobLedger,
    points: Sequence[PointData],
    vectors: dict[str, int],
    model_version: str,
    catalog_digest: str,
    batch_size: int = 1024,
    score: float | None = None,
    gate: bool = False,
    keep: int = 1,
    progress: bool = False,
    shards: int = 1,
    replication_factor: int = 1,
    on_batch: Callable[[int], None] | None = None,
    force: bool = False,
    guard: Callable[[], contextlib.AbstractContextManager] = contextlib.nullcontext,
    before_swap: Callable[[str], int] | None = None,
) -> IndexResult:
    """Build (or resume) a collection for these points, verify, and swap the alias.

    `guard()` (the home's writer lock) is held while the live collection is looked at and
    while the alias moves, not while the new collection is loaded, so live edits go on during
    a bulk load; `before_swap(collection)`, called under it just before the swap, brings the
    edits made meanwhile into the new collection and returns how many it applied."""
    from tqdm import tqdm

    with guard():
        live = store.resolve_alias(ALIAS)
        live_state = ledger.load(live) if live else None
        if (not force and live_state and live_state.done and live_state.model_version == model_version
                and live_state.catalog_digest == catalog_digest and _intact(store, live, len(points))):
            return IndexResult(live, len(points), 0, False, reused=True, message="index is up to date")
        if live:
            store.release(live)  # live edits go on during the bulk load: they need its shard
    existing = set(store.collections())
    unfinished = [s for s in ledger.all() if not s.done and s.collection != live and s.collection in existing]
    matches = lambda s: (s.model_version == model_version and s.catalog_digest == catalog_digest
                         and s.total == len(points))
    resume = next((s for s in reversed(unfinished) if matches(s)), None)
    orphans = [s.collection for s in unfinished if s is not resume]
    for name in orphans:  # partial collections of other models/catalogues: nothing will resume them
        logger.info("dropping %s, a partial collection no job will resume", name)
        store.drop_collection(name)
        ledger.forget(name)
    if resume:
        st = resume
        st.points_done = st.points_done or min(len(points), st.committed * st.batch_size)  # older ledgers
    else:
        st = JobState(collection_name(model_version), model_version, catalog_digest, len(points), batch_size, score=score)
        store.create_collection(st.collection, vectors, shards=shards, replication_factor=replication_factor)
        ledger.save(st)
    skipped = st.points_done
    st.batch_size, st.committed = batch_size, 0
    bar = tqdm(total=len(points), initial=skipped, desc=f"index {st.collection}", unit="pt", disable=not progress)
    for b, start in enumerate(range(skipped, len(points), batch_size)):
        chunk = points[start:start + batch_size]
        store.upsert(st.collection, chunk)
        st.points_done, st.committed = start + len(chunk), b + 1
        ledger.save(st)
        bar.update(len(chunk))
        if on_batch:
            on_batch(b)
    bar.close()
    store.finalize(st.collection)
    verify(store, st.collection, points)
    st.done = st.verified = True
    st.score = score if score is not None else st.score
    ledger.save(st)
    if gate and live_state and live_state.score is not None and st.score is not None and st.score < live_state.score:
        return IndexResult(st.collection, len(points), skipped, False, dropped=orphans,
                           message=f"gate: new model scores {st.score:.4f} < live {live_state.score:.4f}; alias "
                                   f"stays on {live} (new collection kept as {st.collection} for inspection)")
    replayed = 0
    with guard():
        if before_swap is not None:
            replayed = before_swap(st.collection)
            if replayed:
                st.total = store.count(st.collection)
                ledger.save(st)
        store.set_alias(ALIAS, st.collection)
        ledger.push_history(st.collection)
        prune(store, ledger, keep=keep)
    note = f"; resumed after {skipped} points" if skipped else ""
    note += f"; {replayed} live edit(s) made meanwhile applied" if replayed else ""
    note += f"; dropped {len(orphans)} orphaned partial collection(s)" if orphans else ""
    return IndexResult(st.collection, len(points), skipped, True, message=f"alias {ALIAS} -> {st.collection}{note}",
                       dropped=orphans, replayed=replayed)


def verify(store: VectorStore, collection: str, points: Sequence[PointData], spot: int = 8) -> None:
    """Exact count, and a few points read back with the vectors and payload that were sent."""
    n = store.count(collection)
    if n != len(points):
        raise StoreError(f"verification failed: {collection} has {n} points, expected {len(points)}")
    if not points:
        return
    rng = np.random.default_rng(0)
    sample = [points[int(i)] for i in rng.choice(len(points), size=min(spot, len(points)), replace=False)]
    got = {f.id: f for f in store.retrieve(collection, [p.id for p in sample], with_vectors=True)}
    for p in sample:
        f = got.get(p.id)
        if f is None:
            raise StoreError(f"verification failed: point {p.id} ({p.payload.get('title')}) missing from {collection}")
        for name, v in p.vectors.items():
            a = np.asarray(v, np.float32)
            b = np.asarray(f.vectors.get(name, []), np.float32)
            if b.shape != a.shape or float(a @ b / max(np.linalg.norm(a) * np.linalg.norm(b), 1e-9)) < 0.999:
                raise StoreError(f"verification failed: vector {name} of {p.payload.get('title')} differs in {collection}")


def prune(store: VectorStore, ledger: JobLedger, keep: int = 1) -> list[str]:
    """Keep the live collection and `keep` previous ones from the alias history; drop older ones."""
    hist = ledger.history()
    live = store.resolve_alias(ALIAS)
    keep_set = {live} | set([c for c in hist if c != live][-keep:] if keep else [])
    dropped = []
    for c in store.collections():
        if c.startswith("movies_") and c not in keep_set:
            st = ledger.load(c)
            if st is not None and not st.done:
                continue  # an unfinished job may still be resumed
            try:
                store.drop_collection(c)
            except StoreError as exc:  # another process has it open: the next build drops it
                logger.warning("kept %s for now: %s", c, exc)
                continue
            ledger.forget(c)
            dropped.append(c)
    ledger.set_history([c for c in hist if c in keep_set])
    return dropped


def rollback(store: VectorStore, ledger: JobLedger) -> str:
    """Point the alias back at the previous complete collection."""
    hist = ledger.history()
    live = store.resolve_alias(ALIAS)
    previous = [c for c in hist if c != live and c in store.collections()]
    if not previous:
        raise StoreError("nothing to roll back to: no previous collection is kept")
    target = previous[-1]
    store.set_alias(ALIAS, target)
    ledger.set_history([c for c in hist if c != live])
    return target
