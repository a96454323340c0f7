"""CLI: `build`, `reindex`, `rollback`, `snapshot`, `restore`, `info`, `add`, `delete`, `export`."""
from __future__ import annotations

import json
from pathlib import Path

from reelvec.cli.common import (
    EXAMPLES,
    add_encoders,
    add_mapped,
    add_output,
    add_scope,
    add_store,
    add_wait,
    data_or_none,
    mapped_sources,
    table,
    terminal_width,
)
from reelvec.cli.model import _config, add_training_options
from reelvec.errors import ReelvecError


def _build_config(args):
    from reelvec import app

    return app.BuildConfig(
        data=data_or_none(args), mapped=mapped_sources(args), home=Path(args.store), qdrant_url=args.qdrant_url,
        api_key=args.api_key,
        scope=args.scope, retrain=args.retrain, gate=getattr(args, "gate", None) is not None, fusion=_config(args),
        text_precision=args.text_precision, text_max_tokens=args.text_max_tokens,
        image_precision=args.image_precision, device=getattr(args, "device", "auto"),
        text_profile=getattr(args, "text_profile", "minilm"), shards=args.shards,
        replication_factor=args.replication_factor, progress=not args.quiet, batch_size=args.batch_size,
        throttle=args.throttle, wait=args.wait)


def _print_build(rep, as_json: bool) -> None:
    if as_json:
        print(json.dumps({"stages": rep.stages, "seconds": round(rep.seconds, 2)}))
        return
    rows = [[stage, info.get("seconds", ""), ", ".join(f"{k}={v}" for k, v in info.items() if k != "seconds")[:110]]
            for stage, info in rep.stages.items()]
    print(table(rows, ["stage", "seconds", "what happened"]))
    print(f"\n{rep.stages.get('index', {}).get('message', '')}; total {rep.seconds:.1f} s")


def cmd_build(args) -> int:
    from reelvec import app

    _print_build(app.build(_build_config(args)), args.json)
    return 0


def cmd_reindex(args) -> int:
    from reelvec import app

    if args.gate not in (None, "ndcg@10"):
        raise ReelvecError(f"unknown gate {args.gate!r}; supported: ndcg@10")
    rep = app.reindex(_build_config(args))
    _print_build(rep, args.json)
    return 0 if rep.swapped else 3


def _with_store(args, fn):
    from reelvec import app

    home = app.Home.at(args.store)
    with home.writer_lock(getattr(args, "wait", 0.0), f"reelvec {args.command}"):  # before the store is opened
        store = home.open_store(args.qdrant_url, args.api_key)
        try:
            return fn(store, home.ledger())
        finally:
            store.close()


def cmd_rollback(args) -> int:
    from reelvec import app

    home = app.Home.at(args.store)
    print(f"alias movies -> {_with_store(args, lambda store, ledger: app.rollback(store, ledger, home))}")
    return 0


def cmd_snapshot(args) -> int:
    from reelvec import app

    res = _with_store(args, lambda store, _ledger: app.snapshot(store, args.out, args.collection))
    print(f"snapshot of {res.collection}: {res.location}")
    return 0


def cmd_restore(args) -> int:
    from reelvec import app

    res = _with_store(args, lambda store, ledger: app.restore(store, ledger, args.snapshot, args.name, args.activate))
    print(f"restored {args.snapshot} as {res.collection}" + (f"; alias movies -> {res.collection}" if res.activated else ""))
    return 0


def cmd_info(args) -> int:
    from reelvec import app
    from reelvec.app.info import info

    out = info(app.Home.at(args.store), args.qdrant_url, args.api_key)
    if args.json:
        print(json.dumps(out, indent=1))
        return 0
    rows = [[k, json.dumps(v) if isinstance(v, (dict, list)) else v] for k, v in out.items()]
    print(table(rows, ["index", "value"], terminal_width(), (1,)))  # long values wrap, never cut
    return 0


def cmd_export(args) -> int:
    from reelvec import app
    from reelvec.app.export import export

    home = app.Home.at(args.store)
    url, _ = home.qdrant(args.qdrant_url, args.api_key)
    if not url:
        raise ReelvecError("export needs --qdrant-url (or $QDRANT_URL): the server to copy the live embedded "
                           f"collection of {home.root} to")
    target = home.open_store(args.qdrant_url, args.api_key)
    try:
        res = export(home, target, progress=not args.quiet)
    finally:
        target.close()
    print(f"exported {res.collection} ({res.points} points) to {url}; alias movies -> {res.collection}")
    return 0


