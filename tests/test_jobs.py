"""Index jobs: rerun reuse, reindex + rollback, the evaluation gate, and kill -9 mid-reindex."""
import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest
from datagen import make_dataset

from reelvec.errors import StoreError
from reelvec.index import PointData, point_id
from reelvec.index.edge import EdgeStore
from reelvec.index.jobs import JobLedger, index_points, rollback

VEC = {"fused": 4}


def pts(n, seed=0):
    rng = np.random.default_rng(seed)
    return [PointData(point_id(f"tmdb:{i}"), {"fused": rng.normal(size=4)}, {"title": f"F{i}", "tmdb_id": i})
            for i in range(n)]


def test_index_reuse_reindex_rollback_and_prune(tmp_path):
    store, ledger = EdgeStore(tmp_path / "s"), JobLedger(tmp_path / "jobs")
    r1 = index_points(store, ledger, pts(10), VEC, "fusion-a", "d1", batch_size=3)
    assert r1.swapped and store.count(store.resolve_alias("movies")) == 10
    again = index_points(store, ledger, pts(10), VEC, "fusion-a", "d1", batch_size=3)
    assert again.reused and again.collection == r1.collection  # nothing changed: nothing rebuilt
    time.sleep(1.1)
    r2 = index_points(store, ledger, pts(12, seed=1), VEC, "fusion-b", "d2", batch_size=5)
    assert store.resolve_alias("movies") == r2.collection and store.count(r2.collection) == 12
    assert r1.collection in store.collections()  # kept for rollback
    assert rollback(store, ledger) == r1.collection and store.resolve_alias("movies") == r1.collection
    with pytest.raises(StoreError, match="nothing to roll back"):
        rollback(store, ledger)
    store.set_alias("movies", r2.collection)
    ledger.push_history(r2.collection)
    time.sleep(1.1)
    r3 = index_points(store, ledger, pts(8, seed=2), VEC, "fusion-c", "d3")
    assert set(store.collections()) == {r2.collection, r3.collection}  # r1 pruned
    store.close()


def test_gate_refuses_a_worse_model(tmp_path):
    store, ledger = EdgeStore(tmp_path / "s"), JobLedger(tmp_path / "jobs")
    good = index_points(store, ledger, pts(5), VEC, "fusion-a", "d1", score=0.09, gate=True)
    time.sleep(1.1)
    worse = index_points(store, ledger, pts(5, 1), VEC, "fusion-b", "d2", score=0.05, gate=True)
    assert not worse.swapped and "gate" in worse.message and store.resolve_alias("movies") == good.collection
    time.sleep(1.1)
    better = index_points(store, ledger, pts(5, 2), VEC, "fusion-c", "d3", score=0.10, gate=True)
    assert better.swapped and store.resolve_alias("movies") == better.collection
    store.close()


def test_verification_catches_a_short_collection(tmp_path):
    store, ledger = EdgeStore(tmp_path / "s"), JobLedger(tmp_path / "jobs")
    p = pts(6)
    dup = p + [p[0]]  # 7 points sent but only 6 distinct ids: count check must fail
    with pytest.raises(StoreError, match="has 6 points, expected 7"):
        index_points(store, ledger, dup, VEC, "fusion-a", "d1")
    assert store.resolve_alias("movies") is None
    store.close()


@pytest.mark.slow
def test_kill_9_mid_reindex_then_resume(tmp_path):
    data = make_dataset(tmp_path / "data")
    home = tmp_path / "home"
    env = os.environ | {"PYTHONUNBUFFERED": "1"}
    cli = [sys.executable, "-m", "reelvec"]
    subprocess.run(cli + ["build", "--data", str(data), "--store", str(home), "--quiet"], check=True, env=env,
                   capture_output=True)
    old = json.loads((home / "store" / "aliases.json").read_text())["movies"]
    time.sleep(1.1)  # new collection names carry a second-resolution timestamp
    proc = subprocess.Popen(cli + ["reindex", "--data", str(data), "--store", str(home), "--quiet",
                                   "--batch-size", "2", "--throttle", "0.5"], env=env,
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE)
    deadline = time.time() + 120
    jobs = home / "jobs"
    new = None
    while time.time() < deadline:
        states = [json.loads(p.read_text()) for p in jobs.glob("movies_*.json")]
        started = [s for s in states if s["collection"] != old and 2 <= s.get("points_done", 0) < 16]
        if started:
            new = started[0]["collection"]
            break
        time.sleep(0.05)
    assert new, "reindex never started committing batches"
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert json.loads((home / "store" / "aliases.json").read_text())["movies"] == old  # readers unaffected
    killed_at = json.loads((jobs / f"{new}.json").read_text())["points_done"]
    assert 2 <= killed_at < 16
    out = subprocess.run(cli + ["reindex", "--data", str(data), "--store", str(home), "--quiet", "--json"],
                         check=True, env=env, capture_output=True, text=True)  # another (the default) batch size
    rep = json.loads(out.stdout.strip().splitlines()[-1])
    assert rep["stages"]["index"]["collection"] == new  # resumed, not restarted
    assert rep["stages"]["index"]["resumed_after_points"] == killed_at
    store = EdgeStore(home / "store")
    assert store.resolve_alias("movies") == new and store.count(new) == 16
    assert old in store.collections()  # kept for rollback
    store.close()


def test_embedded_snapshot_and_restore(tmp_path):
    store, ledger = EdgeStore(tmp_path / "s"), JobLedger(tmp_path / "jobs")
    r = index_points(store, ledger, pts(7), VEC, "fusion-a", "d1")
    snap = store.snapshot(r.collection, tmp_path / "snaps")
    assert Path(snap).exists()
    name = store.restore(snap, "movies_restored")
    assert store.count(name) == 7
    a = store.retrieve(r.collection, [point_id("tmdb:3")], with_vectors=True)[0]
    b = store.retrieve(name, [point_id("tmdb:3")], with_vectors=True)[0]
    assert a.payload == b.payload and np.allclose(a.vectors["fused"], b.vectors["fused"])
    with pytest.raises(StoreError, match="already exists"):
        store.restore(snap, "movies_restored")
    bad = tmp_path / "bad.tar.gz"
    bad.write_bytes(b"not a tarball")
    with pytest.raises(StoreError, match="cannot read snapshot"):
        store.restore(bad, "other")
    store.close()


def test_server_local_mode_has_no_snapshots():
    from reelvec.index.server import ServerStore
    s = ServerStore(location=":memory:")
    with pytest.raises(StoreError, match="need a Qdrant server"):
        s.snapshot("x")
    s.close()
