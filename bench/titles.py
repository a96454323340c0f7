"""Fuzzy title lookups at catalogue scale: a synthetic catalogue of N titles (the home's real
titles plus copies with a word and a number appended, as issue 27's synthetic homes), resolved
by the trigram candidate index (what reelvec does above 20,000 titles) and, with --baseline, by
the full rapidfuzz scan every lookup did before, in the same run.

    python bench/titles.py --store .reelvec --n 1000000 [--baseline]
"""
import argparse
import random
import time

import numpy as np

from reelvec.encoders.hardware import cpu_model
from reelvec.search import titles as T
from reelvec.search.titles import TitleEntry, TitleIndex

QUERIES = ["The Matrx", "Sevenn", "Lord of the Rings Fellowship", "Godfather 2", "Mad Max 2", "Shawshank Redemtion",
           "Jurasic Park", "Finding Nemmo", "Star Wars Empire Strikes Back", "Alien 3", "Rocky 2",
           "The Dark Knigt Rises", "Harry Poter Chamber of Secrets", "Toy Strory 3", "Zzyzx Qwerty", "Inceptoin",
           "Pulp Fictoin", "Blade Runer 2049", "Terminator 2", "Home Alone 2"]


def lookups(idx, queries, rounds=3):
    lat = []
    for q in queries * rounds:
        t0 = time.perf_counter()
        try:
            idx.resolve(q)
        except Exception:  # an unknown title is an answer too (UnknownMovieError with candidates)
            pass
        lat.append(time.perf_counter() - t0)
    return np.percentile(lat, 50) * 1e3, np.percentile(lat, 99) * 1e3


def main():
    import reelvec
    from reelvec.ingest.movie import normalise_title

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default=".reelvec")
    ap.add_argument("--n", type=int, default=1_000_000)
    ap.add_argument("--baseline", action="store_true", help="also time the full scan (1M: ~2 s a lookup)")
    args = ap.parse_args()
    base = reelvec.open(args.store).titles.entries
    rng = random.Random(0)
    words = "storm night river blue city last dark return house secret love war king summer star road".split()
    entries, i = list(base), 0
    while len(entries) < args.n:
        b = base[i % len(base)]
        i += 1
        entries.append(TitleEntry(f"syn{i}", f"{b.title} {rng.choice(words)} {i % 977}", b.year, None, 0))
    norms = [normalise_title(x.title) for x in entries]  # a published copy keeps these
    print(f"CPU: {cpu_model()}; {len(entries):,} titles")
    idx = TitleIndex(entries, norms=norms)
    import gc

    t0 = time.perf_counter()
    idx.warm()
    gc.collect()
    gc.freeze()  # as `reelvec serve` does after warm(): no collection walks the index again
    print(f"candidate index (trigrams, sorted folds): built in {time.perf_counter() - t0:.1f} s (once, at warm())")
    p50, p99 = lookups(idx, QUERIES)
    print(f"fuzzy lookups, trigram candidates: p50 {p50:.1f} ms p99 {p99:.1f} ms ({len(QUERIES) * 3} lookups)")
    if args.baseline:
        T.FULL_SCAN = 10**9
        full = TitleIndex(entries, norms=norms)
        p50, p99 = lookups(full, QUERIES[:6], rounds=1)
        print(f"fuzzy lookups, full scan (before): p50 {p50:.1f} ms p99 {p99:.1f} ms (6 lookups)")


if __name__ == "__main__":
    main()