def cmd_add(args) -> int:
    from reelvec import app
    from reelvec.app.edit import add
    from reelvec.ingest.mapped import parse_map

    res = add(app.Home.at(args.store), Path(args.file), parse_map(args.map), args.qdrant_url, args.api_key,
              fetch=not args.no_fetch, progress=not args.quiet and not args.json, wait=args.wait)
    if args.json:
        print(json.dumps(res.summary()))
        return 0
    for key, title, year in res.written:
        print(f"{key}\t{title}" + (f" ({year})" if year else ""))
    print(f"\nwrote {len(res.written)} movie(s) ({len(res.written) - res.replaced} new, {res.replaced} replaced) in "
          f"{res.seconds:.2f} s" + (f"; skipped {len(res.rejected)} bad row(s):" if res.rejected else ""))
    for where, reason in res.rejected:
        print(f"  {where}: {reason}")
    if res.quarantine:
        print(f"  (kept with their raw text in {res.quarantine})")
    if res.posters:
        print("posters: " + ", ".join(f"{k} {v}" for k, v in res.posters.items()))
    return 0


def cmd_precompute(args) -> int:
    from reelvec import app

    out = app.precompute(app.Home.at(args.store), args.qdrant_url, args.api_key, progress=not args.quiet)
    if args.json:
        print(json.dumps(out))
    elif "movies" in out:
        print(f"precomputed the default similar of {out['movies']} movies (generation {out['generation']}) in "
              f"{out['seconds']} s" + ("" if out["kept"] else "; a live edit came in meanwhile: run it again"))
    elif out.get("reused"):
        print(f"generation {out['generation']} has its precomputed answers already")
    else:
        print(f"nothing to precompute: {out['skipped']}")
    return 0


def cmd_delete(args) -> int:
    from reelvec import app
    from reelvec.app.edit import delete

    keys = delete(app.Home.at(args.store), args.movies, args.qdrant_url, args.api_key, wait=args.wait)
    print(json.dumps({"deleted": keys}) if args.json else "\n".join(f"deleted {k}" for k in keys))
    return 0


def cmd_verify(args) -> int:
    from reelvec import app
    from reelvec.app.info import verify

    out = verify(app.Home.at(args.store))
    if args.json:
        print(json.dumps(out))
    else:
        print(table([[k, v] for k, v in out.items()], ["checked", "result"]))
    return 0


def add_build_options(p) -> None:
    add_store(p)
    add_mapped(p)
    add_scope(p)
    add_encoders(p)
    add_training_options(p)
    p.add_argument("--shards", type=int, default=1, help="Qdrant shard_number for new collections (server only)")
    p.add_argument("--replication-factor", type=int, default=1, help="Qdrant replication_factor (server only)")
    p.add_argument("--batch-size", type=int, default=1024, help="points per upsert batch (default %(default)s)")
    p.add_argument("--throttle", type=float, default=0.0, help="seconds to pause between batches (default 0)")
    add_wait(p, 600.0)
    add_output(p, "the stage summary")


