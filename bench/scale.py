"""A catalogue of N movies on one machine: a synthetic home made through reelvec's own code,
then the read path measured as a user meets it (`reelvec.open`), with the exact numpy scan and
(--edge) Qdrant Edge's own HNSW beside it in the same run.

    python bench/scale.py --n 100000 [--source .reelvec] [--json out.json] [--edge] [--keep DIR]

The home: the source home's real points (vectors and payloads) and, past them, copies with new
ids and keys, a word and a number appended to the title, and noise on every vector (fused,
text, image; renormalised): N rows. Hubness (`fusion.blend.hubness`) is computed over the N
fused vectors and written into the payloads, then the rows are published with
`index.publish.publish` (ANN indexes above `ann.ANN_MIN_ROWS`, neighbour lists below): the
index + publish time a build spends after encoding. No precomputed answers: `similar` computes.

Measured (p50 / p99 over --queries queries each, after 50 unmeasured `similar` queries of
other movies): `similar` with a genre + year filter and
the default `similar` (both computed: the blend, people and series prefetches, title
similarity, explanations), `search_text` (MiniLM loaded; first query excluded), fuzzy title
lookups (typos), the reader's RSS after warm-up and queries (and its anonymous part: what is
not shared page cache), the copy's size on disk, and recall@10 of the served candidates (the
store's `query`, filtered and not; the text pool of 200) against the exact scan.
"""
from __future__ import annotations

import argparse
import json
import resource
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

WORDS = "storm night river blue city last dark return house secret love war king summer star road".split()
TYPOS = ["The Matrx", "Sevenn", "Lord of the Rings Fellowship", "Godfather 2", "Shawshank Redemtion", "Jurasic Park",
         "Finding Nemmo", "Alien 3", "The Dark Knigt Rises", "Toy Strory 3", "Inceptoin", "Pulp Fictoin",
         "Blade Runer 2049", "Terminator 2", "Home Alone 2", "Zzyzx Qwerty"]
TEXTS = ["a heist comedy in paris", "astronauts stranded on mars grow potatoes", "a shark terrorises a beach town",
         "a boy wizard goes to a school of magic", "a hacker learns that the world is a simulation",
         "a lonely robot cleans up an abandoned earth", "two detectives hunt a serial killer who uses the seven sins",
         "a toy cowboy is jealous of a new space ranger toy", "an animated film about a fish",
         "gangsters in new york", "a haunted hotel in the mountains in winter", "dinosaurs cloned in a theme park"]
WARMUP = 50  # unmeasured `similar` queries before the measured ones (other movies)
NOISE = 0.03  # per coordinate: a copy's fused cosine to its original is about 0.9


def pct(xs) -> tuple[float, float]:
    return float(np.percentile(xs, 50) * 1e3), float(np.percentile(xs, 99) * 1e3)


def rss_mb() -> tuple[float, float]:
    """(RSS, its anonymous part) of this process now, in MB."""
    got = {}
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith(("VmRSS:", "RssAnon:")):
            got[line.split(":")[0]] = int(line.split()[1]) / 1024
    return got.get("VmRSS", 0.0), got.get("RssAnon", 0.0)


def source_points(source: Path):
    """(collection, vectors, points) of the source home's published copy."""
    from reelvec.index.published import PublishedStore

    store = PublishedStore(source / "store")
    coll = store.resolve_alias("movies")
    if coll is None:
        raise SystemExit(f"no index in {source}: run `make demo` (or `reelvec build --store {source}`) first")
    dims = store.collection_vectors(coll)
    pts = list(store.scroll(coll, with_vectors=True))
    store.close()
    return coll, dims, pts


