"""End-to-end `engine.similar` latency on the full catalogue (lookup + filtered query +
explanations), embedded store, for every mode.

    python bench/search.py --store .reelvec [--n 300]

Queries by TMDB id and by title, k=10, with a genre + year filter; p50/p99 in milliseconds, and
each blended mode's p99 as a ratio of `also-liked` (one plain query) measured in the same run.
"""
from __future__ import annotations

import argparse
import json
import time

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default=".reelvec")
    ap.add_argument("--n", type=int, default=300)
    args = ap.parse_args()
    import reelvec

    engine = reelvec.open(args.store)
    t = time.perf_counter()
    titles = engine.titles  # built once per engine
    warm = time.perf_counter() - t
    rng = np.random.default_rng(0)
    entries = [e for e in titles.entries if e.tmdb_id]
    picks = [entries[i] for i in rng.choice(len(entries), size=args.n, replace=False)]
    engine.similar(picks[0].tmdb_id)  # the title-similarity index, built once per engine
    res = {}
    for mode in ("also-liked", "similar", "content"):
        for name, make in (("by id, filtered", lambda e: (e.tmdb_id, {"genres": ["Drama", "Comedy"],
                                                                      "years": (1970, 2015)})),
                           ("by title, filtered", lambda e: (f"{e.title} ({e.year})" if e.year else e.title,
                                                              {"genres": ["Drama", "Comedy"], "years": (1970, 2015)})),
                           ("by id, unfiltered", lambda e: (e.tmdb_id, {}))):
            lat = []
            for e in picks:
                q, f = make(e)
                t = time.perf_counter()
                try:
                    engine.similar(q, k=10, mode=mode, **f)
                except reelvec.SearchError:
                    continue  # an ambiguous duplicate title; not what this measures
                lat.append((time.perf_counter() - t) * 1000)
            key = f"{mode}: {name}"
            res[key] = {"p50_ms": float(np.percentile(lat, 50)), "p99_ms": float(np.percentile(lat, 99)), "n": len(lat)}
            base = res.get(f"also-liked: {name}", res[key])["p99_ms"]
            print(f"{key:<32} p50 {res[key]['p50_ms']:.2f} ms  p99 {res[key]['p99_ms']:.2f} ms  "
                  f"({res[key]['p99_ms'] / base:.2f}x also-liked p99, n={len(lat)})")
    print(f"title index built once in {warm * 1000:.0f} ms for {len(titles.entries)} movies")
    print(json.dumps(res))
    engine.close()


if __name__ == "__main__":
    main()
