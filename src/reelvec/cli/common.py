"""What the CLI's commands share: option groups, a plain-text table and hit printing."""
from __future__ import annotations

import argparse
import json

EXAMPLES = argparse.RawDescriptionHelpFormatter

# control characters (C0 but tab and newline, DEL, C1) printed as \u00NN: a title from a file or
# the network can never move the cursor, recolour or retitle the user's terminal, and --json
# output stays valid JSON (the same escape inside a JSON string means the same character)
_CONTROL = {c: f"\\u{c:04x}" for c in [*range(0x00, 0x20), *range(0x7F, 0xA0), 0x061C, 0x200E, 0x200F,
                                         *range(0x202A, 0x202F), *range(0x2066, 0x206A)]  # bidi overrides too
            if chr(c) not in "\n\t"}


def terminal_safe(text: str) -> str:
    """`text` with every control character but tab and newline escaped."""
    return text.translate(_CONTROL)


class SafeOutput:
    """A text stream that escapes control characters before they reach the terminal (or the
    pipe: a `reelvec similar ... | less` is a terminal too)."""

    def __init__(self, stream):
        self._stream = stream

    def write(self, text: str) -> int:
        return self._stream.write(terminal_safe(text))

    def __getattr__(self, name):
        return getattr(self._stream, name)


def seconds(text: str) -> float:
    """An argparse type: a finite number of seconds, 0 or more."""
    import math

    try:
        v = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number of seconds") from None
    if not math.isfinite(v) or v < 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give 0 or more seconds")
    return v


def add_wait(p, default: float = 0.0) -> None:
    p.add_argument("--wait", type=seconds, default=default, metavar="SECONDS",
                   help="wait up to SECONDS for another writer of the home (a `reelvec add`, a build's alias swap) "
                   "instead of failing at once (default %(default)s)")


def terminal_width() -> int:
    """Columns to fit tables into: the terminal's ($COLUMNS, else 100 when not a terminal)."""
    import shutil

    return shutil.get_terminal_size((100, 24)).columns


def table(rows: list[list], headers: list[str], width: int | None = None, wrap: tuple[int, ...] = ()) -> str:
    """Plain-text table: numbers right-aligned, text left-aligned. With `width`, the columns in
    `wrap` narrow (widest first, to 12 characters at least) until the table fits, and their text
    wraps onto more lines instead of being cut."""
    import textwrap

    cells = [[str(c) for c in r] for r in [headers, *rows]]
    widths = [max(len(line) for r in cells for line in r[i].splitlines() or [""]) for i in range(len(headers))]
    if width is not None and wrap:
        while sum(widths) + 2 * (len(widths) - 1) > width:
            col = max(wrap, key=lambda i: widths[i])
            if widths[col] <= 12:
                break
            widths[col] -= 1

    def numeric(col: int) -> bool:
        vals = [r[col] for r in cells[1:] if r[col] != ""]
        return bool(vals) and all(v.replace(".", "", 1).replace("-", "", 1).isdigit() for v in vals)

    right = [numeric(i) for i in range(len(headers))]

    def lines(r: list[str]) -> list[str]:
        parts = [textwrap.wrap(c, w, break_long_words=True) or [""] if i in wrap else [c]
                 for i, (c, w) in enumerate(zip(r, widths))]
        height = max(len(p) for p in parts)
        return ["  ".join((p[j] if j < len(p) else "").rjust(w) if right[i] else (p[j] if j < len(p) else "").ljust(w)
                          for i, (p, w) in enumerate(zip(parts, widths))) for j in range(height)]
    out = [*lines(cells[0]), "  ".join("-" * w for w in widths)]
    for r in cells[1:]:
        out += lines(r)
    return "\n".join(x.rstrip() for x in out)


def print_pairs(summary: dict, heading: str, as_json: bool) -> None:
    if as_json:
        print(json.dumps(summary))
    else:
        print(table([[k, v] for k, v in summary.items()], [heading, "value"]))


def add_scope(p) -> None:
    from reelvec.ingest.movie import SCOPES

    p.add_argument("--scope", default="linked", choices=sorted(SCOPES),
                   help="which movies: linked = with a TMDB/MovieLens id or from a --from file (default), all = also "
                   "Wikipedia-only films")


def add_encoders(p) -> None:
    from reelvec.encoders.base import BUILD_TEXT_TOKENS

    p.add_argument("--text-precision", default="auto", choices=["auto", "fp32", "onnx", "autocast-bf16", "bf16"],
                   help="text speed path (default: auto = the fastest faithful path measured on this CPU)")
    p.add_argument("--text-max-tokens", type=int, default=BUILD_TEXT_TOKENS,
                   help="truncate descriptions at N word pieces (default %(default)s: as good as MiniLM's full 256 "
                   "in `reelvec eval` and 1.7x faster to encode; see README)")
    p.add_argument("--image-precision", default="auto", choices=["auto", "fp32", "onnx", "bf16"],
                   help="poster speed path (default: auto = ONNX Runtime fp32; torch fp32 on a GPU)")
    p.add_argument("--text-profile", default="minilm", choices=["minilm", "fast"],
                   help="text encoder: minilm (default; ~70 descriptions/s on 2 cores) or fast (a static table "
                        "distilled from MiniLM on this machine: ~10,000/s, quality in bench/RESULTS.md)")
    p.add_argument("--device", default="auto", choices=["auto", "cpu", "cuda"],
                   help="where text and posters are encoded (default: auto = a GPU when torch sees one, else "
                        "the CPU)")


