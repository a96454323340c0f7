"""Edits never lose data and damage is never served, tested by real faults on copies of a built
home: a second writer while one holds the home, kill -9 of `reelvec add` at each step of its
commit, edits made while a reindex runs, corrupted files of every kind, a full disk (a real
small tmpfs and a fault-injecting writer), and the smaller messages."""
from __future__ import annotations

import errno
import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import numpy as np
import pytest
from conftest import copy_home

import reelvec
from reelvec.cli import main
from reelvec.errors import FusionError, StoreError, UnknownMovieError
from reelvec.ingest.edits import EditLog

SRC = str(Path(__file__).resolve().parents[1] / "src")


@pytest.fixture
def home(built_home, tmp_path):
    return copy_home(built_home[1], tmp_path / "home")


def movies_file(path: Path, n: int, prefix: str = "fault") -> Path:
    rows = [{"id": f"{prefix}-{i}", "title": f"Fault Line {prefix} {i}", "year": 2020 + i % 5,
             "genres": ["Horror", "Science Fiction"], "keywords": ["alien", "spaceship"],
             "overview": f"A crew meets a deadly creature, take {i}."} for i in range(n)]
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def count(home: Path) -> int:
    with reelvec.open(home) as e:
        return e.store.count(e.collection)


def run(args: list[str], **kw) -> subprocess.CompletedProcess:
    env = os.environ | {"PYTHONPATH": SRC}
    return subprocess.run([sys.executable, "-m", "reelvec", *args], capture_output=True, text=True, env=env,
                          timeout=kw.pop("timeout", 300), **kw)


def child(script: str, *args, wait: bool = True, **kw):
    code = textwrap.dedent(script)
    env = os.environ | {"PYTHONPATH": SRC}
    p = subprocess.Popen([sys.executable, "-c", code, *map(str, args)], env=env, stdout=subprocess.PIPE,
                         stderr=subprocess.PIPE, text=True, **kw)
    if wait:
        out, err = p.communicate(timeout=300)
        return p.returncode, out, err
    return p


def shard_digest(home: Path) -> dict[str, tuple[int, int]]:
    root = home / "store" / "collections"
    return {str(p.relative_to(root)): (p.stat().st_size, p.stat().st_mtime_ns)
            for p in sorted(root.rglob("*")) if p.is_file() and not p.name.endswith(".lock")}


# ----------------------------------------------------------------------------- one writer at a time
HOLDER = """
import sys, time, pathlib, reelvec
home, go = sys.argv[1], pathlib.Path(sys.argv[2])
with reelvec.open(home) as e, e.editing():
    e.upsert({"id": "hold-1", "title": "Holder One", "year": 2021, "genres": ["Drama"]})
    print("HOLDING", flush=True)
    while not go.exists():
        time.sleep(0.05)
    e.upsert({"id": "hold-2", "title": "Holder Two", "year": 2022, "genres": ["Drama"]})
    e.delete("own:hold-1")
print("DONE", flush=True)
"""


def test_a_refused_writer_touches_nothing_and_a_waiting_one_gets_its_turn(home, tmp_path):
    n = count(home)
    go = tmp_path / "go"
    holder = child(HOLDER, home, go, wait=False)
    assert holder.stdout.readline().strip() == "HOLDING"
    before = shard_digest(home)
    new = movies_file(tmp_path / "new.jsonl", 2)
    refused = run(["add", str(new), "--store", str(home), "--quiet"])
    assert refused.returncode == 2, refused.stderr
    assert f"PID {holder.pid}" in refused.stderr and "--wait" in refused.stderr, refused.stderr
    assert "Traceback" not in refused.stderr
    assert shard_digest(home) == before  # the refused writer opened nothing
    for cmd in (["delete", "own:hold-1"], ["rollback"]):  # every writer is refused the same way
        r = run([*cmd, "--store", str(home)])
        assert r.returncode == 2 and "being written by" in r.stderr, r.stderr
    with reelvec.open(home) as e:  # readers never wait
        assert e.movie("Holder One")["key"] == "own:hold-1"
    waiting = subprocess.Popen([sys.executable, "-m", "reelvec", "add", str(new), "--store", str(home), "--wait",
                                "120", "--quiet"], env=os.environ | {"PYTHONPATH": SRC}, stderr=subprocess.PIPE,
                               text=True)
    time.sleep(3)
    assert waiting.poll() is None  # still waiting for the holder
    go.write_text("")
    assert holder.wait(timeout=120) == 0, holder.stderr.read()
    assert holder.stdout.readline().strip() == "DONE"
    assert waiting.wait(timeout=180) == 0, waiting.stderr.read()
    assert count(home) == n + 1 + 2  # hold-2 and the two added; hold-1 deleted
    assert run(["verify", "--store", str(home)]).returncode == 0


