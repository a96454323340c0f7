"""TMDB 5000 movies CSV adapter.

Rows are parsed one by one with the csv module (three overviews hold line breaks, so never line
by line) so a bad row is quarantined with its line number while the rest load.
"""
from __future__ import annotations

import csv
import json
import math
from collections.abc import Iterable
from datetime import date
from pathlib import Path

from reelvec.errors import IngestError
from reelvec.ingest.movie import TMDB, Movie, canonical_genres
from reelvec.ingest.prep import clean, extract_names
from reelvec.ingest.quarantine import Rejection, SourceReport

REQUIRED_COLUMNS = (
    "id", "title", "genres", "keywords", "overview", "release_date", "original_language",
    "production_companies", "popularity", "vote_average", "vote_count",
)
JSON_COLUMNS = ("genres", "keywords", "production_companies", "production_countries", "spoken_languages")
NUMERIC = {"budget": float, "revenue": float, "runtime": float, "popularity": float,
           "vote_average": float, "vote_count": int}


MAX_FIELD = 100_000  # characters; a longer field is quarantined (an overview is ~300)


def raise_field_limit() -> None:
    """csv's default 128 KB field limit aborts the whole read on one long field; lift it so the
    row reaches the per-row checks (MAX_FIELD) and is quarantined instead."""
    csv.field_size_limit(1 << 30)


class RowError(ValueError):
    """A row that cannot become a Movie; the message is the quarantine reason."""


def _has_bad_encoding(text: str) -> bool:
    # the file is read with errors="surrogateescape": undecodable bytes surface as lone surrogates
    return any("\udc80" <= ch <= "\udcff" for ch in text)


def parse_number(raw, col: str, whole: bool) -> int | float | None:
    """A non-negative finite number from text ('' -> None); RowError names the column otherwise."""
    raw = str(raw if raw is not None else "").strip()
    if not raw:
        return None
    try:
        v = float(raw)
    except ValueError as exc:
        raise RowError(f"non-numeric {col}: {raw[:40]!r}") from exc
    if math.isnan(v) or math.isinf(v):
        raise RowError(f"non-numeric {col}: {raw[:40]!r}")
    if v < 0:
        raise RowError(f"negative {col}: {raw[:40]!r}")
    if whole:
        if v != int(v):
            raise RowError(f"{col} is not a whole number: {raw[:40]!r}")
        return int(v)
    return v


def _number(row: dict, col: str):
    return parse_number(row.get(col), col, NUMERIC[col] is int)


def parse_tmdb_row(row: dict) -> Movie:
    """One CSV row (a dict of strings) -> Movie; raises RowError with the reason."""
    for col, val in row.items():
        if isinstance(val, str) and _has_bad_encoding(val):
            raise RowError(f"invalid UTF-8 in column {col}")
        if col is None:  # csv puts surplus fields under key None
            raise RowError("more fields than the header")
        if isinstance(val, str) and len(val) > MAX_FIELD:
            raise RowError(f"field {col} is {len(val)} characters long (limit {MAX_FIELD})")
    try:
        tmdb_id = int((row.get("id") or "").strip())
    except ValueError as exc:
        raise RowError(f"bad id: {row.get('id')!r}") from exc
    if tmdb_id <= 0:
        raise RowError(f"bad id: {tmdb_id} (ids are positive)")
    title = clean(row.get("title"))
    if not title:
        raise RowError("empty title")
    lists = {}
    for col in JSON_COLUMNS:
        key = {"production_countries": "iso_3166_1", "spoken_languages": "iso_639_1"}.get(col, "name")
        try:
            lists[col] = tuple(extract_names(row.get(col), key=key))
        except (ValueError, TypeError, json.JSONDecodeError) as exc:
            raise RowError(f"broken JSON in column {col}: {exc}") from exc
    rd = (row.get("release_date") or "").strip()
    year = None
    if rd:
        try:
            year = date.fromisoformat(rd).year
        except ValueError as exc:
            raise RowError(f"unparseable release_date: {rd[:30]!r}") from exc
    nums = {col: _number(row, col) for col in NUMERIC if col in row}
    for col in ("budget", "revenue", "runtime"):
        if nums.get(col) == 0:
            nums[col] = None  # TMDB writes 0 for unknown
    filled = {
        "title": title, "original_title": clean(row.get("original_title")) or None,
        "overview": clean(row.get("overview")) or None, "tagline": clean(row.get("tagline")) or None,
        "release_date": rd or None, "year": year,
        "genres": canonical_genres(lists["genres"]), "keywords": lists["keywords"],
        "companies": lists["production_companies"], "countries": lists["production_countries"],
        "spoken_languages": lists["spoken_languages"],
        "original_language": (row.get("original_language") or "").strip() or None,
        "homepage": (row.get("homepage") or "").strip() or None,
        **nums,
    }
    filled = {k: v for k, v in filled.items() if v not in (None, (), "")}
    return Movie(key=f"tmdb:{tmdb_id}", tmdb_id=tmdb_id, sources=(TMDB,),
                 provenance=tuple(sorted((k, TMDB) for k in filled)),
                 **filled)


def check_columns(found: Iterable[str] | None, required: Iterable[str], path: Path) -> None:
    found = list(found) if found is not None else []
    missing = [c for c in required if c not in found]
    if missing:
        raise IngestError(
            f"{path}: missing required column(s) {', '.join(missing)}; columns found: {', '.join(found) or '(none)'}"
        )


def read_tmdb(path: Path) -> tuple[list[Movie], list[Rejection], SourceReport]:
    """Read the TMDB CSV; identical duplicate ids are folded, conflicting ones quarantined."""
    report = SourceReport(TMDB)
    rejections: list[Rejection] = []
    by_id: dict[int, Movie] = {}
    try:
        fh = open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")  # a BOM is not a column
    except OSError as exc:
        raise IngestError(f"cannot read TMDB CSV {path}: {exc.strerror}") from exc
    raise_field_limit()
    with fh:
        reader = csv.DictReader(fh)
        check_columns(reader.fieldnames, REQUIRED_COLUMNS, path)
        start = 2
        for row in reader:
            report.rows_read += 1
            where = f"{path.name}:{start}"
            start = reader.line_num + 1
            raw = json.dumps(row, ensure_ascii=False, default=str)
            try:
                movie = parse_tmdb_row(row)
            except RowError as exc:
                report.reject(rejections, where, str(exc), raw)
                continue
            report.fold(by_id, movie.tmdb_id, movie, rejections, where, raw)
    return list(by_id.values()), rejections, report
