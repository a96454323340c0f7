"""A catalogue of one's own: any CSV / TSV / Parquet / JSONL file whose columns are mapped onto
reelvec's fields, e.g. ``--map title=name,overview=plot,genres=tags,year=released,poster=image_url,id=sku``.

Columns already named like reelvec's fields (``title``, ``overview``, ``genres``, ``year``, ...) are
used as they are, so a file in reelvec's own terms needs no ``--map``.

List fields (genres, keywords, cast, companies, countries) may hold JSON lists or ``|`` / ``,``
separated strings. Genres are mapped onto the shared vocabulary ("Sci-Fi" -> "Science
Fiction"); unknown ones are kept and counted in the report. A row with no title, a non-numeric
or negative number, a field over `MAX_FIELD` characters or an id seen before with other content
is quarantined with its row number, like the built-in sources. Keys: ``tmdb:<id>`` when a TMDB id
is mapped (so the row merges with the TMDB source), else ``<file stem>:<id>``, else
``<file stem>:<title>:<year>``.
"""
from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass
from pathlib import Path

from reelvec.errors import IngestError
from reelvec.ingest.movie import KNOWN_GENRES, MAPPED, Movie, canonical_genres, normalise_title
from reelvec.ingest.prep import clean
from reelvec.ingest.quarantine import Rejection, SourceReport
from reelvec.ingest.tmdb import MAX_FIELD, RowError, parse_number

TEXT_FIELDS = ("title", "original_title", "overview", "plot", "tagline", "director", "original_language", "poster",
               "imdb_id", "homepage", "release_date")
LIST_FIELDS = ("genres", "keywords", "cast", "companies", "countries")
INT_FIELDS = ("year", "tmdb_id", "movielens_id", "vote_count")
FLOAT_FIELDS = ("runtime", "popularity", "vote_average", "budget", "revenue")
FIELDS = ("id",) + TEXT_FIELDS + LIST_FIELDS + INT_FIELDS + FLOAT_FIELDS
FORMATS = {".csv": "csv", ".tsv": "tsv", ".tab": "tsv", ".parquet": "parquet", ".jsonl": "jsonl", ".ndjson": "jsonl"}
_YEAR = re.compile(r"(1[89]\d\d|20\d\d)")


def parse_map(spec: str | dict | None) -> dict[str, str]:
    """``"title=name,overview=plot"`` -> {reelvec field: file column}; every field is checked."""
    if not spec:
        return {}
    if isinstance(spec, dict):
        pairs = list(spec.items())
    else:
        pairs = []
        for part in str(spec).split(","):
            if not part.strip():
                continue
            if "=" not in part:
                raise IngestError(f"--map wants field=column pairs like title=name,overview=plot; got {part!r}")
            f, c = part.split("=", 1)
            pairs.append((f.strip(), c.strip()))
    out = {}
    for f, c in pairs:
        if f not in FIELDS:
            raise IngestError(f"--map: unknown field {f!r}; fields are {', '.join(FIELDS)}")
        if not c:
            raise IngestError(f"--map: field {f!r} has no column name")
        out[f] = c
    return out


LINE = "\x00line"  # a JSONL row's line number, kept in the row under a key no column can have


@dataclass(frozen=True)
class BadLine:
    """A JSONL line that is no movie at all (not UTF-8, not JSON, not an object): quarantined."""

    line: int
    reason: str
    raw: str