def register(sub) -> None:
    b = sub.add_parser(
        "build", help="catalog -> encode -> train -> index -> answers, reusing every cache (the demo's main job)",
        description="Build (or refresh) the index: merge the catalog, encode text and posters through the feature "
        "cache, train the fusion model (or reuse it), and index into a new versioned Qdrant collection that the "
        "alias `movies` is swapped to after verification; then (embedded store) precompute every movie's default "
        "`similar` for readers. A rerun with nothing changed finishes in seconds.",
        epilog="examples:\n  reelvec build --data ../shared/data --store .reelvec\n"
        "  reelvec build --from movies.csv --map title=name,overview=plot,genres=tags,year=released,id=sku\n"
        "  reelvec build --qdrant-url http://localhost:6333 --shards 2 --replication-factor 2",
        formatter_class=EXAMPLES,
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
    add_store(rb, data=False)
    add_wait(rb)
    rb.set_defaults(func=cmd_rollback)

    sn = sub.add_parser("snapshot", help="snapshot a collection (embedded: a .tar.gz; server: Qdrant's own)",
                        epilog="example: reelvec snapshot --store .reelvec --out snapshots/")
    add_store(sn, data=False)
    add_wait(sn)
    sn.add_argument("--collection", help="collection to snapshot (default: the one the alias points at)")
    sn.add_argument("--out", default="snapshots", help="folder for embedded snapshots (default: %(default)s)")
    sn.set_defaults(func=cmd_snapshot)

    rs = sub.add_parser("restore", help="restore a snapshot as a new collection (optionally make it live)",
                        epilog="example: reelvec restore snapshots/movies_x.snapshot.tar.gz --activate")
    rs.add_argument("snapshot", help="snapshot file (embedded) or snapshot URL/path (server)")
    rs.add_argument("--name", help="new collection name (default: movies_restored_<time>)")
    rs.add_argument("--activate", action="store_true", help="point the alias at the restored collection")
    add_store(rs, data=False)
    add_wait(rs)
    rs.set_defaults(func=cmd_restore)

    inf = sub.add_parser("info", help="what the live index is: collection, points, vectors, payload, models, disk",
                         description="Describe the live index without taking any lock: alias -> collection, point "
                         "count, named vectors (size, distance), payload fields and indexes, model and encoder "
                         "versions, when it was built and verified, disk use.",
                         epilog="example: reelvec info --store .reelvec --json")
    add_store(inf, data=False)
    inf.add_argument("--json", action="store_true", help="print it as JSON")
    inf.set_defaults(func=cmd_info)

    ve = sub.add_parser(
        "verify", help="check every file readers trust against its checksum (published copy, model, edit log)",
        description="Read every file of the live published copy (vectors, payloads, its generation's index files, "
        "neighbour lists, precomputed answers) and the fusion model, and compare them with the checksums their "
        "writers recorded; check every vector is finite and of unit length and the edit log parses. Readers check "
        "sizes and the small files on open (and every block of a copy up to 512 MiB); this checks all of it. "
        "Exit code 2 and the damaged file's name when something is wrong: `reelvec build` publishes the copy "
        "again (a damaged model: `reelvec build --retrain`). Takes no lock and writes nothing.",
        epilog="example: reelvec verify --store .reelvec")
    add_store(ve, data=False)
    ve.add_argument("--json", action="store_true", help="print what was checked as JSON")
    ve.set_defaults(func=cmd_verify)

    ad = sub.add_parser(
        "add", help="add or replace movies in the live index from a CSV/TSV/JSONL/Parquet file",
        description="Encode the file's movies as a build would and write them to the live collection: open readers "
        "(notebooks, `reelvec serve`) see them within a second, and every later build keeps them (edits.jsonl in "
        "the home). Columns named like reelvec's fields (title, overview, genres, year, director, cast, keywords, "
        "poster, id, tmdb_id, ...) need no --map. A row whose id (or tmdb_id, or title + year) is already indexed "
        "replaces that movie whole. Bad rows are skipped and listed with their row number. Poster URLs are fetched "
        "through the guarded fetcher into the home's poster cache; a local poster path is used as is.",
        epilog="examples:\n  reelvec add new_releases.jsonl\n"
        "  reelvec add shop.csv --map title=name,overview=plot,genres=tags,year=released,id=sku",
        formatter_class=EXAMPLES)
    ad.add_argument("file", help="the movies: .csv, .tsv, .jsonl (one JSON object per line) or .parquet")
    ad.add_argument("--map", metavar="FIELD=COLUMN,...", help="columns named otherwise, e.g. title=name,overview=plot")
    ad.add_argument("--no-fetch", action="store_true", help="do not download poster URLs (index without them)")
    add_store(ad, data=False)
    add_wait(ad)
    add_output(ad, "the keys written and the counts")
    ad.set_defaults(func=cmd_add)

    de = sub.add_parser(
        "delete", help="delete movies from the live index (and from every later build)",
        description="Delete movies given by TMDB id, key (e.g. own:sku-1, printed by `reelvec add`) or exact title "
        "(add the year when two films share it). All or nothing: one unknown movie deletes none. A fuzzy title "
        "never deletes. The deletion is kept in the home's edits.jsonl, so rebuilds do not bring the movie back.",
        epilog="examples:\n  reelvec delete own:sku-1\n  reelvec delete 603 'Dune (1984)'", formatter_class=EXAMPLES)
    de.add_argument("movies", nargs="+", help="TMDB ids, keys or exact titles")
    add_store(de, data=False)
    add_wait(de)
    de.add_argument("--json", action="store_true", help="print the deleted keys as JSON")
    de.set_defaults(func=cmd_delete)

    pc = sub.add_parser(
        "precompute", help="precompute every movie's default `similar` again (after live edits)",
        description="Compute every movie's default `similar` (k up to 10, no filters) and keep it with the live "
        "published copy, so that queries, CLI calls and `reelvec serve` read it instead of computing it (~0.5 ms "
        "instead of ~2-3 ms a query). A build does this itself; a live edit (`reelvec add` / `delete`) starts a new "
        "generation whose queries compute until this runs (about 20 s for 11k movies). Readers keep answering "
        "meanwhile and pick the answers up within a second. Embedded store only.",
        epilog="example: reelvec add new_releases.jsonl && reelvec precompute")
    add_store(pc, data=False)
    add_output(pc, "what was done")
    pc.set_defaults(func=cmd_precompute)

    ex = sub.add_parser("export", help="copy the live embedded collection to a Qdrant server (then browse it)",
                        description="Copy the live collection (points, vectors, payload indexes) to a Qdrant server "
                        "and point its `movies` alias at it: browse it in the Qdrant dashboard "
                        "(http://localhost:6333/dashboard) or query it with reelvec.open(url=...). Reruns overwrite.",
                        epilog="example: QDRANT_API_KEY=secret reelvec export --qdrant-url http://localhost:6333")
    add_store(ex, data=False)
    ex.add_argument("--quiet", action="store_true", help="no progress bar")
    ex.set_defaults(func=cmd_export)
