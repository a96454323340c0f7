"""CLI: `catalog`, `fetch-posters`, `encode`."""
from __future__ import annotations

import sys
from pathlib import Path

from reelvec.cli.common import (
    EXAMPLES,
    add_encoders,
    add_mapped,
    add_output,
    add_scope,
    data_or_none,
    mapped_sources,
    print_pairs,
    table,
)


def cmd_catalog(args) -> int:
    from tqdm import tqdm

    from reelvec import app

    steps = ["tmdb", "movielens", "wikipedia", "merge", "series"]
    bar = tqdm(total=len(steps), desc="catalog", unit="step", disable=args.json or args.quiet or not sys.stderr.isatty())

    def progress(name):
        bar.set_postfix_str(name)
        if bar.n < len(steps):
            bar.update(1 if name != "tmdb" else 0)

    res = app.catalog(data_or_none(args), Path(args.out), progress=progress, mapped=mapped_sources(args))
    bar.update(bar.total - bar.n)
    bar.close()
    if args.json:
        print_pairs(res.summary(), "catalog", True)
        return 0
    report, m = res.report, res.report.merge
    rows = [[s.source, s.rows_read, s.accepted, s.duplicates_merged, s.quarantined,
             "yes" if s.reconciles else "NO"] for s in report.sources]
    print(table(rows, ["source", "rows read", "accepted", "dup merged", "quarantined", "reconciles"]))
    if report.absent:
        print(f"absent (not in {args.data or 'the data folder'}): {', '.join(report.absent)}")
    print()
    print(table([[k, v] for k, v in [
        ("movies in catalog", m.movies),
        ("merged TMDB+MovieLens (on tmdb id)", m.merged_tmdb_movielens),
        ("merged Wikipedia (title, year±1)", m.merged_wikipedia),
        ("merged from your files (id or title, year±1)", m.merged_mapped),
        *[(f"only in {k}", v) for k, v in sorted(m.only.items())],
        *[(f"conflicts resolved: {k}", v) for k, v in sorted(m.conflicts.items())],
        ("with a local poster", m.with_poster_file),
        ("with a poster URL", m.with_poster_url),
    ]], ["merge", "count"]))
    for s in report.sources:
        if s.unknown_genres:
            print(f"{s.source}: genres kept outside the shared vocabulary: "
                  + ", ".join(f"{g} ({n})" for g, n in sorted(s.unknown_genres.items())))
    people = [(f"{s.source}: {k.replace('_', ' ')}", v) for s in report.sources for k, v in sorted(s.people.items())]
    sr = report.series
    if people or sr.series:
        print()
        print(table([[k, v] for k, v in [
            *people,
            ("series found", sr.series), ("movies in a series", sr.movies_in_series),
            ("leads naming a series", sr.leads_naming_series),
            *[(f"lead relations linked: {k}", v) for k, v in sorted(sr.relations_linked.items())],
            ("lead relations not found in the catalogue", sr.relations_unresolved),
            ("title-stem groups", sr.title_stem_groups),
            ("plain titles kept out of a stem group", sr.title_stem_dropped),
            ("links refused by the guards", sr.joins_refused),
            *[(f"series with evidence from: {k}", v) for k, v in sorted(sr.by_source.items())],
        ]], ["people and series (from the sources' own words)", "count"]))
    reasons = {f"{s.source}: {r}": n for s in report.sources for r, n in s.reasons.items()}
    if reasons:
        print()
        print(table([[k, v] for k, v in sorted(reasons.items())], ["quarantined by reason", "rows"]))
    print(f"\nwrote {len(res.catalog)} movies to {res.path}; {report.quarantined} quarantined rows in "
          f"{res.quarantine} ({res.seconds:.1f} s)")
    return 0