def read_table(path: Path) -> tuple[list[str], list]:
    """(column names, rows as dicts) of the file. CSV/TSV cells are strings; JSONL and Parquet
    keep their own types; a JSONL line that is not a JSON object comes as a `BadLine` (the
    others still count). Only Parquet needs pandas/pyarrow (the `[build]` extra)."""
    import csv

    path = Path(path)
    kind = FORMATS.get(path.suffix.lower())
    if kind is None:
        raise IngestError(f"{path}: unknown file type {path.suffix!r}; use one of {', '.join(sorted(FORMATS))}")
    try:
        if kind in ("csv", "tsv"):
            csv.field_size_limit(MAX_FIELD * 4)
            with open(path, encoding="utf-8-sig", newline="") as fh:
                reader = csv.DictReader(fh, delimiter="," if kind == "csv" else "\t")
                rows = [r for r in reader]
                return [c for c in (reader.fieldnames or []) if c is not None], rows
        if kind == "parquet":
            import pandas as pd

            df = pd.read_parquet(path)
            return [str(c) for c in df.columns], df.to_dict("records")
        rows, columns = [], {}
        with open(path, "rb") as fh:
            for n, raw in enumerate(fh, 1):
                if n == 1 and raw.startswith(b"\xef\xbb\xbf"):
                    raw = raw[3:]
                if not raw.strip():
                    continue
                try:
                    line = raw.decode("utf-8")
                    row = json.loads(line)
                except UnicodeDecodeError as exc:
                    rows.append(BadLine(n, f"not UTF-8 text ({exc.reason} at byte {exc.start})",
                                        raw.decode("utf-8", "backslashreplace").rstrip("\n")))
                    continue
                except ValueError as exc:
                    rows.append(BadLine(n, f"not a JSON object ({exc})", line.rstrip("\n")))
                    continue
                if not isinstance(row, dict):
                    rows.append(BadLine(n, f"a JSON {type(row).__name__}, not an object (one movie per line, e.g. "
                                           '{"title": "...", "year": 2024})', line.rstrip("\n")))
                    continue
                row[LINE] = n
                rows.append(row)
                columns.update(dict.fromkeys(k for k in row if k != LINE))
        return list(columns), rows
    except FileNotFoundError as exc:
        raise IngestError(f"no such file {path}") from exc
    except ImportError as exc:
        raise IngestError(f"{path}: reading {kind} needs {exc.name}; pip install 'reelvec[build]'") from exc
    except (OSError, UnicodeDecodeError, csv.Error) as exc:
        raise IngestError(f"cannot read {path} as {kind}: {exc}") from exc
    except Exception as exc:  # pyarrow raises many kinds for a malformed file
        if isinstance(exc, IngestError):
            raise
        raise IngestError(f"cannot read {path} as {kind}: {exc}") from exc


def with_own_names(mapping: dict[str, str], columns) -> dict[str, str]:
    """`mapping` plus every column already named like a reelvec field (``title``, ``overview``,
    ``genres``, ...) that the mapping does not place elsewhere: a file in reelvec's own terms
    needs no --map at all."""
    used = set(mapping.values())
    return mapping | {c: c for c in columns if c in FIELDS and c not in mapping and c not in used}


def _present(v) -> bool:
    if v is None:
        return False
    if isinstance(v, float) and math.isnan(v):
        return False
    return not (isinstance(v, str) and not v.strip())


def _text(v, field: str) -> str | None:
    if not _present(v):
        return None
    if isinstance(v, (dict, list, tuple, set)):  # a JSON object or list where text belongs
        raise RowError(f"{field} is a JSON {type(v).__name__}, not text: {json.dumps(v, default=str)[:40]}")
    s = clean(str(v))
    if len(s) > MAX_FIELD:
        raise RowError(f"{field} longer than {MAX_FIELD} characters")
    return s or None


def _list(v, field: str) -> tuple[str, ...]:
    if not _present(v):
        return ()
    if hasattr(v, "tolist"):
        v = v.tolist()
    if isinstance(v, str):
        s = v.strip()
        if s.startswith("["):
            try:
                v = json.loads(s)
            except ValueError as exc:
                raise RowError(f"{field} is not a JSON list: {s[:40]!r}") from exc
        else:
            v = s.split("|") if "|" in s else s.split(",")
    if not isinstance(v, (list, tuple)):
        raise RowError(f"{field} is not a list: {str(v)[:40]!r}")
    out = []
    for x in v:
        name = x.get("name") if isinstance(x, dict) else x
        if isinstance(name, (list, tuple, dict)):
            raise RowError(f"{field} holds a nested {type(name).__name__}: {json.dumps(v, default=str)[:40]}")
        t = _text(name, field)
        if t and t not in out:
            out.append(t)
    return tuple(out)


def _num(v, field: str, whole: bool):
    return parse_number(v, field, whole) if _present(v) else None


MAX_TITLE = 300  # characters: a longer "title" is not one (and every title index would carry it)


