"""Wikipedia movie data adapter (prust/wikipedia-movie-data: one JSON array per decade).

Wikipedia has no ids: entries are keyed by page name (``href``) and joined to other sources by
normalised title and year in the merge step. The director is read off the lead paragraph
("... directed by Ridley Scott ...") because the data has no crew field.
"""
from __future__ import annotations

import json
import re
from pathlib import Path

from reelvec.errors import IngestError
from reelvec.ingest.movie import WIKIPEDIA, Movie, canonical_genres, normalise_title
from reelvec.ingest.prep import clean, extract_cast
from reelvec.ingest.quarantine import Rejection, SourceReport

_NAME = r"(?:[A-Z][\w.'\-]*|de|van|von|del|la|du)"
_DIRECTED_BY = re.compile(
    r"\bdirected\b[^.;]{0,80}?\bby (" + _NAME + r"(?:\s" + _NAME + r")*)"
)


def director_from_extract(extract: str | None) -> str | None:
    """'... directed by Ridley Scott and written by ...' -> 'Ridley Scott' (first named director)."""
    if not extract:
        return None
    m = _DIRECTED_BY.search(extract)
    if not m:
        return None
    name = m.group(1).strip()
    name = re.split(r"\s(?:and|from|with)\s", name)[0].rstrip(".")
    return name if len(name.split()) >= 2 else None


def parse_wikipedia_entry(entry) -> Movie:
    if not isinstance(entry, dict):
        raise ValueError(f"entry is a {type(entry).__name__}, not an object")
    title = entry.get("title")
    if not isinstance(title, str) or not title.strip():
        raise ValueError("missing title")
    year = entry.get("year")
    if isinstance(year, bool) or not isinstance(year, int) or not 1870 <= year <= 2100:
        raise ValueError(f"bad year: {year!r}")
    cast = entry.get("cast") or []
    genres = entry.get("genres") or []
    if not isinstance(cast, list) or not isinstance(genres, list):
        raise ValueError("cast/genres is not a list")
    if not all(isinstance(x, str) for x in cast + genres):
        raise ValueError("cast/genres must be lists of names (text)")
    extract = clean(entry.get("extract")) or None
    href = entry.get("href")
    thumb = entry.get("thumbnail")
    filled = {
        "title": clean(title), "year": year, "cast": tuple(extract_cast(cast)),
        "genres": canonical_genres(genres), "plot": extract,
        "director": director_from_extract(extract),
        "poster": thumb if isinstance(thumb, str) and thumb.startswith(("http://", "https://")) else None,
    }
    filled = {k: v for k, v in filled.items() if v not in (None, (), "")}
    key = f"wiki:{href}" if isinstance(href, str) and href else f"wiki:{normalise_title(title)}:{year}"
    return Movie(key=key, sources=(WIKIPEDIA,), provenance=tuple(sorted((k, WIKIPEDIA) for k in filled)), **filled)


def read_wikipedia(folder: Path) -> tuple[list[Movie], list[Rejection], SourceReport]:
    """Every ``*.json`` in the folder. A file that is not a JSON array is quarantined whole
    (counted as one row) and the others still load."""
    report = SourceReport(WIKIPEDIA)
    rejections: list[Rejection] = []
    files = sorted(folder.glob("*.json"))
    if not files:
        raise IngestError(f"no Wikipedia *.json files in {folder}")
    by_key: dict[str, Movie] = {}
    for path in files:
        try:
            data = json.loads(path.read_bytes().decode("utf-8-sig"))
        except (UnicodeDecodeError, json.JSONDecodeError, OSError, RecursionError) as exc:
            report.rows_read += 1
            reason = ("JSON nested too deep" if isinstance(exc, RecursionError)
                      else f"not a readable file: {exc.strerror}" if isinstance(exc, OSError)
                      else f"unreadable JSON file: {exc}")
            report.reject(rejections, path.name, reason, "")
            continue
        if not isinstance(data, list):
            report.rows_read += 1
            report.reject(rejections, path.name, "file is not a JSON array", str(data)[:200])
            continue
        for i, entry in enumerate(data):
            report.rows_read += 1
            where = f"{path.name}[{i}]"
            try:
                movie = parse_wikipedia_entry(entry)
            except ValueError as exc:
                report.reject(rejections, where, str(exc), json.dumps(entry, ensure_ascii=False, default=str))
                continue
            report.fold(by_key, movie.key, movie, rejections, where, json.dumps(entry, ensure_ascii=False, default=str))
    return list(by_key.values()), rejections, report
