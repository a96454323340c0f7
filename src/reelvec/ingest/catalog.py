"""The merged catalog: build it from a data folder, save it, load it.

Saved as JSON Lines, one movie per line: nested lists and per-field provenance need no schema
gymnastics, the file streams, diffs and greps well, a user can read it, and 45k movies load in
well under a second — Parquet's speed is not needed at this size and would add pyarrow.
"""
from __future__ import annotations

import csv
import json
import logging
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from reelvec.errors import IngestError
from reelvec.fsutil import atomic_open, atomic_path
from reelvec.ingest.merge import MergeReport, merge_sources
from reelvec.ingest.movie import SCOPES, Movie
from reelvec.ingest.movielens import read_movielens
from reelvec.ingest.quarantine import Rejection, SourceReport
from reelvec.ingest.series import SeriesReport, link_series
from reelvec.ingest.tmdb import read_tmdb
from reelvec.ingest.wikipedia import read_wikipedia

logger = logging.getLogger(__name__)

# how the sources are read into movies; a build whose catalogue was made by another version reads
# the sources again (2: people parsed as names, series from the leads; 3: the review's fixes;
# 4: Wikipedia entries joined by another spelling of the title, kept as aliases)
CATALOG_VERSION = 4

TMDB_CSV = Path("tmdb/tmdb_5000_movies.csv")
MOVIELENS_DIR = Path("movielens")
WIKIPEDIA_DIR = Path("wikipedia")
POSTERS_DIR = Path("posters")


class Catalog:
    """An ordered, immutable collection of movies with lookups by key and TMDB id."""

    def __init__(self, movies: list[Movie]):
        self.movies: tuple[Movie, ...] = tuple(movies)
        self._by_key = {m.key: m for m in self.movies}
        self._by_tmdb = {m.tmdb_id: m for m in self.movies if m.tmdb_id is not None}
        if len(self._by_key) != len(self.movies):
            raise IngestError("catalog has duplicate movie keys")

    def __len__(self) -> int:
        return len(self.movies)

    def __iter__(self) -> Iterator[Movie]:
        return iter(self.movies)

    def __contains__(self, key: object) -> bool:
        return key in self._by_key

    def get(self, key: str) -> Movie | None:
        return self._by_key.get(key)

    def by_tmdb(self, tmdb_id: int) -> Movie | None:
        return self._by_tmdb.get(int(tmdb_id))

    def save(self, path: Path) -> None:
        """Write atomically (temp file + rename): a crash never leaves half a catalog."""
        with atomic_open(path) as fh:
            for m in self.movies:
                fh.write(json.dumps(m.to_dict(), ensure_ascii=False, separators=(",", ":")) + "\n")

    @classmethod
    def load(cls, path: Path) -> Catalog:
        path = Path(path)
        movies = []
        try:
            fh = open(path, encoding="utf-8")
        except OSError as exc:
            raise IngestError(f"cannot read catalog {path}: {exc.strerror}; build it with `reelvec catalog`") from exc
        with fh:
            for n, line in enumerate(fh, 1):
                if not line.strip():
                    continue
                try:
                    movies.append(Movie.from_dict(json.loads(line)))
                except (json.JSONDecodeError, TypeError) as exc:
                    raise IngestError(f"{path}:{n}: not a catalog record ({exc}); rebuild with `reelvec catalog`") from exc
        return cls(movies)


@dataclass
class CatalogReport:
    sources: list[SourceReport] = field(default_factory=list)
    merge: MergeReport = field(default_factory=MergeReport)
    rejections: list[Rejection] = field(default_factory=list)
    seconds: float = 0.0
    absent: list[str] = field(default_factory=list)  # sources the data folder does not have
    series: SeriesReport = field(default_factory=SeriesReport)

    @property
    def quarantined(self) -> int:
        return len(self.rejections)

    def as_dict(self) -> dict:
        return {
            "sources": [s.as_dict() for s in self.sources],
            "absent": list(self.absent),
            "merge": self.merge.as_dict(),
            "series": self.series.as_dict(),
            "quarantined": self.quarantined,
            "seconds": round(self.seconds, 2),
        }


def select_movies(catalog, scope: str = "linked", limit: int | None = None) -> list[Movie]:
    """'linked' = films with a TMDB or MovieLens id (ratings, posters, ids users search by);
    'all' adds the Wikipedia-only films."""
    movies = [m for m in catalog if SCOPES[scope](m)]
    return movies[:limit] if limit else movies


