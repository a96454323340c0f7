"""Bulk (re)indexing with zero downtime: build a new versioned collection in batches, verify it,
then swap the `movies` alias; keep the previous collection for rollback, delete older ones.

A small job ledger (JSON, replaced atomically after every committed batch) makes a killed job
resumable: the rerun finds the unfinished collection for the same model and catalogue, skips
the committed batches, and ends with an exact point count (point ids are uuid5 of the movie
key, so re-sent points overwrite rather than duplicate). The alias moves only after
verification, so readers never see a half-built collection.
"""
from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np

from reelvec.errors import StoreError
from reelvec.fsutil import atomic_write_json
from reelvec.index.base import ALIAS, PointData, VectorStore


@dataclass
class JobState:
    collection: str
    model_version: str
    catalog_digest: str
    total: int
    batch_size: int
    committed: int = 0  # batches fully upserted
    done: bool = False
    verified: bool = False
    score: float | None = None  # the model's gate metric, if known
    created: float = field(default_factory=time.time)


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
        try:
            return JobState(**json.loads((self.folder / f"{collection}.json").read_text()))
        except FileNotFoundError:
            return None

    def all(self) -> list[JobState]:
        out = []
        for p in sorted(self.folder.glob("movies_*.json")):
            try:
                out.append(JobState(**json.loads(p.read_text())))
            except (json.JSONDecodeError, TypeError):
                continue
        return sorted(out, key=lambda s: s.created)

    def forget(self, collection: str) -> None:
        (self.folder / f"{collection}.json").unlink(missing_ok=True)

    def history(self) -> list[str]:
        try:
            return json.loads((self.folder / "alias_history.json").read_text())
        except FileNotFoundError:
            return []

    def push_history(self, collection: str) -> None:
        self._write(self.folder / "alias_history.json", (self.history() + [collection])[-20:])

    def set_history(self, items: list[str]) -> None:
        self._write(self.folder / "alias_history.json", items)


def collection_name(model_version: str, now: float | None = None) -> str:
    stamp = time.strftime("%Y%m%d%H%M%S", time.gmtime(now or time.time()))
    return f"movies_{model_version.replace('-', '_')}_{stamp}"


@dataclass
class IndexResult:
    collection: str
    points: int
    skipped_batches: int
    swapped: bool
    reused: bool = False
    message: str = ""


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
) -> IndexResult:
    """Build (or resume) a collection for these points, verify, and swap the alias."""
    from tqdm import tqdm

    live = store.resolve_alias(ALIAS)
    live_state = ledger.load(live) if live else None
    if (not force and live_state and live_state.done and live_state.model_version == model_version
            and live_state.catalog_digest == catalog_digest and store.count(live) == len(points)):
        return IndexResult(live, len(points), 0, False, reused=True, message="index is up to date")
    resume = next((s for s in reversed(ledger.all()) if not s.done and s.collection != live and s.model_version == model_version
                   and s.catalog_digest == catalog_digest and s.total == len(points) and s.batch_size == batch_size
                   and s.collection in store.collections()), None)
    if resume:
        st = resume
    else:
        st = JobState(collection_name(model_version), model_version, catalog_digest, len(points), batch_size, score=score)
        store.create_collection(st.collection, vectors, shards=shards, replication_factor=replication_factor)
        ledger.save(st)
    n_batches = (len(points) + batch_size - 1) // batch_size
    skipped = st.committed
    bar = tqdm(total=len(points), initial=min(len(points), st.committed * batch_size), desc=f"index {st.collection}",
               unit="pt", disable=not progress)
    for b in range(st.committed, n_batches):
        chunk = points[b * batch_size:(b + 1) * batch_size]
        store.upsert(st.collection, chunk)
        st.committed = b + 1
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
        return IndexResult(st.collection, len(points), skipped, False,
                           message=f"gate: new model scores {st.score:.4f} < live {live_state.score:.4f}; alias "
                                   f"stays on {live} (new collection kept as {st.collection} for inspection)")
    store.set_alias(ALIAS, st.collection)
    ledger.push_history(st.collection)
    prune(store, ledger, keep=keep)
    return IndexResult(st.collection, len(points), skipped, True, message=f"alias {ALIAS} -> {st.collection}")


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
            store.drop_collection(c)
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