def cmd_fetch_posters(args) -> int:
    from reelvec import app
    from reelvec.ingest.posters import FetchConfig

    cfg = FetchConfig(concurrency=args.concurrency, per_host=min(args.concurrency, args.per_host),
                      max_bytes=args.max_bytes, allow_hosts=frozenset(args.allow_host), ssrf_guard=not args.no_ssrf_guard)
    summary = app.fetch_posters(Path(args.catalog), Path(args.cache), cfg, args.scope, args.limit,
                                progress=not args.quiet)
    if args.json:
        print_pairs(summary, "posters", True)
    else:
        rows = [[k, v] for k, v in summary.items() if k != "failure_reasons"]
        rows += [[f"  reason: {r}", n] for r, n in summary["failure_reasons"].items()]
        print(table(rows, ["posters", "count"]))
    return 0


def cmd_encode(args) -> int:
    from reelvec import app
    from reelvec.app.data import parse_part

    part = parse_part(args.part) if args.part is not None else None
    if part and args.out:
        from reelvec.errors import EncoderError

        raise EncoderError("reelvec encode: --part writes into the cache only (no --out); run `reelvec encode` "
                         "without --part when every part is done")
    res = app.encode(Path(args.catalog), Path(args.cache), args.posters, args.out, args.scope, args.limit,
                     args.text_precision, args.image_precision, progress=not args.quiet,
                     text_max_tokens=args.text_max_tokens, device=args.device, text_profile=args.text_profile,
                     part=part)
    print_pairs(res.summary(), "encode", args.json)
    return 0


def register(sub) -> None:
    c = sub.add_parser(
        "catalog", help="merge TMDB, MovieLens and Wikipedia data into one catalog file",
        description="Read the TMDB 5000 CSV, MovieLens ml-latest-small and Wikipedia movie JSON under "
        "--data, merge them into one catalog (JSON Lines) and quarantine unreadable rows in "
        "<out>.quarantine.jsonl.",
        epilog="example: reelvec catalog --data ../shared/data --out .reelvec/catalog.jsonl",
    )
    c.add_argument("--data", help="data folder (default: $REELVEC_DATA or ../shared/data)")
    add_mapped(c)
    c.add_argument("--out", default=".reelvec/catalog.jsonl", help="catalog file to write (default: %(default)s)")
    add_output(c)
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
    add_scope(fp)
    add_output(fp)
    fp.set_defaults(func=cmd_fetch_posters)

    e = sub.add_parser(
        "encode", help="compute text and poster vectors for a catalog (cached)",
        description="Encode every movie's description (MiniLM) and poster (MobileNetV2) through the feature "
        "cache: a rerun computes only what changed. Unreadable posters are listed in encode.quarantine.jsonl.",
        epilog="example: reelvec encode --catalog .reelvec/catalog.jsonl --posters ../shared/data/posters "
        "--cache .reelvec/features\n\nspread over 2 processes: reelvec encode --part 1/2 & reelvec encode --part 2/2; "
        "wait; reelvec encode", formatter_class=EXAMPLES,
    )
    e.add_argument("--catalog", default=".reelvec/catalog.jsonl", help="catalog from `reelvec catalog` (default: %(default)s)")
    e.add_argument("--posters", help="folder of <tmdbId>.jpg posters, or a `reelvec fetch-posters` cache, for movies "
                   "whose poster is a URL")
    e.add_argument("--cache", default=".reelvec/features", help="feature cache folder (default: %(default)s)")
    e.add_argument("--out", help="features file to write (default: CACHE/features.npz)")
    e.add_argument("--limit", type=int, help="encode only the first N movies (for a quick try)")
    e.add_argument("--part", metavar="I/N", help="encode every N-th movie from the I-th into CACHE/parts/I-of-N, so N "
                   "processes or machines share the work (each resumes if killed); a later `encode` or `build` "
                   "without --part absorbs the parts and encodes what is left")
    add_scope(e)
    add_encoders(e)
    add_output(e)
    e.set_defaults(func=cmd_encode)
