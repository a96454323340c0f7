"""Vector store speed: embedded Qdrant Edge vs qdrant-client local mode, same points, same run.

    python bench/index.py [--n 45000] [--queries 200]

45,000 movies x (256 fused + 384 text + 1280 image) synthetic unit vectors with real-looking
genres and years; upsert rate, then top-10 query latency p50/p99 unfiltered and with a
genre + year filter.
"""
from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

GENRES = ["Drama", "Comedy", "Thriller", "Action", "Romance", "Adventure", "Crime", "Science Fiction", "Horror",
          "Family", "Fantasy", "Mystery", "Animation", "History", "Music", "War", "Documentary", "Western"]
WEIGHTS = np.array([24, 18, 10, 10, 8, 6, 6, 4, 4, 3, 3, 2, 2, 1, 1, 1, 1, 1], float)


def make_points(n: int, seed: int = 0):
    from reelvec.index import PointData, point_id

    rng = np.random.default_rng(seed)
    p = WEIGHTS / WEIGHTS.sum()
    out = []
    for i in range(n):
        vec = {name: (v := rng.normal(size=d).astype(np.float32)) / np.linalg.norm(v)
               for name, d in (("fused", 256), ("text", 384))}
        if rng.random() < 0.6:
            v = rng.normal(size=1280).astype(np.float32)
            vec["image"] = v / np.linalg.norm(v)
        genres = sorted(set(rng.choice(GENRES, size=int(rng.integers(1, 4)), p=p).tolist()))
        out.append(PointData(point_id(f"tmdb:{i}"), vec, {"tmdb_id": i, "title": f"Movie {i}", "genres": genres,
                                                          "year": int(rng.integers(1920, 2024)),
                                                          "original_language": "en" if rng.random() < 0.8 else "fr"}))
    return out


def run(store, points, queries, batch: int = 1024) -> dict:
    from reelvec.index import QuerySpec, SearchFilter

    dims = {"fused": 256, "text": 384, "image": 1280}
    store.create_collection("bench", dims)
    t = time.perf_counter()
    for s in range(0, len(points), batch):
        store.upsert("bench", points[s:s + batch])
    upsert = time.perf_counter() - t
    t = time.perf_counter()
    store.finalize("bench")  # index build (HNSW) for the embedded store; a no-op for qdrant-client
    finalize = time.perf_counter() - t
    flt = SearchFilter(genres_any=("Science Fiction",), year_min=1980, year_max=2000)
    out = {"upsert_points_per_s": len(points) / upsert, "upsert_seconds": upsert, "index_build_seconds": finalize}
    for name, f in (("unfiltered", SearchFilter()), ("filtered", flt)):
        store.query("bench", QuerySpec(queries[0], "fused", 10, f))
        lat = []
        for q in queries:
            t = time.perf_counter()
            hits = store.query("bench", QuerySpec(q, "fused", 10, f))
            lat.append((time.perf_counter() - t) * 1000)
            assert len(hits) == 10
        out[f"{name}_p50_ms"] = float(np.percentile(lat, 50))
        out[f"{name}_p99_ms"] = float(np.percentile(lat, 99))
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=45_000)
    ap.add_argument("--queries", type=int, default=200)
    ap.add_argument("--client-queries", type=int, default=50, help="qdrant-client local mode is slow; fewer queries")
    ap.add_argument("--skip-client", action="store_true", help="embedded store only")
    args = ap.parse_args()
    from reelvec.index.edge import EdgeStore
    from reelvec.index.server import ServerStore

    t = time.perf_counter()
    points = make_points(args.n)
    print(f"made {len(points)} points in {time.perf_counter() - t:.1f} s", file=sys.stderr)
    rng = np.random.default_rng(1)
    queries = [(v := rng.normal(size=256)) / np.linalg.norm(v) for _ in range(args.queries)]
    with tempfile.TemporaryDirectory() as tmp:
        edge = EdgeStore(Path(tmp) / "edge")
        e = run(edge, points, queries)
        edge.close()
        if args.skip_client:
            print(json.dumps({"n": args.n, "edge": e}))
            return
        client = ServerStore(location=":memory:")
        c = run(client, points, queries[: args.client_queries], batch=256)
        client.close()
    print(f"upsert   : edge {e['upsert_points_per_s']:,.0f} pts/s   client-local {c['upsert_points_per_s']:,.0f} pts/s"
          f"   x{e['upsert_points_per_s'] / c['upsert_points_per_s']:.1f}")
    for name in ("unfiltered", "filtered"):
        print(f"{name:<9}: edge p50 {e[f'{name}_p50_ms']:.2f} ms p99 {e[f'{name}_p99_ms']:.2f} ms   client-local p50 "
              f"{c[f'{name}_p50_ms']:.1f} ms p99 {c[f'{name}_p99_ms']:.1f} ms   "
              f"x{c[f'{name}_p50_ms'] / e[f'{name}_p50_ms']:.0f} (p50)")
    print(json.dumps({"n": args.n, "edge": e, "client_local": c}))


if __name__ == "__main__":
    main()