# ----------------------------------------------------------------------------- kill -9 at each step
KILLER = """
import os, signal, sys, pathlib
import reelvec.index.publish as published
import reelvec.ingest.edits as edits
import reelvec.search.engine as engine
from reelvec import app
from reelvec.app.edit import add
home, path, step = sys.argv[1], sys.argv[2], sys.argv[3]

def die():
    os.kill(os.getpid(), signal.SIGKILL)

def after(obj, name):
    original = getattr(obj, name)
    def wrapped(*a, **k):
        out = original(*a, **k)
        die()
    setattr(obj, name, wrapped)

if step == "intent":        # the edit is logged, nothing applied
    after(edits.EditLog, "append")
elif step == "shard":       # the shard holds the edit, the published copy does not
    def before_patch(*a, **k):
        die()
    published.patch = before_patch
elif step == "copy":        # shard and copy hold it, the ledger has only the range
    after(published, "patch")
elif step == "ledger":      # everything but the commit mark
    after(engine.Engine, "_after_edit")
elif step == "commit":      # committed, the process dies before it returns
    after(edits.EditLog, "commit")
add(app.Home.at(home), pathlib.Path(path))
"""


@pytest.mark.parametrize("step", ["intent", "shard", "copy", "ledger", "commit"])
def test_kill_at_each_commit_step_loses_nothing(home, tmp_path, step):
    n = count(home)
    new = movies_file(tmp_path / "new.jsonl", 3)
    code, _, err = child(KILLER, home, new, step)
    assert code == -signal.SIGKILL, err
    with reelvec.open(home) as e:  # every reader works at once: no refusal because of the dead edit
        seen = e.store.count(e.collection)
        assert seen in (n, n + 3)
        assert e.similar("Alien", k=3)
    assert main(["info", "--store", str(home), "--json"]) == 0
    log = EditLog(home / "edits.jsonl")
    assert len(log.pending()) == (0 if step == "commit" else 1)
    assert run(["add", str(new), "--store", str(home), "--quiet"]).returncode == 0  # the next writer finishes it
    assert log.pending() == []
    assert count(home) == n + 3  # exactly +N
    with reelvec.open(home) as e:
        assert {e.movie(f"own:fault-{i}")["title"] for i in range(3)} == {f"Fault Line fault {i}" for i in range(3)}
    assert run(["verify", "--store", str(home)]).returncode == 0


def test_a_dead_edit_is_finished_by_the_next_writer_even_without_a_rerun(home, tmp_path):
    n = count(home)
    code, _, _ = child(KILLER, home, movies_file(tmp_path / "new.jsonl", 3), "shard")
    assert code == -signal.SIGKILL
    with reelvec.open(home) as e:
        e.upsert({"id": "other", "title": "Something Else", "year": 2001, "genres": ["Comedy"]})
    assert count(home) == n + 4
    assert EditLog(home / "edits.jsonl").pending() == []


# ----------------------------------------------------------------------------- edits during a reindex
def test_edits_acknowledged_while_a_reindex_runs_reach_the_live_index(built_home, home, tmp_path):
    data = built_home[0]
    n = count(home)
    with reelvec.open(home) as e:
        before = e.collection
    job = subprocess.Popen([sys.executable, "-m", "reelvec", "reindex", "--data", str(data), "--store", str(home),
                            "--quiet"], env=os.environ | {"PYTHONPATH": SRC}, stderr=subprocess.PIPE, text=True)
    with reelvec.open(home, wait=300) as e:
        for i in range(12):  # one after the other, over the reindex's run (each waits for the swap if it must)
            e.upsert({"id": f"during-{i}", "title": f"During Reindex {i}", "year": 2020, "genres": ["Drama"],
                      "overview": "An edit made while the collection is rebuilt."})
            time.sleep(0.3)
    assert job.wait(timeout=600) == 0, job.stderr.read()
    assert count(home) == n + 12
    with reelvec.open(home) as e:
        assert all(e.movie(f"own:during-{i}")["title"] == f"During Reindex {i}" for i in range(12))
        assert e.collection != before  # the reindex swapped in a new collection
    assert EditLog(home / "edits.jsonl").pending() == []


