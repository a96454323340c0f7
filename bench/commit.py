"""Live edits during a reindex: how much longer the reindex takes, and that none is lost.

On a copy of a built home (default .reelvec): a reindex alone (the baseline, same run), then a
reindex while another process makes EDITS edits (upserts of BATCH movies each, one after the
other, each its own commit) for as long as the reindex runs. Prints both times, their ratio
(goal: <= 1.5), how many edits the build applied before its swap and whether every edited
movie is in the live index afterwards.

    python bench/commit.py --store .reelvec [--edits 630 --batch 10]
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

EDITOR = """
import sys, time, json, reelvec
home, n, batch, stop = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4]
done, t0 = 0, time.perf_counter()
with reelvec.open(home, wait=600) as e:
    while done < n:
        movies = [{"id": f"bench-{done + i}", "title": f"Bench Edit {done + i}", "year": 2020, "genres": ["Drama"],
                   "overview": "A movie added while the index is rebuilt."} for i in range(min(batch, n - done))]
        e.upsert(movies)
        done += len(movies)
print(json.dumps({"edits": done, "seconds": round(time.perf_counter() - t0, 1)}))
"""


def reindex(home: Path) -> tuple[float, dict]:
    t = time.perf_counter()
    out = subprocess.run([sys.executable, "-m", "reelvec", "reindex", "--store", str(home), "--quiet", "--json"],
                         capture_output=True, text=True, check=True)
    return time.perf_counter() - t, json.loads(out.stdout)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default=".reelvec")
    ap.add_argument("--edits", type=int, default=630)
    ap.add_argument("--batch", type=int, default=10)
    args = ap.parse_args()
    from reelvec.encoders.hardware import cpu_model
    from reelvec.index.base import point_id

    tmp = Path(tempfile.mkdtemp(prefix="reelvec-bench-commit-"))
    try:
        home = tmp / "home"
        shutil.copytree(args.store, home)
        alone, _ = reindex(home)
        with __import__("reelvec").open(home) as e:
            before = e.store.count(e.collection)
        editor = subprocess.Popen([sys.executable, "-c", EDITOR, str(home), str(args.edits), str(args.batch), ""],
                                  stdout=subprocess.PIPE, text=True, env=os.environ)
        time.sleep(2)
        busy, rep = reindex(home)
        edits = json.loads(editor.communicate(timeout=1200)[0])
        with __import__("reelvec").open(home) as e:
            after = e.store.count(e.collection)
            ids = [point_id(f"own:bench-{i}") for i in range(args.edits)]
            missing = args.edits - len(e.store.retrieve(e.collection, ids, with_payload=False))
        print(f"CPU: {cpu_model()}")
        print(f"reindex alone: {alone:.1f} s; with {args.edits} edits ({args.edits // args.batch} upserts of "
              f"{args.batch}) made meanwhile: {busy:.1f} s; ratio {busy / alone:.2f} (goal <= 1.5)")
        idx = rep["stages"]["index"]
        print(f"the editor took {edits['seconds']} s; the build applied {idx.get('edits_replayed')} edit(s) before "
              f"its swap in {idx.get('edits_replay_seconds')} s (writer lock held); points {before} -> {after} "
              f"(+{after - before}); missing {missing}")
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main()
