"""`reelvec` command line: a thin shell over the Python API. Files and environment variables
are read here and nowhere else; every stage's errors surface as one clear line, not a trace."""
from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

from reelvec.errors import ReelvecError

DEFAULT_DATA = Path("../shared/data")


def data_dir(arg: str | None) -> Path:
    return Path(arg or os.environ.get("REELVEC_DATA") or DEFAULT_DATA)


def _table(rows: list[list], headers: list[str]) -> str:
    """Plain-text table: numbers right-aligned, text left-aligned."""
    cells = [[str(c) for c in r] for r in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]

    def numeric(col: int) -> bool:
        vals = [r[col] for r in cells[1:] if r[col] != ""]
        return bool(vals) and all(v.replace(".", "", 1).replace("-", "", 1).isdigit() for v in vals)

    right = [numeric(i) for i in range(len(headers))]
    line = lambda r: "  ".join(c.rjust(w) if right[i] else c.ljust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join(x.rstrip() for x in [line(cells[0]), "  ".join("-" * w for w in widths), *map(line, cells[1:])])


# --------------------------------------------------------------------------------------- catalog
def cmd_catalog(args) -> int:
    from tqdm import tqdm

    from reelvec.ingest.catalog import build_catalog, write_catalog

    steps = ["tmdb", "movielens", "wikipedia", "merge"]
    bar = tqdm(total=len(steps), desc="catalog", unit="step", disable=args.json or not sys.stderr.isatty() and args.quiet)

    def progress(name):
        bar.set_postfix_str(name)
        if bar.n < len(steps):
            bar.update(1 if name != "tmdb" else 0)

    t0 = time.perf_counter()
    catalog, report = build_catalog(data_dir(args.data), progress=progress)
    bar.update(bar.total - bar.n)
    bar.close()
    qpath = write_catalog(catalog, report, Path(args.out))
    wall = time.perf_counter() - t0
    summary = report.as_dict() | {"catalog": str(args.out), "quarantine_file": str(qpath), "wall_seconds": round(wall, 2)}
    if args.json:
        print(json.dumps(summary, indent=None))
        return 0
    rows = [[s.source, s.rows_read, s.accepted, s.duplicates_merged, s.quarantined,
             "yes" if s.reconciles else "NO"] for s in report.sources]
    print(_table(rows, ["source", "rows read", "accepted", "dup merged", "quarantined", "reconciles"]))
    m = report.merge
    print()
    print(_table([[k, v] for k, v in [
        ("movies in catalog", m.movies),
        ("merged TMDB+MovieLens (on tmdb id)", m.merged_tmdb_movielens),
        ("merged Wikipedia (title, year±1)", m.merged_wikipedia),
        *[(f"only in {k}", v) for k, v in sorted(m.only.items())],
        *[(f"conflicts resolved: {k}", v) for k, v in sorted(m.conflicts.items())],
        ("with a local poster", m.with_poster_file),
        ("with a poster URL", m.with_poster_url),
    ]], ["merge", "count"]))
    reasons = {}
    for s in report.sources:
        for r, n in s.reasons.items():
            reasons[f"{s.source}: {r}"] = n
    if reasons:
        print()
        print(_table([[k, v] for k, v in sorted(reasons.items())], ["quarantined by reason", "rows"]))
    print(f"\nwrote {len(catalog)} movies to {args.out}; {report.quarantined} quarantined rows in {qpath} ({wall:.1f} s)")
    return 0


# --------------------------------------------------------------------------------- fetch-posters
def cmd_fetch_posters(args) -> int:
    from reelvec.ingest.catalog import Catalog, select_movies
    from reelvec.ingest.posters import FetchConfig, fetch_posters, summarise

    catalog = Catalog.load(Path(args.catalog))
    items = [(m.key, m.poster) for m in select_movies(catalog, args.scope, args.limit) if m.poster]
    cfg = FetchConfig(concurrency=args.concurrency, per_host=min(args.concurrency, args.per_host),
                      max_bytes=args.max_bytes, allow_hosts=frozenset(args.allow_host), ssrf_guard=not args.no_ssrf_guard)
    outcomes = fetch_posters(items, args.cache, cfg, progress=not args.quiet)
    summary = summarise(outcomes) | {"cache": str(args.cache)}
    if args.json:
        print(json.dumps(summary))
    else:
        rows = [[k, v] for k, v in summary.items() if k != "failure_reasons"]
        rows += [[f"  reason: {r}", n] for r, n in summary["failure_reasons"].items()]
        print(_table(rows, ["posters", "count"]))
    return 0


# ---------------------------------------------------------------------------------------- encode
def make_encoders(args):
    from reelvec.encoders import EncoderSpec, create

    cache = str(Path(args.cache) / "artifacts")
    text = create(EncoderSpec("minilm", precision=args.text_precision))
    image = create(EncoderSpec("mobilenet_v2", precision=args.image_precision, artifact_dir=cache))
    return text, image


def cmd_encode(args) -> int:
    from reelvec.encoders import FeatureCache
    from reelvec.encoders.pipeline import encode_catalog
    from reelvec.ingest.catalog import Catalog, select_movies
    from reelvec.ingest.quarantine import Rejection, write_quarantine

    catalog = Catalog.load(Path(args.catalog))
    movies = select_movies(catalog, args.scope, args.limit)
    text, image = make_encoders(args)
    out = Path(args.out) if args.out else Path(args.cache) / "features.npz"
    with FeatureCache(args.cache) as cache:
        cache.lock()
        feats = encode_catalog(movies, text, image, cache, posters_dir=Path(args.posters) if args.posters else None,
                               progress=not args.quiet)
    feats.save(out)
    bad = [Rejection("posters", m.poster or m.key, s, m.key) for m, s in zip(movies, feats.image_status)
           if s.startswith("unreadable")]
    write_quarantine(out.with_name("encode.quarantine.jsonl"), bad)
    summary = feats.stats | {"movies": len(movies), "with_image": int(feats.has_image.sum()), "features": str(out),
                             "text_version": feats.text_version, "image_version": feats.image_version}
    if args.json:
        print(json.dumps(summary))
    else:
        print(_table([[k, v] for k, v in summary.items()], ["encode", "value"]))
    return 0


def add_scope_option(p) -> None:
    from reelvec.ingest.movie import SCOPES

    p.add_argument("--scope", default="linked", choices=sorted(SCOPES),
                   help="which movies: linked = with a TMDB/MovieLens id (default), all = also Wikipedia-only films")


def add_encoder_options(p) -> None:
    p.add_argument("--text-precision", default="auto", choices=["auto", "fp32", "autocast-bf16", "bf16"],
                   help="text speed path (default: auto = bf16 matmuls where the CPU has them)")
    p.add_argument("--image-precision", default="auto", choices=["auto", "fp32", "onnx", "bf16"],
                   help="poster speed path (default: auto = ONNX Runtime fp32)")


# ---------------------------------------------------------------------------------- train / eval
def prepared_from_args(args, log):
    from reelvec.encoders.pipeline import Features
    from reelvec.fusion.experiment import prepare
    from reelvec.ingest.catalog import Catalog, select_movies
    from reelvec.ingest.movielens import load_ratings_table

    catalog = Catalog.load(Path(args.catalog))
    features = Features.load(Path(args.features))
    have = set(features.keys)
    movies = [m for m in select_movies(catalog, args.scope) if m.key in have]
    return prepare(movies, features, load_ratings_table(data_dir(args.data)), log=log)


def fusion_config(args):
    import dataclasses

    from reelvec.fusion.model import FusionConfig

    cfg = FusionConfig()
    if getattr(args, "config", None):
        try:
            raw = json.loads(Path(args.config).read_text())
        except (OSError, json.JSONDecodeError) as exc:
            raise ReelvecError(f"cannot read fusion config {args.config}: {exc}") from None
        cfg = FusionConfig.from_dict(raw.get("best_config", raw))
    overrides = {k: getattr(args, k) for k in ("epochs", "miner", "lr", "margin", "positives", "seed")
                 if getattr(args, k, None) is not None}
    return dataclasses.replace(cfg, **overrides)


def cmd_train(args) -> int:
    from reelvec.fusion.experiment import fit

    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    p = prepared_from_args(args, log)
    t = time.perf_counter()
    model, hist = fit(p, fusion_config(args), log=log)
    wall = time.perf_counter() - t
    model.metrics = {"train_seconds": round(wall, 2), "epochs": hist.epochs, "collapsed": hist.collapsed}
    model.save(args.out)
    print(f"trained {model.version} on {len(p.movies)} movies in {wall:.1f} s -> {args.out}"
          + (" (collapse detected: kept the last healthy epoch)" if hist.collapsed else ""))
    return 0


def cmd_eval(args) -> int:
    from reelvec.fusion.experiment import run_evaluation
    from reelvec.fusion.report import methods_table, write_report

    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    p = prepared_from_args(args, log)
    rep = run_evaluation(p, seeds=args.seeds, config=fusion_config(args), trials=args.trials,
                         studies=not args.no_studies, log=log)
    path = write_report(rep, p, args.report)
    c = rep.comparison
    print(methods_table(rep))
    print(f"\nreelvec-fusion vs {c['best_baseline']}: NDCG@10 {c['ours']:.4f} vs {c['baseline']:.4f} "
          f"({c['relative_gain'] * 100:+.1f}%), paired diff {c['diff']:.4f} [{c['diff_low']:.4f}, {c['diff_high']:.4f}]")
    print(f"report: {path}")
    return 0


def add_fusion_options(p) -> None:
    p.add_argument("--catalog", default=".reelvec/catalog.jsonl", help="catalog file (default: %(default)s)")
    p.add_argument("--features", default=".reelvec/features/features.npz", help="features from `reelvec encode`")
    p.add_argument("--data", help="data folder with movielens/ratings.csv (default: $REELVEC_DATA or ../shared/data)")
    add_scope_option(p)
    p.add_argument("--epochs", type=int, help="training epochs (default 20)")
    p.add_argument("--miner", choices=["random", "semi-hard", "batch-hard"], help="negative mining (default random)")
    p.add_argument("--lr", type=float, help="learning rate (default 1e-3)")
    p.add_argument("--margin", type=float, help="triplet margin (default 0.2)")
    p.add_argument("--positives", choices=["co-liked", "content", "mixed"], help="positive pairs (default co-liked)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")
    p.add_argument("--quiet", action="store_true", help="no per-epoch log")


# ---------------------------------------------------------------------------------- build / index
def build_config(args, **over):
    from reelvec.index.pipeline import BuildConfig

    return BuildConfig(
        data=data_dir(args.data), home=Path(args.store), qdrant_url=args.qdrant_url,
        api_key=args.api_key or os.environ.get("QDRANT_API_KEY"), scope=args.scope,
        retrain=getattr(args, "retrain", False), gate=getattr(args, "gate", None) is not None,
        text_precision=args.text_precision, image_precision=args.image_precision, shards=args.shards,
        replication_factor=args.replication_factor, progress=not args.quiet, batch_size=args.batch_size,
        throttle=args.throttle, **over)


def _print_build(rep, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"stages": rep.stages, "seconds": round(rep.seconds, 2)}))
        return
    rows = []
    for stage, info in rep.stages.items():
        detail = ", ".join(f"{k}={v}" for k, v in info.items() if k not in ("seconds",))
        rows.append([stage, info.get("seconds", ""), detail[:110]])
    print(_table(rows, ["stage", "seconds", "what happened"]))
    idx = rep.stages.get("index", {})
    print(f"\n{idx.get('message', '')}; total {rep.seconds:.1f} s")


