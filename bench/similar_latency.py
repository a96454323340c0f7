"""`similar` latency of a reader of a home, as a user meets it: `reelvec.open`, `warm()`, 50
unmeasured queries, then a genre + year filtered and a default `similar` for each of --queries
movies (the same movies for the same seed; bench/scale.py's queries), with the garbage
collections counted.

    python bench/similar_latency.py HOME [--queries 200] [--freeze]

To compare two versions of the code on one home in one session, run it under each source tree:
``PYTHONPATH=<other checkout>/src python bench/similar_latency.py HOME`` (a `bench/scale.py
--keep` home serves: its movies are synthetic copies of the demo's).
"""
from __future__ import annotations

import argparse
import gc
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from scale import similar_queries, time_similar  # the same queries as bench/scale.py


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("home", help="a home folder (`reelvec build` or `bench/scale.py --keep`)")
    ap.add_argument("--queries", type=int, default=200, help="movies asked, each filtered and not (default 200)")
    ap.add_argument("--freeze", action="store_true", help="gc.freeze() after warm(), as the service does")
    args = ap.parse_args()
    import reelvec

    e = reelvec.open(args.home)
    e.warm()
    if args.freeze:
        gc.freeze()
    c = e.copy._copy(e.collection) if e.copy is not None else None
    if c is None:
        raise SystemExit(f"{args.home} is not an embedded home with a published copy")
    rng = np.random.default_rng(0)
    keys = similar_queries(e, c, rng.integers(0, len(c.ids), args.queries), rng)
    collections: list[int] = []
    gc.callbacks.append(lambda phase, info: collections.append(info["generation"]) if phase == "start" else None)
    lat = time_similar(e, keys)
    print(f"{reelvec.__file__}: {len(c.ids):,} movies")
    for name, xs in lat.items():
        p50, p90, p99, top = np.percentile(np.array(xs) * 1e3, [50, 90, 99, 100])
        print(f"  {name:<9} p50 {p50:.1f}  p90 {p90:.1f}  p99 {p99:.1f}  max {top:.1f} ms")
    print(f"  garbage collections: {len(collections)} (full: {collections.count(2)})")
    e.close()


if __name__ == "__main__":
    main()
