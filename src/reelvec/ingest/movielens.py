"""MovieLens (ml-latest-small) adapter: movies + links become `Movie`s; ratings and tags are
interactions, returned as separate tables for training and never folded into a Movie."""
from __future__ import annotations

import csv
import json
import logging
import re
from pathlib import Path

import numpy as np
import pandas as pd

from reelvec.errors import IngestError
from reelvec.ingest.movie import MOVIELENS, Movie, canonical_genres
from reelvec.ingest.quarantine import Rejection, SourceReport
from reelvec.ingest.tmdb import check_columns, raise_field_limit

logger = logging.getLogger(__name__)

_TITLE_YEAR = re.compile(r"^(?P<title>.*?)\s*\((?P<year>\d{4})(?:[-\u2013]\d{0,4})?\)\s*$")
_AKA = re.compile(r"\s*\((?:a\.k\.a\.|aka)\s[^)]*\)\s*$", re.I)
_ARTICLE = re.compile(r"^(?P<body>.*), (?P<art>The|A|An|Les|La|Le|L'|El|Il|Die|Der|Das|Los|Las)$")


def parse_movielens_title(raw: str) -> tuple[str, int | None]:
    """'Matrix, The (1999)' -> ('The Matrix', 1999); 'Seven (a.k.a. Se7en) (1995)' -> ('Seven', 1995)."""
    raw = " ".join(raw.split())
    m = _TITLE_YEAR.match(raw)
    title, year = (m.group("title"), int(m.group("year"))) if m else (raw, None)
    title = _AKA.sub("", title).strip()
    # alternative titles in parentheses: keep the first
    title = re.sub(r"\s+\([^)]*\)$", "", title) if title.endswith(")") and "(" in title[1:] else title
    a = _ARTICLE.match(title)
    if a:
        art = a.group("art")
        title = f"{art}{'' if art.endswith(chr(39)) else ' '}{a.group('body')}"
    return title.strip(), year


def _open(path: Path):
    try:
        return open(path, encoding="utf-8-sig", errors="surrogateescape", newline="")  # a BOM is not a column
    except OSError as exc:
        raise IngestError(f"cannot read MovieLens file {path}: {exc.strerror}") from exc


def read_links(path: Path, rejections: list[Rejection], report: SourceReport) -> dict[int, tuple[str | None, int | None]]:
    """movieId -> (imdb 'tt' id, tmdbId); bad rows are quarantined."""
    links: dict[int, tuple[str | None, int | None]] = {}
    with _open(path) as fh:
        reader = csv.DictReader(fh)
        check_columns(reader.fieldnames, ("movieId", "imdbId", "tmdbId"), path)
        for row in reader:
            where = f"{path.name}:{reader.line_num}"
            try:
                mid = int(row["movieId"])
                imdb = (row["imdbId"] or "").strip()
                imdb_id = f"tt{int(imdb):07d}" if imdb else None
                tmdb = (row["tmdbId"] or "").strip()
                tmdb_id = int(float(tmdb)) if tmdb else None
            except (TypeError, ValueError):
                report.reject(rejections, where, "bad id in links.csv", json.dumps(row))
                continue
            links[mid] = (imdb_id, tmdb_id)
    return links


def read_movielens(data_dir: Path) -> tuple[list[Movie], list[Rejection], SourceReport]:
    """movies.csv joined with links.csv. rows_read counts movies.csv rows."""
    report = SourceReport(MOVIELENS)
    rejections: list[Rejection] = []
    links_report = SourceReport(MOVIELENS)  # link rejections are listed but reconcile separately
    links = read_links(data_dir / "links.csv", rejections, links_report) if (data_dir / "links.csv").is_file() else {}
    path = data_dir / "movies.csv"
    movies: dict[int, Movie] = {}
    with _open(path) as fh:
        reader = csv.DictReader(fh)
        check_columns(reader.fieldnames, ("movieId", "title", "genres"), path)
        for row in reader:
            report.rows_read += 1
            where = f"{path.name}:{reader.line_num}"
            raw = json.dumps(row, ensure_ascii=False)
            if any(isinstance(v, str) and any("\udc80" <= c <= "\udcff" for c in v) for v in row.values()):
                report.reject(rejections, where, "invalid UTF-8", raw)
                continue
            try:
                mid = int(row["movieId"])
            except (TypeError, ValueError):
                report.reject(rejections, where, f"bad movieId: {row.get('movieId')!r}", raw)
                continue
            title, year = parse_movielens_title(row.get("title") or "")
            if not title:
                report.reject(rejections, where, "empty title", raw)
                continue
            imdb_id, tmdb_id = links.get(mid, (None, None))
            genres = canonical_genres((row.get("genres") or "").split("|"))
            filled = {"title": title, "year": year, "genres": genres, "imdb_id": imdb_id}
            filled = {k: v for k, v in filled.items() if v not in (None, (), "")}
            key = f"tmdb:{tmdb_id}" if tmdb_id else f"ml:{mid}"
            m = Movie(key=key, tmdb_id=tmdb_id, movielens_id=mid, sources=(MOVIELENS,),
                      provenance=tuple(sorted((k, MOVIELENS) for k in filled)), **filled)
            if mid in movies:
                if movies[mid] == m:
                    report.accepted += 1
                    report.duplicates_merged += 1
                else:
                    report.reject(rejections, where, f"duplicate id with different content: movieId {mid}", raw)
                continue
            movies[mid] = m
            report.accepted += 1
    report.reasons.update({f"links: {k}": v for k, v in links_report.reasons.items()})
    return list(movies.values()), rejections, report