def cmd_build(args) -> int:
    from reelvec.index.pipeline import run_build

    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    _print_build(run_build(build_config(args), log=log), args.json)
    return 0


def cmd_reindex(args) -> int:
    from reelvec.index.pipeline import run_build

    if args.gate not in (None, "ndcg@10"):
        raise ReelvecError(f"unknown gate {args.gate!r}; supported: ndcg@10")
    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    rep = run_build(build_config(args, force_index=True), log=log)
    _print_build(rep, args.json)
    return 0 if rep.stages["index"]["swapped"] else 3


def _store_and_ledger(args):
    from reelvec.index import open_store
    from reelvec.index.jobs import JobLedger

    store = open_store(path=str(Path(args.store) / "store"), url=args.qdrant_url,
                       api_key=args.api_key or os.environ.get("QDRANT_API_KEY"))
    return store, JobLedger(Path(args.store) / "jobs")


def cmd_rollback(args) -> int:
    from reelvec.index.jobs import rollback

    store, ledger = _store_and_ledger(args)
    try:
        target = rollback(store, ledger)
    finally:
        store.close()
    print(f"alias movies -> {target}")
    return 0


def cmd_snapshot(args) -> int:
    from reelvec.index.base import ALIAS

    store, _ = _store_and_ledger(args)
    try:
        coll = args.collection or store.resolve_alias(ALIAS)
        if not coll:
            raise ReelvecError("nothing to snapshot: no collection given and the alias points nowhere")
        print(f"snapshot of {coll}: {store.snapshot(coll, args.out)}")
    finally:
        store.close()
    return 0