def read_poster_manifest(folder: Path) -> dict[int, str]:
    """tmdb_id -> absolute poster path, from manifest.csv, else from ``<tmdbId>.jpg`` names."""
    out: dict[int, str] = {}
    manifest = folder / "manifest.csv"
    if manifest.exists():
        with open(manifest, encoding="utf-8", newline="") as fh:
            for row in csv.DictReader(fh):
                try:
                    out[int(row["tmdb_id"])] = str((folder / row["file"]).resolve())
                except (KeyError, ValueError, TypeError):
                    continue
    elif folder.is_dir():
        for p in folder.glob("*.jpg"):
            if p.stem.isdigit():
                out[int(p.stem)] = str(p.resolve())
    return out


def build_catalog(data_dir: Path | None, progress: Callable[[str], None] | None = None,
                  mapped: Sequence[tuple[Path, dict[str, str]]] = ()) -> tuple[Catalog, CatalogReport]:
    """Read the sources under `data_dir` (layout of ../shared/data) and any `mapped` files
    ((path, {field: column}) pairs, `reelvec.ingest.mapped`), and merge them.

    Any subset of TMDB, MovieLens, Wikipedia and mapped files will do: a missing built-in source
    is reported in `report.absent` (and logged), and only no source at all is an error. Bad rows
    are quarantined in the report.
    """
    from reelvec.ingest.mapped import read_mapped

    if data_dir is not None and not Path(data_dir).is_dir():
        raise IngestError(f"data folder {data_dir} does not exist; pass --data or set REELVEC_DATA")
    t0 = time.perf_counter()
    step = progress or (lambda _name: None)
    report = CatalogReport()
    d = Path(data_dir) if data_dir is not None else None
    present = {"tmdb": bool(d and (d / TMDB_CSV).is_file()),
               "movielens": bool(d and (d / MOVIELENS_DIR / "movies.csv").is_file()),
               "wikipedia": bool(d and any((d / WIKIPEDIA_DIR).glob("*.json")))}
    report.absent = [name for name, ok in present.items() if not ok]
    if not any(present.values()) and not mapped:
        raise IngestError(f"no source in {data_dir}: expected {TMDB_CSV}, {MOVIELENS_DIR}/movies.csv or "
                          f"{WIKIPEDIA_DIR}/*.json (see the README's data sources), or a file of your own "
                          "with --from FILE --map title=COLUMN,...")
    for name in report.absent:
        logger.info("source %s: absent from %s", name, data_dir)
    readers = {"tmdb": lambda: read_tmdb(d / TMDB_CSV),
               "movielens": lambda: read_movielens(d / MOVIELENS_DIR),
               "wikipedia": lambda: read_wikipedia(d / WIKIPEDIA_DIR)}
    found: dict[str, list] = {}
    for name, read in readers.items():
        step(name)
        found[name] = []
        if present[name]:
            found[name], rej, rep = read()
            report.sources.append(rep)
            report.rejections += rej
    own: list[Movie] = []
    for path, mapping in mapped:
        step(f"mapped:{Path(path).name}")
        ms, rej, rep = read_mapped(Path(path), mapping)
        own += ms
        report.sources.append(rep)
        report.rejections += rej
        if rep.unknown_genres:
            logger.info("%s: genres outside the shared vocabulary, kept: %s", Path(path).name,
                        ", ".join(f"{g} ({n})" for g, n in sorted(rep.unknown_genres.items())))
    tmdb, ml, wiki = found["tmdb"], found["movielens"], found["wikipedia"]

    step("merge")
    posters = read_poster_manifest(d / POSTERS_DIR) if d is not None else {}
    movies, report.merge = merge_sources(tmdb, ml, wiki, posters, mapped=own)
    step("series")
    movies, report.series = link_series(movies)
    report.seconds = time.perf_counter() - t0
    return Catalog(movies), report


def write_catalog(catalog: Catalog, report: CatalogReport, out: Path) -> Path:
    """Save the catalog and, beside it, ``<name>.quarantine.jsonl``; returns the quarantine path.
    Both are written to temp files first and only then put in place, quarantine first: a failure
    leaves the previous pair, never a new catalog without its quarantine record."""
    from reelvec.ingest.quarantine import printable

    out = Path(out)
    qpath = out.with_name(out.stem + ".quarantine.jsonl")
    with atomic_path(out) as cat_tmp:
        with atomic_path(qpath) as q_tmp:
            with open(q_tmp, "w", encoding="utf-8") as fh:
                for r in report.rejections:
                    fh.write(r.to_json() + "\n")
            with open(cat_tmp, "w", encoding="utf-8") as fh:
                for m in catalog.movies:
                    line = json.dumps(m.to_dict(), ensure_ascii=False, separators=(",", ":"))
                    fh.write(printable(line) + "\n")
    return qpath