def parse_row(row: dict, mapping: dict[str, str], stem: str) -> Movie:
    """One mapped row -> a Movie (RowError says what is wrong with it)."""
    get = lambda f: row.get(mapping[f]) if f in mapping else None
    title = _text(get("title"), "title")
    if not title:
        raise RowError("no title")
    if len(title) > MAX_TITLE:
        raise RowError(f"a title of {len(title):,} characters; a title has at most {MAX_TITLE}")
    kw: dict = {f: _text(get(f), f) for f in TEXT_FIELDS if f != "title"}
    kw.update({f: _list(get(f), f) for f in LIST_FIELDS})
    raw_year = get("year")
    if _present(raw_year) and not str(raw_year).strip().lstrip("-").replace(".", "", 1).isdigit():
        m = _YEAR.search(str(raw_year))  # a date ("2003-05-01", "May 2003") gives its year
        if not m:
            raise RowError(f"no year in {str(raw_year)[:40]!r}")
        raw_year = m.group(1)
    kw.update({f: _num(raw_year if f == "year" else get(f), f, True) for f in INT_FIELDS})
    kw.update({f: _num(get(f), f, False) for f in FLOAT_FIELDS})
    year = kw.pop("year")
    if year is None and kw.get("release_date"):
        m = _YEAR.search(kw["release_date"])
        year = int(m.group(1)) if m else None
    if year is not None and not 1870 <= year <= 2100:
        raise RowError(f"year {year} out of range")
    genres = canonical_genres(kw.pop("genres"))
    ident = _text(get("id"), "id")
    if kw.get("tmdb_id"):
        key = f"tmdb:{kw['tmdb_id']}"
    elif ident:
        key = f"{stem}:{ident}"
    else:
        key = f"{stem}:{normalise_title(title)}:{year or ''}"
    people = {"cast": kw.pop("cast"), "companies": kw.pop("companies"), "countries": kw.pop("countries")}
    fields = {f for f, v in {**kw, **people, "genres": genres}.items() if v not in (None, ())}
    movie = Movie(key=key, title=title, year=year, genres=genres, keywords=kw.pop("keywords"), **people,
                  **{k: v for k, v in kw.items() if k in Movie.__dataclass_fields__},
                  sources=(MAPPED,), provenance=tuple(sorted((f, MAPPED) for f in fields | {"title"})))
    return movie


def read_mapped(path: Path, mapping: dict[str, str], stem: str | None = None
                ) -> tuple[list[Movie], list[Rejection], SourceReport]:
    """Read a mapped file; identical repeats of an id are folded, conflicting ones quarantined.
    Keys are made with `stem` (default: from the file's name)."""
    path = Path(path)
    columns, rows = read_table(path)
    mapping = with_own_names(mapping, columns)
    if "title" not in mapping:
        raise IngestError(f"--map must name the title column of {path.name}, e.g. --map title=name (it has: "
                          f"{', '.join(map(str, columns[:30]))})")
    missing = sorted(set(mapping.values()) - set(map(str, columns)))
    if missing:
        raise IngestError(f"{path.name} has no column(s) {', '.join(missing)} (it has: "
                          f"{', '.join(map(str, columns[:30]))}); fix --map")
    report = SourceReport(f"{MAPPED}:{path.name}")
    rejections: list[Rejection] = []
    seen: dict[str, Movie] = {}
    stem = stem or re.sub(r"[^0-9a-z]+", "-", path.stem.lower()).strip("-") or MAPPED
    for i, row in enumerate(rows):
        report.rows_read += 1
        if isinstance(row, BadLine):
            report.reject(rejections, f"{path.name}:{row.line}", row.reason, row.raw)
            continue
        line = row.pop(LINE, None)
        where = f"{path.name}:{i + 2 if FORMATS[path.suffix.lower()] in ('csv', 'tsv') else line or i + 1}"
        raw = json.dumps(row, ensure_ascii=False, default=str)
        try:
            movie = parse_row(row, mapping, stem)
        except RowError as exc:
            report.reject(rejections, where, str(exc), raw)
            continue
        report.fold(seen, movie.key, movie, rejections, where, raw)
    for m in seen.values():
        for g in m.genres:
            if g not in KNOWN_GENRES:
                report.unknown_genres[g] = report.unknown_genres.get(g, 0) + 1
    return list(seen.values()), rejections, report