def synthetic(pts, dims: dict[str, int], n: int, seed: int = 0):
    """(fused matrix, a function yielding the N points with the fused rows of that matrix)."""
    from reelvec.index.base import Found, point_id

    rng = np.random.default_rng(seed)
    base = len(pts)
    src_of = np.concatenate([np.arange(min(n, base)), rng.integers(0, base, max(0, n - base))])
    fused = np.zeros((n, dims["fused"]), np.float32)
    for s in range(0, n, 65536):
        e = min(n, s + 65536)
        block = np.stack([np.asarray(pts[j].vec.get("fused", np.zeros(dims["fused"])), np.float32)
                          for j in src_of[s:e]])
        if e > base:
            extra = rng.normal(0, NOISE, block.shape).astype(np.float32)
            extra[: max(0, base - s)] = 0.0  # the real points stay as they are
            block = block + extra
        fused[s:e] = block / np.maximum(np.linalg.norm(block, axis=1, keepdims=True), 1e-12)

    def points(hub: np.ndarray):
        r = np.random.default_rng(seed + 1)
        for i in range(n):
            p = pts[src_of[i]]
            if i < base:
                yield Found(p.id, 1.0, p.payload | {"hub": float(hub[i])}, p.vec | {"fused": fused[i]})
                continue
            key = f"syn:{i}"
            vec = {"fused": fused[i]}
            for name, v in p.vec.items():
                if name != "fused":
                    x = np.asarray(v, np.float32) + r.normal(0, NOISE, len(v)).astype(np.float32)
                    vec[name] = x / np.linalg.norm(x)
            payload = {k: v for k, v in p.payload.items() if k not in ("tmdb_id", "imdb_id", "movielens_id",
                                                                       "tmdb_url", "imdb_url")}
            payload |= {"key": key, "title": f"{p.payload.get('title', '')} {WORDS[i % len(WORDS)]} {i % 977}",
                        "hub": float(hub[i])}
            yield Found(point_id(key), 1.0, payload, vec)
    return fused, points


def make_home(source: Path, home: Path, n: int) -> dict:
    """The synthetic home of `n` movies at `home`; returns what building it took."""
    from reelvec.fusion.blend import hubness
    from reelvec.index.publish import publish

    coll, dims, pts = source_points(source)
    home.mkdir(parents=True, exist_ok=True)
    manifest = json.loads((source / "manifest.json").read_text())
    for name in {manifest.get("model", "model"), manifest.get("features", "features")}:
        (home / name).symlink_to((source / name).resolve())
    (home / "manifest.json").write_text(json.dumps(manifest))
    (home / "store").mkdir()
    (home / "store" / "aliases.json").write_text(json.dumps({"movies": coll}))
    fused, points = synthetic(pts, dims, n)
    out = {}
    t = time.perf_counter()
    hub = hubness(fused)
    out["hubness_seconds"] = time.perf_counter() - t
    t = time.perf_counter()
    publish(home / "store", coll, dims, points(hub))
    out["publish_seconds"] = time.perf_counter() - t
    out["index_publish_seconds"] = out["hubness_seconds"] + out["publish_seconds"]
    folder = home / "store" / "published" / coll
    out["disk_mb"] = sum(f.stat().st_size for f in folder.iterdir()) / 1e6
    out["ann_mb"] = sum(f.stat().st_size for f in folder.glob("ann-*")) / 1e6
    return out


def similar_queries(engine, c, rows, rng) -> list[tuple[str, list, int]]:
    """(key, genres, year) of the movies at `rows` of copy `c`, after WARMUP unmeasured `similar`
    queries of other movies (a service that has answered a few queries: pages in)."""
    keys = []
    for r in rows.tolist():
        p = c.payload(r)
        keys.append((p.get("key") or f"tmdb:{p.get('tmdb_id')}", p.get("genres") or ["Drama"], p.get("year") or 2000))
    for r in rng.integers(0, len(c.ids), WARMUP).tolist():
        p = c.payload(r)
        engine.similar(p.get("key") or f"tmdb:{p.get('tmdb_id')}", k=10)
    return keys