def cmd_restore(args) -> int:
    import time as _t

    from reelvec.index.base import ALIAS

    store, ledger = _store_and_ledger(args)
    try:
        name = args.name or f"movies_restored_{_t.strftime('%Y%m%d%H%M%S', _t.gmtime())}"
        store.restore(args.snapshot, name)
        msg = f"restored {args.snapshot} as {name}"
        if args.activate:
            store.set_alias(ALIAS, name)
            ledger.push_history(name)
            msg += f"; alias {ALIAS} -> {name}"
        print(msg)
    finally:
        store.close()
    return 0


def add_store_options(p, data: bool = True) -> None:
    if data:
        p.add_argument("--data", help="data folder (default: $REELVEC_DATA or ../shared/data)")
    p.add_argument("--store", default=".reelvec", help="reelvec home: caches, model and the embedded store (default: %(default)s)")
    p.add_argument("--qdrant-url", help="index into a Qdrant server instead of the embedded store, e.g. http://localhost:6333")
    p.add_argument("--api-key", help="Qdrant API key (default: $QDRANT_API_KEY)")


def add_build_options(p) -> None:
    add_store_options(p)
    add_scope_option(p)
    add_encoder_options(p)
    p.add_argument("--shards", type=int, default=1, help="Qdrant shard_number for new collections (server only)")
    p.add_argument("--replication-factor", type=int, default=1, help="Qdrant replication_factor (server only)")
    p.add_argument("--batch-size", type=int, default=1024, help="points per upsert batch (default %(default)s)")
    p.add_argument("--throttle", type=float, default=0.0, help="seconds to pause between batches (default 0)")
    p.add_argument("--json", action="store_true", help="print the stage summary as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars or logs")