def test_edits_during_a_bulk_load_are_applied_in_one_batch(built_home, home, monkeypatch):
    """Many edits logged while a build loads its new collection are applied before the swap
    in one batch: the new copy is published once, with no generation per edit."""
    import reelvec.index.jobs as jobs
    from reelvec.app import BuildConfig, reindex
    data = built_home[0]
    n = count(home)
    original = jobs.verify

    def verify_then_edit(store, collection, points, *a, **k):
        original(store, collection, points, *a, **k)
        with reelvec.open(home) as e, e.editing():
            for i in range(0, 40, 8):
                e.upsert([{"id": f"bulk-{j}", "title": f"Bulk {j}", "year": 2019, "genres": ["Comedy"]}
                          for j in range(i, i + 8)])
            e.delete(["own:bulk-0", "own:bulk-1"])
    monkeypatch.setattr(jobs, "verify", verify_then_edit)
    rep = reindex(BuildConfig(data=data, home=home, progress=False))
    assert rep.swapped and rep.stages["index"]["edits_replayed"] == 40 + 2
    with reelvec.open(home) as e:
        assert e.store.count(e.collection) == n + 38
        assert e.store.generation(e.collection) == 0  # published once, after the batch
        assert e.movie("own:bulk-39")["title"] == "Bulk 39"


# ----------------------------------------------------------------------------- damaged files
def live_copy(home: Path) -> Path:
    coll = json.loads((home / "store" / "aliases.json").read_text())["movies"]
    return home / "store" / "published" / coll


def overwrite(path: Path, offset: int, data: bytes) -> None:
    with open(path, "r+b") as fh:
        fh.seek(offset)
        fh.write(data)


def _zero_rows(copy):
    overwrite(copy / "vec-fused.f32", 256 * 4 * 2, bytes(256 * 4 * 3))


def _nan_rows(copy):
    overwrite(copy / "vec-fused.f32", 256 * 4 * 5, np.full(256, np.nan, np.float32).tobytes())


def _garbage_payload(copy):
    overwrite(copy / "payload.jsonl", 40, b"\xff\xfe{{{not json at all")


def _truncated_gen(copy):
    meta = json.loads((copy / "meta.json").read_text())
    p = copy / f"gen-{meta['generation']}.npz"
    p.write_bytes(p.read_bytes()[:-100])


def _bad_crc_gen(copy):
    meta = json.loads((copy / "meta.json").read_text())
    p = copy / f"gen-{meta['generation']}.npz"
    b = bytearray(p.read_bytes())
    b[60] ^= 0xFF
    p.write_bytes(bytes(b))


def _missing_generation(copy):
    meta = json.loads((copy / "meta.json").read_text())
    (copy / f"gen-{meta['generation']}.npz").unlink()


def _meta_dims(copy):  # one digit of meta.json: readers would read the rows with the wrong stride
    p = copy / "meta.json"
    p.write_text(p.read_text().replace('"fused": 256', '"fused": 255', 1))


def _meta_without_checksums(copy):
    p = copy / "meta.json"
    p.write_text(p.read_text().replace('"files": {', '"filez": {', 1))


REQUIRED = {"meta.json dimension changed": _meta_dims, "meta.json checksums renamed": _meta_without_checksums,
            "zeroed vector rows": _zero_rows, "NaN vector rows": _nan_rows, "garbage payload": _garbage_payload,
            "truncated gen npz": _truncated_gen, "bad-CRC gen npz": _bad_crc_gen,
            "meta names a missing generation": _missing_generation}


