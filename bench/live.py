"""Live edits on a built home (a copy of it: the original is not touched).

    python bench/live.py --store .reelvec [--n 1000] [--singles 20]

single   one `Engine.upsert` of one movie in a warm process (encoders and model loaded): p50/p95
         wall; goal <= 1 s. Again inside `engine.editing()` (the writer's shard held open)
bulk     `reelvec add FILE.jsonl` of N movies (app.add: read, validate, encode text + local
         posters, fuse, write, publish) in one process: movies/s; goal >= 100/s. Then the write
         path alone: the same points, vectors known, upserted again in batches of 256
baseline republishing the whole collection from the writer's shard (what every edit would cost
         if readers could only see a full new published copy), measured in the same run
readers  an engine opened before the edits finds every added title afterwards (no restart)

The movies are real TMDB rows from the home's catalogue given new ids (own:bench-<i>), so their
descriptions have the length of real ones; about half carry a local poster.
"""
from __future__ import annotations

import argparse
import json
import platform
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path


def cpu() -> str:
    try:
        out = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        return next(line.split(":", 1)[1].strip() for line in out.splitlines() if line.startswith("Model name"))
    except (OSError, StopIteration):
        return platform.processor() or "?"


def copy_home(src: Path, dst: Path) -> Path:
    dst.mkdir(parents=True)
    for part in ("manifest.json", "model", "jobs", "store"):
        p = src / part
        (shutil.copytree if p.is_dir() else shutil.copy2)(p, dst / part)
    shutil.copytree(src / "features" / "artifacts", dst / "features" / "artifacts")
    return dst


def sample_movies(home: Path, n: int, skip: int = 0) -> list[dict]:
    from reelvec.ingest.catalog import Catalog

    out = []
    for m in Catalog.load(home / "catalog.jsonl"):
        if m.tmdb_id is None or not m.overview:
            continue
        if skip:
            skip -= 1
            continue
        d = {"id": f"bench-{len(out)}", "title": f"{m.title} Returns", "year": 2026, "overview": m.overview,
             "genres": list(m.genres), "keywords": list(m.keywords), "cast": list(m.cast), "director": m.director,
             "tagline": m.tagline}
        if m.poster and not m.poster.startswith("http") and Path(m.poster).exists():
            d["poster"] = m.poster
        out.append({k: v for k, v in d.items() if v not in (None, [], "")})
        if len(out) == n:
            return out
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default=".reelvec")
    ap.add_argument("--n", type=int, default=1000)
    ap.add_argument("--singles", type=int, default=20)
    args = ap.parse_args()

    import reelvec
    from reelvec.app import Home
    from reelvec.app.edit import add
    from reelvec.index import open_store

    src = Path(args.store)
    out: dict = {"cpu": cpu()}
    with tempfile.TemporaryDirectory() as tmp:
        home = copy_home(src, Path(tmp) / "home")
        reader = reelvec.open(home)
        reader.similar("The Matrix", k=10)
        points_before = reader.store.count(reader.collection)

        # single adds, warm process
        singles = sample_movies(src, args.singles + 1, skip=args.n)
        engine = reelvec.open(home)
        engine.upsert(singles[0])  # warm: encoders, model, title index
        engine.delete("own:bench-0")
        times = []
        for m in singles[1:]:
            t = time.perf_counter()
            engine.upsert(m)
            times.append(time.perf_counter() - t)
        t = time.perf_counter()
        engine.delete([f"own:{m['id']}" for m in singles[1:]])
        out["single_delete_all_s"] = round(time.perf_counter() - t, 3)
        held = []
        with engine.editing():  # the writer held open across the adds
            for m in singles[1:]:
                t = time.perf_counter()
                engine.upsert(m)
                held.append(time.perf_counter() - t)
        engine.delete([f"own:{m['id']}" for m in singles[1:]])
        engine.close()
        for name, ts in (("single_add", times), ("single_add_editing", held)):
            ts.sort()
            out[f"{name}_p50_s"] = round(statistics.median(ts), 3)
            out[f"{name}_p95_s"] = round(ts[int(0.95 * (len(ts) - 1))], 3)

        # bulk add through the app layer (what `reelvec add FILE` runs)
        movies = sample_movies(src, args.n)
        path = Path(tmp) / "new.jsonl"
        path.write_text("".join(json.dumps(m) + "\n" for m in movies))
        res = add(Home.at(home), path, fetch=False, progress=True)
        out["bulk_movies"] = len(res.written)
        out["bulk_with_poster"] = sum("poster" in m for m in movies)
        out["bulk_seconds"] = round(res.seconds, 2)
        out["bulk_movies_per_s"] = round(len(res.written) / res.seconds, 1)

        # the write path alone: the same 1,000 points (vectors already computed) written again
        store = open_store(path=str(home / "store"))
        coll = store.resolve_alias("movies")
        from reelvec.index.base import PointData, point_id
        got = store.retrieve(coll, [point_id(f"own:{m['id']}") for m in movies], with_vectors=True)
        pts = [PointData(f.id, f.vectors, f.payload) for f in got]
        t = time.perf_counter()
        for s in range(0, len(pts), 256):
            store.upsert(coll, pts[s:s + 256])
        out["write_only_movies_per_s"] = round(len(pts) / (time.perf_counter() - t), 1)
        store.close()

        # readers follow without a restart
        time.sleep(1.1)
        found = sum(1 for m in movies[:50] if reader.movie(f"{m['title']} (2026)")["key"] == f"own:{m['id']}")
        out["reader_found_of_50"] = found
        out["points"] = [points_before, reader.store.count(reader.collection)]
        reader.close()

        # baseline: a full republish from the writer's shard
        store = open_store(path=str(home / "store"))
        coll = store.resolve_alias("movies")
        shutil.rmtree(home / "store" / "published" / coll)
        t = time.perf_counter()
        store.publish(coll)
        out["baseline_full_republish_s"] = round(time.perf_counter() - t, 3)
        store.close()
    out["single_add_vs_republish"] = round(out["baseline_full_republish_s"] / out["single_add_p50_s"], 2)
    print(json.dumps(out, indent=1))


if __name__ == "__main__":
    sys.exit(main())
