"""Does `search_text` read plots? Descriptive queries written from films' plots (bench/text_queries.tsv:
the dev half tunes, the test half reports), each with the one film it describes.

    python bench/text_search.py --store .reelvec [--tune] [--json out.json]

Prints, per ranking (cosine only = before this change; the plot-word and popularity terms alone;
the shipped default; with --tune, the best of a grid on the dev half), success@10 and MRR with
95% bootstrap CIs on each half, whether the top 10 is the same at k=10 and k=50, and the latency.
"""
from __future__ import annotations

import argparse
import dataclasses
import itertools
import json
import time
from pathlib import Path

import numpy as np

from reelvec.index.base import point_id

QUERIES = Path(__file__).with_name("text_queries.tsv")


def load_queries(path: Path = QUERIES) -> list[tuple[str, str, int]]:
    rows = [line.rstrip("\n").split("\t") for line in path.read_text(encoding="utf-8").splitlines()
            if line.strip() and not line.startswith("#")]
    return [(q, t, int(y)) for q, t, y in rows]


def ci(x: list[float], reps: int = 2000) -> tuple[float, float, float]:
    a = np.asarray(x, float)
    rng = np.random.default_rng(0)
    boot = a[rng.integers(0, len(a), size=(reps, len(a)))].mean(1)
    return float(a.mean()), float(np.quantile(boot, 0.025)), float(np.quantile(boot, 0.975))


class CachedEncoder:
    """The engine's text encoder, each query encoded once however many rankings read it."""

    def __init__(self, inner):
        self.inner, self.seen = inner, {}

    def encode(self, texts):
        missing = [t for t in texts if t not in self.seen]
        if missing:
            self.seen.update(zip(missing, self.inner.encode(missing)))
        return np.stack([self.seen[t] for t in texts])

    def __getattr__(self, name):
        return getattr(self.inner, name)


def measure(engine, queries, targets, how) -> dict:
    engine.text_rank = how
    ranks, same_k, times = [], 0, []
    for (q, _, _), target in zip(queries, targets):
        t0 = time.perf_counter()
        hits = engine.search_text(q, k=50)
        times.append(time.perf_counter() - t0)
        keys = [point_id(h.key) for h in hits]
        ranks.append(keys.index(target) + 1 if target in keys else 10**6)
        same_k += [point_id(h.key) for h in engine.search_text(q, k=10)] == keys[:10]
    return {"ranks": ranks, "same_top10_k10_k50": same_k / len(queries), "p50_ms": 1000 * float(np.median(times))}


def summary(ranks: list[int]) -> dict:
    s10 = ci([r <= 10 for r in ranks])
    mrr = ci([1 / r for r in ranks])
    return {"success@10": s10, "mrr": mrr, "n": len(ranks)}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default=".reelvec", help="a built home")
    ap.add_argument("--tune", action="store_true", help="also grid-search the two weights on the dev half")
    ap.add_argument("--json", help="write the numbers here too")
    args = ap.parse_args()

    import reelvec
    from reelvec.encoders.hardware import cpu_model
    from reelvec.fusion.textrank import TextRank

    engine = reelvec.open(args.store)
    engine._text = CachedEncoder(engine.text_encoder)
    queries = load_queries()
    found = [engine.resolve(f"{t} ({y})") for _, t, y in queries]
    for (_, t, y), r in zip(queries, found):
        if (r.entry.title, r.entry.year) != (t, y):
            raise SystemExit(f"{t} ({y}) is not in {args.store} (it resolved to {r.entry.title} ({r.entry.year}))")
    targets = [r.entry.point_id for r in found]
    dev = [i for i in range(len(queries)) if i % 2 == 0]
    test = [i for i in range(len(queries)) if i % 2 == 1]
    base = TextRank()
    rankings = {"cosine only (before)": dataclasses.replace(base, plot=0.0, popular=0.0),
                "cosine + plot words": dataclasses.replace(base, popular=0.0),
                "cosine + popularity": dataclasses.replace(base, plot=0.0),
                f"default (plot {base.plot}, popular {base.popular})": base}
    if args.tune:
        grid = {}
        for plot, pop in itertools.product((0.1, 0.2, 0.3, 0.4, 0.5, 0.6), (0.0, 0.05, 0.1, 0.15, 0.2, 0.3)):
            how = dataclasses.replace(base, plot=plot, popular=pop)
            r = measure(engine, [queries[i] for i in dev], [targets[i] for i in dev], how)["ranks"]
            grid[(plot, pop)] = (np.mean([x <= 10 for x in r]), np.mean([1 / x for x in r]))
        (plot, pop), _ = max(grid.items(), key=lambda kv: (round(kv[1][0], 6), kv[1][1]))
        print("dev grid (plot, popular) -> success@10, MRR:")
        for key, (s, m) in sorted(grid.items()):
            print(f"  {key}: {s:.3f} {m:.3f}")
        rankings[f"tuned on dev (plot {plot}, popular {pop})"] = dataclasses.replace(base, plot=plot, popular=pop)

    print(f"CPU: {cpu_model()}; {len(dev)} dev + {len(test)} test queries; pool {base.pool}")
    out = {"cpu": cpu_model(), "rankings": {}}
    for name, how in rankings.items():
        m = measure(engine, queries, targets, how)
        row = {"dev": summary([m["ranks"][i] for i in dev]), "test": summary([m["ranks"][i] for i in test]),
               "same_top10_k10_k50": m["same_top10_k10_k50"], "p50_ms": m["p50_ms"],
               "misses_test": [queries[i][1] for i in test if m["ranks"][i] > 10]}
        out["rankings"][name] = row
        fmt = lambda t: f"{t[0]:.3f} [{t[1]:.3f},{t[2]:.3f}]"
        print(f"{name:42s} dev s@10 {fmt(row['dev']['success@10'])} MRR {fmt(row['dev']['mrr'])} | "
              f"test s@10 {fmt(row['test']['success@10'])} MRR {fmt(row['test']['mrr'])} | "
              f"same k {row['same_top10_k10_k50']:.2f} | p50 {row['p50_ms']:.1f} ms")
        print(f"{'':42s} test misses: {', '.join(row['misses_test']) or '-'}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    main()