@pytest.mark.parametrize("fault", list(REQUIRED))
def test_damaged_copies_are_refused_in_one_line_and_build_repairs_them(built_home, home, capsys, fault):
    from reelvec.app import BuildConfig, build
    want = {h.key for h in reelvec.open(home).similar("Alien", k=5)}
    REQUIRED[fault](live_copy(home))
    with pytest.raises(StoreError, match="damaged|unreadable"):
        with reelvec.open(home) as e:
            e.similar("Alien", k=5)
    for cmd in (["similar", "Alien"], ["info"], ["verify"]):
        capsys.readouterr()
        assert main([*cmd, "--store", str(home)]) == 2, cmd
        err = capsys.readouterr().err
        assert err.count("\n") == 1 and "reelvec build" in err and "Traceback" not in err, err
    build(BuildConfig(data=built_home[0], home=home, progress=False))  # publishes the copy again
    with reelvec.open(home) as e:
        assert {h.key for h in e.similar("Alien", k=5)} == want
    assert main(["verify", "--store", str(home)]) == 0


def _wrong_neighbours(copy):
    meta = json.loads((copy / "meta.json").read_text())
    p = copy / f"knn-rows-{meta['generation']}.npy"
    a = np.load(p)
    np.save(p, np.roll(a, 3, axis=0))  # valid rows, wrong lists


