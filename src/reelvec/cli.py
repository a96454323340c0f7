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
    cells = [[str(c) for c in r] for r in [headers, *rows]]
    widths = [max(len(r[i]) for r in cells) for i in range(len(headers))]
    line = lambda r: "  ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(r, widths)))  # noqa: E731
    return "\n".join([line(cells[0]), "  ".join("-" * w for w in widths), *map(line, cells[1:])])


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