def add_output(p, what: str = "the summary") -> None:
    p.add_argument("--json", action="store_true", help=f"print {what} as JSON")
    p.add_argument("--quiet", action="store_true", help="no progress bars or logs")


def add_mapped(p) -> None:
    p.add_argument("--from", dest="from_files", action="append", default=[], metavar="FILE",
                   help="a catalogue of your own (CSV/TSV/Parquet/JSONL); repeat for several files. With --from "
                   "and no --data, only your files are read")
    p.add_argument("--map", dest="maps", action="append", default=[], metavar="FIELD=COLUMN,...",
                   help="how its columns map onto reelvec's fields, e.g. title=name,overview=plot,genres=tags,"
                   "year=released,poster=image_url,id=sku (one --map per --from, or one for all)")


def mapped_sources(args) -> tuple:
    """((path, {field: column}), ...) from --from/--map."""
    from pathlib import Path

    from reelvec.errors import ReelvecError
    from reelvec.ingest.mapped import parse_map

    files, maps = list(getattr(args, "from_files", []) or []), list(getattr(args, "maps", []) or [])
    if maps and not files:
        raise ReelvecError("--map describes the columns of a --from FILE; give the file too")
    if files and not maps:  # columns named like reelvec's fields need no map
        maps = [""]
    if len(maps) not in (1, len(files)):
        raise ReelvecError(f"{len(files)} --from files but {len(maps)} --map specs: give one --map per file, or one "
                           "for all")
    maps = maps * len(files) if len(maps) == 1 else maps
    return tuple((Path(f), parse_map(m)) for f, m in zip(files, maps))


def data_or_none(args):
    """--data, else $REELVEC_DATA / ../shared/data; but --from without --data reads only the files
    (so a catalogue of one's own is not mixed with whatever $REELVEC_DATA points at)."""
    from reelvec import app

    if args.data or not getattr(args, "from_files", None):
        return app.data_dir(args.data)
    return None


def add_store(p, data: bool = True) -> None:
    if data:
        p.add_argument("--data", help="data folder (default: $REELVEC_DATA or ../shared/data)")
    p.add_argument("--store", default=".reelvec",
                   help="reelvec home: caches, model and the embedded store (default: %(default)s)")
    p.add_argument("--qdrant-url", help="a Qdrant server instead of the embedded store, e.g. http://localhost:6333 "
                   "(default: $QDRANT_URL, else what the home's build used)")
    p.add_argument("--api-key", help="Qdrant API key (default: $QDRANT_API_KEY; never written to disk)")


def add_filters(p) -> None:
    p.add_argument("-k", type=int, default=10, help="number of results (default 10)")
    p.add_argument("--genre", action="append", default=[], help="keep movies with any of these genres (repeatable)")
    p.add_argument("--all-genres", action="append", default=[], help="keep movies with all of these genres (repeatable)")
    p.add_argument("--exclude-genre", action="append", default=[], help="drop movies with this genre (repeatable)")
    p.add_argument("--after", type=int, help="released in or after this year")
    p.add_argument("--before", type=int, help="released in or before this year")
    p.add_argument("--language", action="append", default=[], help="original language code, e.g. en (repeatable)")
    p.add_argument("--json", action="store_true", help="JSON lines instead of a table")
    p.add_argument("--wide", action="store_true", help="one line per hit, however long (default: the table fits the "
                   "terminal, long titles and reasons wrap)")
    add_store(p, data=False)


def filters(args) -> dict:
    return {"genres": args.genre or None, "genres_all": args.all_genres or None,
            "exclude_genres": args.exclude_genre or None, "after": args.after, "before": args.before,
            "languages": args.language or None}


def print_hits(hits, as_json: bool, header: str, wide: bool = False, first: int = 1) -> None:
    if as_json:
        for h in hits:
            print(json.dumps(h.to_dict(), ensure_ascii=False))
        return
    print(header)
    if not hits:
        print("(no movie matches these filters)" if first == 1 else f"(no hits from #{first} on)")
        return
    rows = [[i, h.title, h.year or "", ", ".join(h.genres[:3]), f"{h.score:.3f}", str(h.explanation)]
            for i, h in enumerate(hits, first)]
    print(table(rows, ["#", "title", "year", "genres", "score", "why"], None if wide else terminal_width(), (1, 3, 5)))