def _bad_answers(copy):
    meta = json.loads((copy / "meta.json").read_text())
    p = copy / f"answers-{meta['generation']}.npz"
    overwrite(p, p.stat().st_size // 2, b"\x00" * 64)


def _truncated_titles(copy):
    meta = json.loads((copy / "meta.json").read_text())
    p = copy / f"title-{meta['generation']}.npz"
    p.write_bytes(p.read_bytes()[:-50])


OPTIONAL = {"wrong neighbour lists": _wrong_neighbours, "bad precomputed answers": _bad_answers,
            "truncated title arrays": _truncated_titles}


@pytest.mark.parametrize("fault", list(OPTIONAL))
def test_damaged_accelerators_are_never_served_and_build_repairs_them(built_home, home, capsys, fault, caplog):
    """Neighbour lists, precomputed answers and title arrays only speed queries up: a damaged
    one is not used (queries compute what it would have given), `verify` names it, `build`
    publishes it again."""
    from reelvec.app import BuildConfig, build
    shapes = ({"k": 5}, {"k": 5, "mode": "also-liked"}, {"k": 3, "genres": ["Comedy", "Science Fiction"]})

    def answers():
        with reelvec.open(home) as e:
            return {(m, i): [(h.key, round(h.score, 6)) for h in e.similar(m, **kw)]
                    for m in ("Alien", "Amélie", 603) for i, kw in enumerate(shapes)}
    want = answers()
    OPTIONAL[fault](live_copy(home))
    assert answers() == want
    assert "not used" in caplog.text or "unusable" in caplog.text
    capsys.readouterr()
    assert main(["verify", "--store", str(home)]) == 2
    assert "damaged" in capsys.readouterr().err
    build(BuildConfig(data=built_home[0], home=home, progress=False))
    assert main(["verify", "--store", str(home)]) == 0


def test_a_damaged_model_is_refused_and_nothing_is_written(built_home, home, tmp_path, capsys):
    from reelvec.app import BuildConfig, build
    n = count(home)
    w = home / "model" / "model.safetensors"
    overwrite(w, w.stat().st_size - 4096, np.full(64, np.nan, np.float32).tobytes())  # same size
    capsys.readouterr()
    assert main(["add", str(movies_file(tmp_path / "new.jsonl", 2)), "--store", str(home), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "model.safetensors" in err and "damaged" in err, err
    assert count(home) == n and EditLog(home / "edits.jsonl").pending() == []
    with pytest.raises(FusionError, match="damaged"):
        reelvec.open(home).embed({"title": "X"})
    rep = build(BuildConfig(data=built_home[0], home=home, progress=False))  # trains it again
    assert rep.stages["train"]["reused"] is False
    assert main(["add", str(movies_file(tmp_path / "new.jsonl", 2)), "--store", str(home), "--quiet"]) == 0


def test_nan_never_enters_a_store(home):
    from reelvec.index import PointData, open_store
    from reelvec.index.base import point_id
    store = open_store(path=str(home / "store"))
    try:
        coll = store.resolve_alias("movies")
        dims = store.collection_vectors(coll)
        bad = PointData(point_id("own:nan"), {n: np.full(d, np.nan) for n, d in dims.items()}, {"title": "NaN"})
        with pytest.raises(StoreError, match="not finite"):
            store.upsert(coll, [bad])
        assert not store.retrieve(coll, [bad.id])
    finally:
        store.close()


# ----------------------------------------------------------------------------- a full disk
@pytest.fixture
def small_disk(home, tmp_path):
    """A tmpfs with room for a copy of the home (its sparse WAL files written out) and 96 MiB."""
    mnt = tmp_path / "disk"
    mnt.mkdir()
    size = sum(p.stat().st_size for p in home.rglob("*") if p.is_file()) + (96 << 20)
    if os.geteuid() != 0 or subprocess.run(["mount", "-t", "tmpfs", "-o", f"size={size}", "tmpfs", str(mnt)],
                                           capture_output=True).returncode != 0:
        pytest.skip("mounting a small tmpfs needs root (CI and the dev machines run as root)")
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], capture_output=True)


def fill(mnt: Path, leave: int) -> Path:
    st = os.statvfs(mnt)
    filler = mnt / "filler"
    with open(filler, "wb") as fh:
        fh.write(b"\0" * max(0, st.f_bavail * st.f_frsize - leave))
    return filler


def test_disk_full_during_add_is_a_clear_error_and_nothing_is_lost(home, small_disk, tmp_path):
    h = copy_home(home, small_disk / "home")
    n = count(h)
    new = movies_file(tmp_path / "new.jsonl", 3)
    filler = fill(small_disk, 4 << 20)
    r = run(["add", str(new), "--store", str(h), "--quiet"])
    assert r.returncode == 2, r.stderr  # not SIGBUS (135): the shard is not even opened without room for its WAL
    assert "disk full" in r.stderr and str(h) in r.stderr and "MiB" in r.stderr and "Traceback" not in r.stderr
    assert count(h) == n  # still readable, unchanged
    log = EditLog(h / "edits.jsonl")
    assert log.pending() == [] and not [e for e in log.read() if e.key.startswith("own:fault-")]  # nothing logged
    r = run(["precompute", "--store", str(h), "--quiet"])
    assert r.returncode in (0, 2) and "Traceback" not in r.stderr, r.stderr
    filler.unlink()
    assert run(["add", str(new), "--store", str(h), "--quiet"]).returncode == 0
    assert count(h) == n + 3
    assert run(["verify", "--store", str(h)]).returncode == 0


def test_a_write_that_fails_half_way_is_rolled_back_and_finished_later(home, monkeypatch):
    """ENOSPC from the copy's own files after the free-space check passed (another process took
    the space): the edit fails with a clear error, the copy keeps its last generation, and the
    next writer finishes the logged edit."""
    import reelvec.index.publish as published
    n = count(home)
    real = np.savez

    def no_space(path, *a, **k):
        if ".gen-" in str(path):
            raise OSError(errno.ENOSPC, "No space left on device", str(path))
        return real(path, *a, **k)
    monkeypatch.setattr(published.np, "savez", no_space)
    with reelvec.open(home) as e:
        with pytest.raises(StoreError, match="disk full"):
            e.upsert({"id": "late", "title": "Too Late", "year": 2020, "genres": ["Drama"]})
    folder = live_copy(home)
    assert not list(folder.glob(".*tmp*")) and json.loads((folder / "meta.json").read_text())["generation"] == 0
    assert count(home) == n
    monkeypatch.setattr(published.np, "savez", real)
    with reelvec.open(home) as e:
        e.delete(106)  # another edit: the logged one is finished first
        assert e.movie("own:late")["title"] == "Too Late"
    assert count(home) == n
    assert EditLog(home / "edits.jsonl").pending() == []


# ----------------------------------------------------------------------------- smaller
def test_titles_with_control_characters_are_escaped_in_every_printed_field(home, tmp_path, capfd):
    f = tmp_path / "evil.jsonl"
    f.write_text(json.dumps({"id": "evil", "title": "Evil\x1b[2J\x1b]0;pwned\x07 Title\x9b31m", "year": 2020,
                             "genres": ["Horror"]}) + "\n")
    assert main(["add", str(f), "--store", str(home), "--quiet"]) == 0
    shown = capfd.readouterr().out
    for cmd in (["similar", "own:evil", "-k", "2"], ["similar", "Alien", "-k", "20"], ["similar", "own:evil", "--json"],
                ["delete", "Evil Title"], ["delete", "own:evil"]):
        main([*cmd, "--store", str(home)])
        out, err = capfd.readouterr()
        assert not any(c in out + err for c in "\x1b\x07\x9b"), (cmd, out, err)
        if "--json" in cmd:
            assert [json.loads(x) for x in out.splitlines()]  # still valid JSON (a line per hit)
        shown += out + err
    assert "Evil\\u001b[2J\\u001b]0;pwned\\u0007 Title\\u009b31m" in shown


def test_bad_lines_of_an_add_file_are_quarantined_one_by_one(home, tmp_path, capsys):
    f = tmp_path / "mixed.jsonl"
    f.write_bytes(b'{"id": "ok-1", "title": "Fine One", "year": 2001}\n'
                  b'{"id": "broken", "title": \n'
                  b'[1, 2, 3]\n'
                  b'{"id": "bin", "title": "\xff\xfe"}\n'
                  b'{"id": "ok-2", "title": "Fine Two", "year": 2002}\n')
    assert main(["add", str(f), "--store", str(home), "--quiet"]) == 0
    out = capsys.readouterr().out
    assert "own:ok-1" in out and "own:ok-2" in out and "skipped 3 bad row(s)" in out
    q = [json.loads(x) for x in (home / "add.quarantine.jsonl").read_text().splitlines()]
    assert [r["where"] for r in q] == ["mixed.jsonl:2", "mixed.jsonl:3", "mixed.jsonl:4"]
    assert "not UTF-8" in q[2]["reason"]


def test_a_damaged_last_log_line_is_quarantined_before_the_next_edit(home):
    with reelvec.open(home) as e:
        e.upsert({"id": "one", "title": "First Edit", "year": 2020})
    log = home / "edits.jsonl"
    data = bytearray(log.read_bytes())
    data[-10] ^= 0x55  # a flipped byte in the last (commit) line; its newline stays
    log.write_bytes(bytes(data))
    with reelvec.open(home) as e:
        e.upsert({"id": "two", "title": "Second Edit", "year": 2021})
    assert [x.key for x in EditLog(log).read()] == ["own:one", "own:two"]  # readable: nothing buried mid-file
    assert (home / "edits.quarantine.jsonl").exists()
    assert main(["info", "--store", str(home)]) == 0 and main(["verify", "--store", str(home)]) == 0


def test_an_intent_refused_for_room_is_marked_aborted(home, monkeypatch):
    """A write refused before it changed anything (no room) leaves an aborted intent: neither
    the next writer nor a build applies it."""
    import reelvec.index.edge as edge
    from reelvec.errors import NoRoomError

    def no_room(self, need, what):
        raise NoRoomError(f"disk full: {self.root} has 1 MiB free, {what} needs about 70 MiB")
    with reelvec.open(home) as e:
        e.store.count(e.collection)
        monkeypatch.setattr(edge.EdgeStore, "_room", no_room)
        with pytest.raises(NoRoomError):
            e.upsert({"id": "nope", "title": "Never Written", "year": 2020})
    monkeypatch.undo()
    log = EditLog(home / "edits.jsonl")
    assert log.pending() == [] and log.read() == []
    with reelvec.open(home) as e:
        e.upsert({"id": "yes", "title": "Written", "year": 2020})
        with pytest.raises(reelvec.UnknownMovieError):
            e.movie("own:nope")


def test_a_model_without_checksum_whose_header_is_damaged_is_refused(home, tmp_path, capsys):
    cfg = home / "model" / "config.json"
    meta = json.loads(cfg.read_text())
    meta.pop("weights_xxh3")  # as a model trained before checksums
    cfg.write_text(json.dumps(meta))
    w = home / "model" / "model.safetensors"
    w.write_bytes(w.read_bytes().replace(b"proj.struct.0.bias", b"proj.struct.0.bia_", 1))
    capsys.readouterr()
    assert main(["add", str(movies_file(tmp_path / "new.jsonl", 1)), "--store", str(home), "--quiet"]) == 2
    err = capsys.readouterr().err
    assert "damaged" in err and "proj.struct.0.bias" in err and "--retrain" in err and "Traceback" not in err, err


def test_rollback_keeps_the_edits_made_after_the_swap(built_home, home):
    from reelvec.app import BuildConfig, reindex
    with reelvec.open(home) as e:
        before = e.collection
    rep = reindex(BuildConfig(data=built_home[0], home=home, progress=False))
    assert rep.swapped
    with reelvec.open(home) as e:
        e.upsert({"id": "after-swap", "title": "After The Swap", "year": 2022, "genres": ["Drama"]})
        e.delete(106)
        n = e.store.count(e.collection)
    assert main(["rollback", "--store", str(home)]) == 0
    with reelvec.open(home) as e:
        assert e.collection == before
        assert e.movie("own:after-swap")["title"] == "After The Swap"
        with pytest.raises(reelvec.UnknownMovieError):
            e.movie(106)
        assert e.store.count(e.collection) == n


def test_wait_must_be_a_finite_number_of_seconds(home, capsys):
    for bad in ("-5", "nan", "soon"):
        with pytest.raises(SystemExit):
            main(["add", "x.jsonl", "--store", str(home), "--wait", bad])
        assert "seconds" in capsys.readouterr().err


def test_a_torn_log_line_is_cut_before_the_next_edit(home):
    with open(home / "edits.jsonl", "a") as fh:
        fh.write('{"op": "upsert", "key": "own:x", "movie": {"ti')  # a crash mid-append
    with reelvec.open(home) as e:
        e.upsert({"id": "after", "title": "After The Tear", "year": 2020})
    edits = EditLog(home / "edits.jsonl").read()
    assert [x.key for x in edits] == ["own:after"]


def test_lock_files_say_who_holds_them(tmp_path):
    from reelvec.locks import LockedError, file_lock, holder
    lock = tmp_path / "writer.lock"
    with file_lock(lock, what="test holder"):
        assert holder(lock)["pid"] == os.getpid() and holder(lock)["what"] == "test holder"
        with file_lock(lock):  # re-entrant in one thread
            pass
        code, _, err = child("""
            import sys
            from reelvec.locks import file_lock
            with file_lock(sys.argv[1], wait=0.3):
                pass
        """, lock)
        assert code == 1 and "being written by PID" in err and "test holder" in err
    code, _, err = child("""
        import sys
        from reelvec.locks import file_lock
        with file_lock(sys.argv[1]):
            print("got it")
    """, lock)
    assert code == 0, err
    assert issubclass(LockedError, StoreError)


HOLD_COLLECTION = """
import sys, time
from reelvec.index.edge import EdgeStore
store = EdgeStore(sys.argv[1])
store._lock(sys.argv[2])  # what a build that has just swapped the alias holds until it closes its store
print("held", flush=True)
time.sleep(float(sys.argv[3]))
store.close()
"""


@pytest.mark.parametrize("wait", [0.0, 30.0])
def test_an_edit_waits_for_a_build_still_holding_the_new_collection(home, wait):
    """A build's store keeps the collection it swapped in for a moment after it lets the home's
    writer lock go; an edit then waits `write_wait` for it as for the writer lock (CI once hit
    that window: LockedError on the new collection)."""
    with reelvec.open(home) as e:
        coll = e.collection
    holder = subprocess.Popen([sys.executable, "-c", HOLD_COLLECTION, str(home / "store"), coll, "1.5"],
                              env=os.environ | {"PYTHONPATH": SRC}, stdout=subprocess.PIPE, text=True)
    assert holder.stdout.readline().strip() == "held"
    with reelvec.open(home, wait=wait) as e:
        if wait:
            assert e.upsert({"id": "waited", "title": "Waited For", "year": 2021}) == ["own:waited"]
        else:
            with pytest.raises(StoreError, match="being written by PID"):
                e.upsert({"id": "waited", "title": "Waited For", "year": 2021})
            assert EditLog(home / "edits.jsonl").pending() == []  # refused: no later writer applies it
    holder.wait(timeout=30)
    with reelvec.open(home) as e:
        if wait:
            assert e.movie("own:waited")["title"] == "Waited For"
        else:
            with pytest.raises(UnknownMovieError):
                e.movie("own:waited")