# ---------------------------------------------------------------------------------------- search
def _engine(args):
    import reelvec

    if args.qdrant_url:
        return reelvec.open(url=args.qdrant_url, api_key=args.api_key or os.environ.get("QDRANT_API_KEY"))
    return reelvec.open(args.store)


def _filters(args) -> dict:
    return {"genres": args.genre or None, "genres_all": args.all_genres or None,
            "exclude_genres": args.exclude_genre or None, "after": args.after, "before": args.before,
            "languages": args.language or None}


def _print_hits(hits, as_json: bool, header: str) -> None:
    if as_json:
        for h in hits:
            print(json.dumps(h.to_dict(), ensure_ascii=False))
        return
    print(header)
    if not hits:
        print("(no movie matches these filters)")
        return
    rows = [[i, h.title[:38], h.year or "", ", ".join(h.genres[:3])[:30], f"{h.score:.3f}", str(h.explanation)[:70]]
            for i, h in enumerate(hits, 1)]
    print(_table(rows, ["#", "title", "year", "genres", "score", "why"]))


def _query_movie(engine, movie: str) -> tuple[int | str, dict, str]:
    """CLI movie argument -> (query for the engine, its payload, 'Title (Year)'), resolved once."""
    query = int(movie) if movie.isdigit() else movie
    payload = engine.store.retrieve(engine.collection, [engine.get_movie_index(query)])[0].payload
    title, year = payload.get("title", movie), payload.get("year")
    return query, payload, f"{title} ({year})" if year else title


