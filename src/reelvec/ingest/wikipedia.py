"""Wikipedia movie data adapter (prust/wikipedia-movie-data: one JSON array per decade).

Wikipedia has no ids: entries are keyed by page name (``href``) and joined to other sources by
normalised title and year in the merge step. Directors and writers are read off the lead
paragraph ("... directed by Ridley Scott ...") with the grammar in `reelvec.ingest.people`,
because the data has no crew field; cast entries that are no names ("writer)") are dropped.
"""
from __future__ import annotations

import json
from collections import Counter
from pathlib import Path

from reelvec.errors import IngestError
from reelvec.ingest.movie import WIKIPEDIA, Movie, canonical_genres, normalise_title
from reelvec.ingest.people import cast_names, crew_from_lead
from reelvec.ingest.prep import clean, extract_cast
from reelvec.ingest.quarantine import Rejection, SourceReport


def director_from_extract(extract: str | None) -> str | None:
    """'... directed by Ridley Scott and written by ...' -> 'Ridley Scott' (the first director
    the lead names, validated as a name; see `reelvec.ingest.people`)."""
    directors = crew_from_lead(extract).directors
    return directors[0] if directors else None


def parse_wikipedia_entry(entry, counts: Counter | None = None) -> Movie:
    """One entry as a Movie; `counts` (if given) learns how many names were read and rejected."""
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
    kept, bad = cast_names(extract_cast(cast))
    crew = crew_from_lead(extract, kept)
    if counts is not None:
        counts["leads_naming_a_director"] += bool(crew.directors)
        counts["lead_says_directed_by"] += bool(extract and "irected by" in extract)
        counts["directors"] += len(crew.directors)
        counts["writers"] += len(crew.writers)
        counts["crew_names_rejected"] += len(crew.rejected)
        counts["cast_kept"] += len(kept)
        counts["cast_rejected"] += len(bad)
    filled = {
        "title": clean(title), "year": year, "cast": tuple(kept),
        "genres": canonical_genres(genres), "plot": extract,
        "director": crew.directors[0] if crew.directors else None, "directors": tuple(crew.directors),
        "writers": tuple(crew.writers),
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
                movie = parse_wikipedia_entry(entry, report.people)
            except ValueError as exc:
                report.reject(rejections, where, str(exc), json.dumps(entry, ensure_ascii=False, default=str))
                continue
            report.fold(by_key, movie.key, movie, rejections, where, json.dumps(entry, ensure_ascii=False, default=str))
    return list(by_key.values()), rejections, report
