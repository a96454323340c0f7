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
    from reelvec.ingest.catalog import Catalog
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


SCOPES = {
    "linked": lambda m: m.tmdb_id is not None or m.movielens_id is not None,
    "all": lambda m: True,
}


def select_movies(catalog, scope: str, limit: int | None = None) -> list:
    """'linked' = films with a TMDB or MovieLens id (ratings, posters, ids users search by);
    'all' adds the Wikipedia-only films."""
    movies = [m for m in catalog if SCOPES[scope](m)]
    return movies[:limit] if limit else movies


def add_scope_option(p) -> None:
    p.add_argument("--scope", default="linked", choices=sorted(SCOPES),
                   help="which movies: linked = with a TMDB/MovieLens id (default), all = also Wikipedia-only films")


def add_encoder_options(p) -> None:
    p.add_argument("--text-precision", default="auto", choices=["auto", "fp32", "autocast-bf16", "bf16"],
                   help="text speed path (default: auto = bf16 matmuls where the CPU has them)")
    p.add_argument("--image-precision", default="auto", choices=["auto", "fp32", "onnx", "bf16"],
                   help="poster speed path (default: auto = ONNX Runtime fp32)")


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

    e = sub.add_parser(
        "encode", help="compute text and poster vectors for a catalog (cached)",
        description="Encode every movie's description (MiniLM) and poster (MobileNetV2) through the feature "
        "cache: a rerun computes only what changed. Unreadable posters are listed in encode.quarantine.jsonl.",
        epilog="example: reelvec encode --catalog .reelvec/catalog.jsonl --posters ../shared/data/posters --cache .reelvec/features",
    )
    e.add_argument("--catalog", default=".reelvec/catalog.jsonl", help="catalog from `reelvec catalog` (default: %(default)s)")
    e.add_argument("--posters", help="folder of <tmdbId>.jpg posters, for movies whose poster is a URL")
    e.add_argument("--cache", default=".reelvec/features", help="feature cache folder (default: %(default)s)")
    e.add_argument("--out", help="features file to write (default: CACHE/features.npz)")
    e.add_argument("--limit", type=int, help="encode only the first N movies (for a quick try)")
    add_scope_option(e)
    add_encoder_options(e)
    e.add_argument("--json", action="store_true", help="print the summary as JSON")
    e.add_argument("--quiet", action="store_true", help="no progress bars")
    e.set_defaults(func=cmd_encode)
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