def cmd_similar(args) -> int:
    weights = None
    if args.weights:
        try:
            weights = {k: float(v) for k, v in (kv.split("=") for kv in args.weights.split(","))}
        except ValueError:
            raise ReelvecError(f"--weights wants name=value pairs like text=1,image=0.3, got {args.weights!r}") from None
    with _engine(args) as engine:
        query, _, label = _query_movie(engine, args.movie)
        hits = engine.similar(query, k=args.k, weights=weights, **_filters(args))
        _print_hits(hits, args.json, f"movies like {label}:")
    return 0


def cmd_search(args) -> int:
    with _engine(args) as engine:
        if args.image:
            hits = engine.search_image(args.image, k=args.k, **_filters(args))
            header = f"posters like {args.image}:"
        else:
            if not args.text:
                raise ReelvecError("give a search text or --image PATH")
            hits = engine.search_text(" ".join(args.text), k=args.k, **_filters(args))
            header = f"movies matching {' '.join(args.text)!r}:"
        _print_hits(hits, args.json, header)
    return 0


def cmd_next(args) -> int:
    history = []
    for h in args.history:
        movie, _, rating = h.partition("@")
        movie = int(movie) if movie.isdigit() else movie
        try:
            history.append((movie, float(rating)) if rating else movie)
        except ValueError:
            raise ReelvecError(f"bad rating in {h!r}; write TITLE@4.5") from None
    with _engine(args) as engine:
        hits = engine.for_history(history, k=args.k, exclude_seen=not args.include_seen, **_filters(args))
        _print_hits(hits, args.json, f"after {len(history)} movie(s), watch next:")
    return 0


def cmd_eval_history(args) -> int:
    from reelvec.encoders.pipeline import Features
    from reelvec.fusion.artifact import FusionModel
    from reelvec.fusion.history_eval import evaluate_history, history_markdown
    from reelvec.fusion.sequence import user_sequences
    from reelvec.ingest.catalog import Catalog, select_movies
    from reelvec.ingest.movielens import load_ratings_table

    log = (lambda m: None) if args.quiet else (lambda m: print(m, file=sys.stderr))
    home = Path(args.store)
    feats = Features.load(home / "features" / "features.npz")
    have = set(feats.keys)
    movies = [m for m in select_movies(Catalog.load(home / "catalog.jsonl"), args.scope) if m.key in have]
    fm = FusionModel.load(home / "model", feats.text_version, feats.image_version)
    E = fm.embed(fm.inputs(movies, feats))
    seqs = user_sequences(load_ratings_table(data_dir(args.data)),
                          {m.tmdb_id: i for i, m in enumerate(movies) if m.tmdb_id is not None})
    md = history_markdown(evaluate_history(E, seqs, log=log))
    out = Path(args.report) / "history.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(md + "\n")
    print(md)
    print(f"\nreport: {out}")
    return 0


def cmd_report(args) -> int:
    from reelvec.search.html import write_results_page

    with _engine(args) as engine:
        query, rec, label = _query_movie(engine, args.query)
        hits = engine.similar(query, k=args.k, **_filters(args))
        out = write_results_page(args.out, f"Movies like {label}", rec.get("poster"), hits,
                                 "reelvec fused embedding: text + poster + structured fields")
    print(f"wrote {out}")
    return 0