def ragged_lines(path: Path) -> list[int]:
    """1-based line numbers whose field count differs from the header's (pandas would stop there)."""
    raise_field_limit()
    try:
        with open(path, encoding="utf-8-sig", errors="replace", newline="") as fh:
            reader = csv.reader(fh)
            header = next(reader, [])
            bad, line = [], reader.line_num
            for row in reader:
                if row and len(row) != len(header):
                    bad.append(line + 1)
                line = reader.line_num
            return bad
    except OSError as exc:
        raise IngestError(f"cannot read ratings {path}: {exc.strerror}") from exc


def load_ratings(path: Path, links: dict[int, tuple[str | None, int | None]] | None = None) -> pd.DataFrame:
    """ratings.csv as a typed table (userId, movieId, rating, timestamp[, tmdb_id]).

    Rows with non-numeric fields or a rating outside 0.5..5 are dropped *and reported* through
    the returned frame's ``attrs['rejected']`` count (the caller records it)."""
    bad = ragged_lines(path)
    try:
        df = pd.read_csv(path, dtype=str, skiprows=[n - 1 for n in bad], encoding="utf-8-sig",
                         encoding_errors="replace")
    except (OSError, pd.errors.ParserError, ValueError) as exc:
        raise IngestError(f"cannot read ratings {path}: {exc}") from exc
    if bad:
        logger.warning("%s: skipped %d line(s) with the wrong number of fields: %s", path, len(bad),
                       ", ".join(f"line {n}" for n in bad[:10]) + (" ..." if len(bad) > 10 else ""))
    check_columns(df.columns, ("userId", "movieId", "rating", "timestamp"), path)
    out = pd.DataFrame({
        "userId": pd.to_numeric(df["userId"], errors="coerce"),
        "movieId": pd.to_numeric(df["movieId"], errors="coerce"),
        "rating": pd.to_numeric(df["rating"], errors="coerce"),
        "timestamp": pd.to_numeric(df["timestamp"], errors="coerce"),
    })
    ok = out.notna().all(axis=1) & out["rating"].between(0.5, 5.0)
    rejected = int((~ok).sum())
    out = out[ok].astype({"userId": np.int64, "movieId": np.int64, "rating": np.float32, "timestamp": np.int64})
    if links is not None:
        tm = {m: t for m, (_, t) in links.items() if t}
        out["tmdb_id"] = out["movieId"].map(tm).astype("Int64")
    out = out.reset_index(drop=True)
    out.attrs["rejected"] = rejected + len(bad)
    out.attrs["ragged_lines"] = bad
    return out


def load_ratings_table(data_dir: Path | None) -> pd.DataFrame:
    """ratings.csv of a data folder with each rating's tmdb_id (through links.csv); an empty table
    when there is no folder or it has no MovieLens ratings (training then uses content positives only)."""
    ml = Path(data_dir) / "movielens" if data_dir is not None else None
    if ml is None or not (ml / "ratings.csv").is_file():
        empty = pd.DataFrame({"userId": pd.Series(dtype=np.int64), "movieId": pd.Series(dtype=np.int64),
                              "rating": pd.Series(dtype=np.float32), "timestamp": pd.Series(dtype=np.int64),
                              "tmdb_id": pd.Series(dtype="Int64")})
        empty.attrs["rejected"], empty.attrs["ragged_lines"], empty.attrs["absent"] = 0, [], True
        return empty
    links = read_links(ml / "links.csv", [], SourceReport(MOVIELENS)) if (ml / "links.csv").is_file() else {}
    return load_ratings(ml / "ratings.csv", links)

