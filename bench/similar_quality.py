"""What a film buff checks in `similar`, measured through the engine on a built home: the same
answer for every k, the same series and director found, no famous film crowding every list.

    python bench/similar_quality.py --store .reelvec [--n 0] [--json out.json]

- k-dependence: share of movies whose top 10 at k=10 differs from the first 10 at k=50 / k=100.
- series recall@10: for movies with other indexed films of their series (catalogue `series`,
  from the sources' own words), the share of them in the top 10 (of min(10, mates)); test-split
  series only (`series_split`), title-disjoint mates (no shared title word) reported apart.
- director recall@10: the same for films sharing a director.
- hub share: over the top 10 of the 500 most-voted movies, the share of slots the 20 most frequent
  hits take, and the most lists one film is in.
- latency of `similar` with a genre + year filter (p50 / p99).
Prints the CPU model; run it on the code before and after a change against the same home.
"""
from __future__ import annotations

import argparse
import json
import time
from collections import Counter, defaultdict

import numpy as np


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default=".reelvec")
    ap.add_argument("--n", type=int, default=0, help="movies for the k test (0: all)")
    ap.add_argument("--json", help="write the numbers here too")
    args = ap.parse_args()

    import reelvec
    from reelvec.encoders.hardware import cpu_model
    from reelvec.index.base import point_id
    from reelvec.ingest.catalog import Catalog
    from reelvec.ingest.franchise import title_tokens
    from reelvec.ingest.series import series_split

    engine = reelvec.open(args.store)
    keys = {e.point_id: e for e in engine.titles.entries}
    cat = {m.key: m for m in Catalog.load(f"{args.store}/catalog.jsonl")}
    ids = list(keys)
    movies = {}
    for pid in ids:
        f = engine.store.retrieve(engine.collection, [pid])[0]
        m = cat.get(f.payload.get("key"))
        if m is not None:
            movies[pid] = m
    rng = np.random.default_rng(0)
    order = list(movies)
    if args.n:
        order = [order[i] for i in rng.choice(len(order), size=min(args.n, len(order)), replace=False)]

    by_series, by_director = defaultdict(set), defaultdict(set)
    for pid, m in movies.items():
        if m.series:
            by_series[m.series].add(pid)
        for d in m.directors or ((m.director,) if m.director else ()):
            by_director[d].add(pid)

    t0 = time.perf_counter()
    differ, tops = 0, {}
    for pid in order:
        key = movies[pid].key
        top10 = [h.key for h in engine.similar(key, k=10)]
        at50 = [h.key for h in engine.similar(key, k=50)][:10]
        at100 = [h.key for h in engine.similar(key, k=100)][:10]
        differ += top10 != at50 or top10 != at100
        tops[pid] = top10
    k_seconds = time.perf_counter() - t0

    def recall(groups_of, split=None, disjoint=False):
        vals = []
        for pid, top in tops.items():
            m = movies[pid]
            for g in groups_of(m):
                if split and series_split(g) != split:
                    continue
                mates = {point_id(movies[o].key) for o in (by_series if groups_of is series_of else by_director)[g]
                         if o != pid}
                if disjoint:
                    words = set(title_tokens(m.title))
                    mates = {o for o in mates if not words & set(title_tokens(movies[o].title))}
                if not mates:
                    continue
                got = sum(point_id(k) in mates for k in top)
                vals.append(got / min(10, len(mates)))
        return (round(float(np.mean(vals)), 4), len(vals)) if vals else (None, 0)

    def series_of(m):
        return [m.series] if m.series else []

    def directors_of(m):
        return list(m.directors or ((m.director,) if m.director else ()))

    voted = sorted(movies, key=lambda p: -(movies[p].vote_count or 0))[:500]
    slots = Counter()
    for pid in voted:
        top = tops.get(pid) or [h.key for h in engine.similar(movies[pid].key, k=10)]
        slots.update(top)
    hub20 = sum(n for _, n in slots.most_common(20)) / max(1, sum(slots.values()))
    lat = []
    for pid in order[:300]:
        t = time.perf_counter()
        engine.similar(movies[pid].key, k=10, genres=["Drama", "Comedy"], years=(1980, 2010))
        lat.append((time.perf_counter() - t) * 1000)
    out = {
        "cpu": cpu_model(), "movies": len(order),
        "k_dependent_share": round(differ / len(order), 4), "k_seconds": round(k_seconds, 1),
        "series_recall@10_test": recall(series_of, "test"), "series_recall@10_all": recall(series_of),
        "series_recall@10_title_disjoint": recall(series_of, disjoint=True),
        "director_recall@10": recall(directors_of),
        "hub_share_top20_of_500": round(hub20, 4), "most_lists": slots.most_common(3),
        "filtered_p50_ms": round(float(np.percentile(lat, 50)), 2), "filtered_p99_ms": round(float(np.percentile(lat, 99)), 2),
    }
    print(json.dumps(out, indent=1))
    if args.json:
        with open(args.json, "w") as fh:
            json.dump(out, fh, indent=1)


if __name__ == "__main__":
    main()