def add_filter_options(p) -> None:
    p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--genre", action="append", default=[], help="keep movies with any of these genres (repeatable)")
    p.add_argument("--all-genres", action="append", default=[], help="keep movies with all of these genres (repeatable)")
    p.add_argument("--exclude-genre", action="append", default=[], help="drop movies with this genre (repeatable)")
    p.add_argument("--after", type=int, help="released in or after this year")
    p.add_argument("--before", type=int, help="released in or before this year")
    p.add_argument("--language", action="append", default=[], help="original language code, e.g. en (repeatable)")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    add_store_options(p, data=False)


# ------------------------------------------------------------------------------------------ main
def build_parser() -> argparse.ArgumentParser:
    p = argparse.ArgumentParser(
        prog="reelvec",
        description="reelvec: multimodal movie embeddings and search (text + poster, fused, in Qdrant).",
        epilog="Run `reelvec COMMAND --help` for a command's options and an example.",
    )
    sub = p.add_subparsers(dest="command", metavar="COMMAND")
    sub.required = True

    c = sub.add_parser(
        "catalog", help="merge TMDB, MovieLens and Wikipedia data into one catalog file",
        description="Read the TMDB 5000 CSV, MovieLens ml-latest-small and Wikipedia movie JSON under "
        "--data, merge them into one catalog (JSON Lines) and quarantine unreadable rows in "
        "<out>.quarantine.jsonl.",
        epilog="example: reelvec catalog --data ../shared/data --out .reelvec/catalog.jsonl",
    )
    c.add_argument("--data", help="data folder (default: $REELVEC_DATA or ../shared/data)")
    c.add_argument("--out", default=".reelvec/catalog.jsonl", help="catalog file to write (default: %(default)s)")
    c.add_argument("--json", action="store_true", help="print the summary as one JSON object")
    c.add_argument("--quiet", action="store_true", help="no progress bar")
    c.set_defaults(func=cmd_catalog)

    fp = sub.add_parser(
        "fetch-posters", help="download every movie's poster into a validated, content-addressed cache",
        description="Fetch poster URLs (and copy local poster files) into CACHE: concurrent, polite (per-host "
        "limit, retries with backoff, Retry-After, circuit breaker), resumable (a SQLite ledger; rerun to retry "
        "transient failures) and safe (SSRF guard, size cap, image validation). Private and loopback addresses "
        "are refused unless listed with --allow-host.",
        epilog="example: reelvec fetch-posters --catalog .reelvec/catalog.jsonl --cache .reelvec/posters --concurrency 64",
    )
    fp.add_argument("--catalog", default=".reelvec/catalog.jsonl", help="catalog file (default: %(default)s)")
    fp.add_argument("--cache", default=".reelvec/posters", help="poster cache folder (default: %(default)s)")
    fp.add_argument("--concurrency", type=int, default=64, help="requests in flight overall (default %(default)s)")
    fp.add_argument("--per-host", type=int, default=32, help="requests in flight per host (default %(default)s)")
    fp.add_argument("--max-bytes", type=int, default=5 * 1024 * 1024, help="largest poster accepted (default 5 MB)")
    fp.add_argument("--allow-host", action="append", default=[], help="host or IP allowed despite the SSRF guard (repeatable)")
    fp.add_argument("--no-ssrf-guard", action="store_true", help="turn the private-address guard off (not recommended)")
    fp.add_argument("--limit", type=int, help="only the first N movies")
    add_scope_option(fp)
    fp.add_argument("--json", action="store_true", help="print the summary as JSON")
    fp.add_argument("--quiet", action="store_true", help="no progress bar")
    fp.set_defaults(func=cmd_fetch_posters)

    e = sub.add_parser(
        "encode", help="compute text and poster vectors for a catalog (cached)",
        description="Encode every movie's description (MiniLM) and poster (MobileNetV2) through the feature "
        "cache: a rerun computes only what changed. Unreadable posters are listed in encode.quarantine.jsonl.",
        epilog="example: reelvec encode --catalog .reelvec/catalog.jsonl --posters ../shared/data/posters --cache .reelvec/features",
    )
    e.add_argument("--catalog", default=".reelvec/catalog.jsonl", help="catalog from `reelvec catalog` (default: %(default)s)")
    e.add_argument("--posters", help="folder of <tmdbId>.jpg posters, or a `reelvec fetch-posters` cache, for movies "
                   "whose poster is a URL")
    e.add_argument("--cache", default=".reelvec/features", help="feature cache folder (default: %(default)s)")
    e.add_argument("--out", help="features file to write (default: CACHE/features.npz)")
    e.add_argument("--limit", type=int, help="encode only the first N movies (for a quick try)")
    add_scope_option(e)
    add_encoder_options(e)
    e.add_argument("--json", action="store_true", help="print the summary as JSON")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    e.set_defaults(func=cmd_encode)

    t = sub.add_parser(
        "train", help="train the fusion model on every rating (what `reelvec build` indexes)",
        description="Triplet-train RecommenderSystem on co-liked MovieLens pairs over the encoded features; "
        "saves config.json + model.safetensors with the encoder versions it was trained on.",
        epilog="example: reelvec train --out .reelvec/model --epochs 20",
    )
    add_fusion_options(t)
    t.add_argument("--out", default=".reelvec/model", help="model folder (default: %(default)s)")
    t.add_argument("--config", help="a FusionConfig JSON, or the report.json of `reelvec eval` (uses its best_config)")
    t.set_defaults(func=cmd_train)

    v = sub.add_parser(
        "eval", help="cold-start evaluation of the fusion model against baselines, with a report",
        description="Hold out 20%% of rated movies per seed (ratings removed), train, and rank the whole catalogue "
        "for each held-out movie with reelvec and the baselines (random, most-popular, TF-IDF, MiniLM, CNN poster, "
        "late fusion). Writes report.md, report.json and PNG plots.",
        epilog="example: reelvec eval --seeds 0 1 2 --report reports/fusion",
    )
    add_fusion_options(v)
    v.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    v.add_argument("--trials", type=int, default=6, help="hyper-parameter search trials on seed 0 (default 6; 1 = none)")
    v.add_argument("--no-studies", action="store_true", help="skip the ablation, miner and imbalance studies")
    v.add_argument("--report", default="reports/fusion", help="report folder (default: %(default)s)")
    v.set_defaults(func=cmd_eval)

    b = sub.add_parser(
        "build", help="catalog -> encode -> train -> index, reusing every cache (the demo's main job)",
        description="Build (or refresh) the index: merge the catalog, encode text and posters through the feature "
        "cache, train the fusion model (or reuse it), and index into a new versioned Qdrant collection that the "
        "alias `movies` is swapped to after verification. A rerun with nothing changed finishes in seconds.",
        epilog="examples:\n  reelvec build --data ../shared/data --store .reelvec\n"
        "  reelvec build --qdrant-url http://localhost:6333 --shards 2 --replication-factor 2",
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    add_build_options(b)
    b.add_argument("--retrain", action="store_true", help="train the fusion model even if one matches the features")
    b.set_defaults(func=cmd_build)

    r = sub.add_parser(
        "reindex", help="build a fresh collection and swap the alias (zero downtime), optionally gated",
        description="Like build, but always writes a new collection. With --gate ndcg@10 the alias moves only if "
        "the model's cold-start NDCG@10 is at least the live collection's. Exit code 3 when the gate refuses.",
        epilog="example: reelvec reindex --retrain --gate ndcg@10",
    )
    add_build_options(r)
    r.add_argument("--retrain", action="store_true", help="retrain the fusion model first")
    r.add_argument("--gate", nargs="?", const="ndcg@10", help="refuse the swap when the new model scores lower (ndcg@10)")
    r.set_defaults(func=cmd_reindex)

    rb = sub.add_parser("rollback", help="point the alias back at the previous collection",
                        epilog="example: reelvec rollback --store .reelvec")
    add_store_options(rb, data=False)
    rb.set_defaults(func=cmd_rollback)

    sn = sub.add_parser("snapshot", help="snapshot a collection (embedded: a .tar.gz; server: Qdrant's own)",
                        epilog="example: reelvec snapshot --store .reelvec --out snapshots/")
    add_store_options(sn, data=False)
    sn.add_argument("--collection", help="collection to snapshot (default: the one the alias points at)")
    sn.add_argument("--out", default="snapshots", help="folder for embedded snapshots (default: %(default)s)")
    sn.set_defaults(func=cmd_snapshot)

    rs = sub.add_parser("restore", help="restore a snapshot as a new collection (optionally make it live)",
                        epilog="example: reelvec restore snapshots/movies_x.snapshot.tar.gz --activate")
    rs.add_argument("snapshot", help="snapshot file (embedded) or snapshot URL/path (server)")
    rs.add_argument("--name", help="new collection name (default: movies_restored_<time>)")
    rs.add_argument("--activate", action="store_true", help="point the alias at the restored collection")
    add_store_options(rs, data=False)
    rs.set_defaults(func=cmd_restore)

    si = sub.add_parser("similar", help="movies like a given movie (title or TMDB id)",
                        description="Movies like MOVIE, by the fused embedding; filters are pushed down to Qdrant.",
                        epilog='examples:\n  reelvec similar "Alien" -k 10 --genre "Science Fiction" --after 1990\n'
                        '  reelvec similar 603 --weights text=1,image=0.3 --json',
                        formatter_class=argparse.RawDescriptionHelpFormatter)
    si.add_argument("movie", help="a title (fuzzy, 'Dune (1984)' for a year) or a TMDB id")
    si.add_argument("--weights", help="query-time modality weights over fused/text/image, e.g. text=1,image=0.3")
    add_filter_options(si)
    si.set_defaults(func=cmd_similar)

    se = sub.add_parser("search", help="free-text search, or posters like an image",
                        epilog='examples:\n  reelvec search "a heist comedy in paris" -k 10\n'
                        "  reelvec search --image poster.jpg", formatter_class=argparse.RawDescriptionHelpFormatter)
    se.add_argument("text", nargs="*", help="what to look for")
    se.add_argument("--image", help="a poster image to search by")
    add_filter_options(se)
    se.set_defaults(func=cmd_search)

    nx = sub.add_parser("next", help="what to watch next after a watch history (oldest first)",
                        description="Recommend the next movie from a watch history, oldest first. Items are titles or "
                        "TMDB ids, optionally with a rating as TITLE@4.5. Empty history: popular within the filters; one "
                        "movie: movies like it; more: the sequence model trained on MovieLens watch orders.",
                        epilog='example: reelvec next "Alien" "Aliens" "Predator" -k 10 --after 1980')
    nx.add_argument("history", nargs="*", help="watched movies, oldest first")
    nx.add_argument("--include-seen", action="store_true", help="allow movies from the history in the results")
    add_filter_options(nx)
    nx.set_defaults(func=cmd_next)

    eh = sub.add_parser("eval-history", help="leave-last-out evaluation of watch-history recommendations",
                        epilog="example: reelvec eval-history --store .reelvec --report reports/fusion")
    eh.add_argument("--store", default=".reelvec", help="reelvec home with catalog, features and model")
    eh.add_argument("--data", help="data folder with movielens/ratings.csv")
    eh.add_argument("--report", default="reports/fusion", help="folder for history.md (default: %(default)s)")
    add_scope_option(eh)
    eh.add_argument("--quiet", action="store_true")
    eh.set_defaults(func=cmd_eval_history)

    rp = sub.add_parser("report", help="a static HTML page: the query poster and a grid of result posters",
                        epilog='example: reelvec report --query "Alien" --out reports/alien.html')
    rp.add_argument("--query", required=True, help="a title or TMDB id")
    rp.add_argument("--out", default="reports/similar.html", help="HTML file to write (default: %(default)s)")
    add_filter_options(rp)
    rp.set_defaults(func=cmd_report)
    return p


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    try:
        return args.func(args)
    except ReelvecError as exc:
        print(f"reelvec {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except KeyboardInterrupt:
        print(f"reelvec {args.command}: interrupted", file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