def time_similar(engine, keys) -> dict[str, list[float]]:
    """Seconds of a genre + year filtered `similar` ("filtered") and a default one ("computed")
    of each movie in `keys`."""
    lat: dict[str, list[float]] = {"filtered": [], "computed": []}
    for key, genres, year in keys:
        t = time.perf_counter()
        engine.similar(key, k=10, genres=genres[:1], after=year - 15, before=year + 15)
        lat["filtered"].append(time.perf_counter() - t)
        t = time.perf_counter()
        engine.similar(key, k=10)
        lat["computed"].append(time.perf_counter() - t)
    return lat


def measure(home: Path, queries: int, seed: int = 0) -> dict:
    """Latencies, RSS and recall of a reader of `home` (this process)."""
    import reelvec
    from reelvec.index import QuerySpec, SearchFilter

    out: dict = {}
    before = rss_mb()
    t = time.perf_counter()
    engine = reelvec.open(home)
    engine.warm()
    out["warm_seconds"] = time.perf_counter() - t
    coll = engine.collection
    c = engine.store._copy(coll)
    n = len(c.ids)
    rng = np.random.default_rng(seed)
    rows = rng.integers(0, n, queries)
    keys = similar_queries(engine, c, rows, rng)
    lat: dict[str, list] = {**time_similar(engine, keys), "text": [], "title": []}
    engine.search_text(TEXTS[0], k=10)  # loads the text encoder
    for text in (TEXTS * (queries // len(TEXTS) + 1))[:queries]:
        t = time.perf_counter()
        engine.search_text(text, k=10)
        lat["text"].append(time.perf_counter() - t)
    for q in (TYPOS * (queries // len(TYPOS) + 1))[:queries]:
        t = time.perf_counter()
        try:
            engine.titles.resolve(q)
        except reelvec.ReelvecError:  # an unknown title is an answer too (with candidates)
            pass
        lat["title"].append(time.perf_counter() - t)
    for name, xs in lat.items():
        out[f"{name}_p50_ms"], out[f"{name}_p99_ms"] = pct(xs)
    out["filtered_similar_p99_ms"] = out["filtered_p99_ms"]
    out["computed_similar_p99_ms"] = out["computed_p99_ms"]
    out["search_text_p99_ms"] = out["text_p99_ms"]
    out["title_lookup_p99_ms"] = out["title_p99_ms"]
    out["reader_rss_mb"], out["reader_anon_mb"] = rss_mb()
    out["reader_rss_before_open_mb"] = before[0]
    out["peak_rss_mb"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    # recall@10 of what the store serves (index + rescoring) against the exact scan, which is
    # also the numpy baseline: the read path before the index, timed on the same queries
    store = engine.store
    specs = []
    for i, (r, (_, g, y)) in enumerate(zip(rows.tolist(), keys)):
        f = SearchFilter(genres_any=tuple(g[:1]), year_min=y - 15, year_max=y + 15) if i % 2 else SearchFilter()
        specs.append(QuerySpec(c.vectors["fused"][r], "fused", 10, f, with_payload=False))
    text_specs = [QuerySpec(c.vectors["text"][r], "text", 200, SearchFilter(), with_payload=False)
                  for r in rows[:50].tolist() if c.has["text"][r]]
    served, exact_lat, hits = [], [], {"fused": [], "text": []}
    for kind, group in (("fused", specs), ("text", text_specs)):
        for s in group:
            t = time.perf_counter()
            got = store.query(coll, s)
            served.append(time.perf_counter() - t)
            t = time.perf_counter()
            ok = np.flatnonzero(c.filters.mask(s.filter) & c.has[s.using])
            sc = c.vectors[s.using][ok] @ np.asarray(s.vector, np.float32)
            want = set(ok[np.argsort(-sc, kind="stable")[: s.k]].tolist())
            exact_lat.append(time.perf_counter() - t) if kind == "fused" else None
            got_rows = {c.row[f.id] for f in got}
            hits[kind].append(len(got_rows & want) / len(want) if want else 1.0)
    out["recall_at_10"] = float(np.mean(hits["fused"]))
    out["text_pool_recall_at_200"] = float(np.mean(hits["text"])) if hits["text"] else None
    out["store_query_p50_ms"], out["store_query_p99_ms"] = pct(served[:len(specs)])
    out["exact_numpy_p50_ms"], out["exact_numpy_p99_ms"] = pct(exact_lat)
    out["rows"] = n
    out["ann"] = sorted(c.meta.get("ann") or {})
    if out["ann"]:  # the whole answer: engine.similar's top 10 read through the index vs the exact scan
        pairs = keys[:100]
        served = [[h.key for h in engine.similar(k, k=10, genres=g[:1], after=y - 15, before=y + 15)]
                  for k, g, y in pairs]
        c._ann = {name: None for name in c.meta["ann"]}  # this reader only: every query scans
        t = time.perf_counter()
        scanned = [[h.key for h in engine.similar(k, k=10, genres=g[:1], after=y - 15, before=y + 15)]
                   for k, g, y in pairs]
        out["filtered_similar_exact_mean_ms"] = (time.perf_counter() - t) / len(pairs) * 1e3
        out["similar_top10_agreement"] = float(np.mean([len(set(a) & set(b)) / max(1, len(b))
                                                        for a, b in zip(served, scanned)]))
    engine.close()
    return out


def edge_beside(home: Path, queries: int) -> dict:
    """The same fused vectors and filter fields in an embedded Qdrant Edge shard (HNSW on fused,
    payload indexes, one optimize) queried directly: filtered top-10 latency and recall."""
    from reelvec.index import QuerySpec, SearchFilter
    from reelvec.index.base import PointData
    from reelvec.index.edge import EdgeStore
    from reelvec.index.published import PublishedStore

    pub = PublishedStore(home / "store")
    coll = pub.resolve_alias("movies")
    c = pub._copy(coll)
    tmp = Path(tempfile.mkdtemp(prefix="scale-edge-", dir=home))
    edge = EdgeStore(tmp)
    edge.create_collection("e", {"fused": c.vectors["fused"].shape[1]})
    t = time.perf_counter()
    batch = []
    for r, pid in enumerate(c.ids):
        batch.append(PointData(pid, {"fused": c.vectors["fused"][r]},
                               {"genres": c.cols["genres"][r] or [], "year": c.cols["year"][r]}))
        if len(batch) == 2048:
            edge.upsert("e", batch)
            batch = []
    edge.upsert("e", batch)
    out = {"edge_upsert_seconds": time.perf_counter() - t}
    t = time.perf_counter()
    edge.finalize("e")
    out["edge_optimize_seconds"] = time.perf_counter() - t
    rng = np.random.default_rng(1)
    lat, rec = [], []
    for r in rng.integers(0, len(c.ids), queries).tolist():
        g, y = (c.cols["genres"][r] or ["Drama"])[:1], c.cols["year"][r] or 2000
        f = SearchFilter(genres_any=tuple(g), year_min=y - 15, year_max=y + 15)
        q = c.vectors["fused"][r]
        t = time.perf_counter()
        got = edge.query("e", QuerySpec(q, "fused", 10, f, with_payload=False))
        lat.append(time.perf_counter() - t)
        ok = np.flatnonzero(c.filters.mask(f))
        want = set(ok[np.argsort(-(c.vectors["fused"][ok] @ q), kind="stable")[:10]].tolist())
        rec.append(len({c.row[h.id] for h in got} & want) / len(want) if want else 1.0)
    out["edge_filtered_p50_ms"], out["edge_filtered_p99_ms"] = pct(lat)
    out["edge_recall_at_10"] = float(np.mean(rec))
    edge.close()
    pub.close()
    shutil.rmtree(tmp, ignore_errors=True)
    return out


def main() -> None:
    from reelvec.encoders.hardware import cpu_model

    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--n", type=int, default=100_000, help="movies in the synthetic home (default 100,000)")
    ap.add_argument("--source", default=".reelvec", help="the home whose points are copied (default .reelvec)")
    ap.add_argument("--queries", type=int, default=200, help="queries of each kind (default 200)")
    ap.add_argument("--json", help="also write the numbers to this JSON file")
    ap.add_argument("--edge", action="store_true", help="also time Qdrant Edge's own HNSW on the same vectors")
    ap.add_argument("--keep", help="make the home in this folder and keep it (default: a temporary one, removed)")
    ap.add_argument("--reuse", action="store_true", help="with --keep: measure the home there, do not make it")
    args = ap.parse_args()
    out: dict = {"n": args.n, "cpu": cpu_model()}
    home = Path(args.keep) if args.keep else Path(tempfile.mkdtemp(prefix="reelvec-scale-"))
    try:
        if not args.reuse:
            if home.exists() and any(home.iterdir()):
                raise SystemExit(f"{home} is not empty; pass --reuse to measure it, or another folder")
            out |= make_home(Path(args.source), home, args.n)
            print(f"made {args.n:,} movies in {home}: hubness {out['hubness_seconds']:.0f} s, publish "
                  f"{out['publish_seconds']:.0f} s, {out['disk_mb']:.0f} MB", flush=True)
        # the reader in a process of its own: its RSS is a reader's, not the maker's
        import subprocess

        got = subprocess.run([sys.executable, __file__, "--measure", str(home), "--queries", str(args.queries)],
                             capture_output=True, text=True)
        if got.returncode:
            raise SystemExit(got.stderr[-3000:])
        out |= json.loads(got.stdout.strip().splitlines()[-1])
        if args.edge:
            out |= edge_beside(home, args.queries)
    finally:
        if not args.keep:
            shutil.rmtree(home, ignore_errors=True)
    print(f"CPU: {out['cpu']}; N = {args.n:,}")
    cols = [("filtered similar p50/p99", f"{out['filtered_p50_ms']:.1f} / {out['filtered_p99_ms']:.1f} ms"),
            ("computed default p99", f"{out['computed_p99_ms']:.1f} ms"),
            ("search_text p99", f"{out['text_p99_ms']:.1f} ms"),
            ("fuzzy title p50/p99", f"{out['title_p50_ms']:.1f} / {out['title_p99_ms']:.1f} ms"),
            ("index + publish", f"{out.get('index_publish_seconds', float('nan')):.0f} s"),
            ("reader RSS (anon)", f"{out['reader_rss_mb']:.0f} ({out['reader_anon_mb']:.0f}) MB"),
            ("disk (copy)", f"{out.get('disk_mb', float('nan')):.0f} MB"),
            ("recall@10", f"{out['recall_at_10']:.3f}"),
            ("store query p50/p99", f"{out['store_query_p50_ms']:.2f} / {out['store_query_p99_ms']:.2f} ms"),
            ("exact numpy p50/p99", f"{out['exact_numpy_p50_ms']:.2f} / {out['exact_numpy_p99_ms']:.2f} ms")]
    if "similar_top10_agreement" in out:
        cols.append(("similar top 10 vs exact scan", f"{out['similar_top10_agreement']:.3f} (exact: "
                     f"{out['filtered_similar_exact_mean_ms']:.0f} ms a query)"))
    if args.edge:
        cols.append(("Qdrant Edge p50/p99 (recall)", f"{out['edge_filtered_p50_ms']:.2f} / "
                     f"{out['edge_filtered_p99_ms']:.2f} ms ({out['edge_recall_at_10']:.3f})"))
    for name, value in cols:
        print(f"  {name:<30} {value}")
    if args.json:
        Path(args.json).write_text(json.dumps(out, indent=1))


if __name__ == "__main__":
    if len(sys.argv) > 1 and sys.argv[1] == "--measure":
        ap = argparse.ArgumentParser()
        ap.add_argument("--measure")
        ap.add_argument("--queries", type=int, default=200)
        a = ap.parse_args()
        print(json.dumps(measure(Path(a.measure), a.queries)))
    else:
        main()
