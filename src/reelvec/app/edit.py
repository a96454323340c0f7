"""`reelvec add` and `reelvec delete`: live edits of a built home's collection.

`add` reads a file of movies (CSV/TSV/JSONL, or Parquet with the `[build]` extra; columns named
like reelvec's fields need no ``--map``), fetches poster URLs through the guarded fetcher into
the home's poster cache, and upserts the movies in batches through `Engine.upsert`: encoded as
a build would, written to the live collection, visible to open readers within a second and kept
in ``edits.jsonl`` for every later build. Rows that fail validation are reported with their row
number, kept with their raw text in ``add.quarantine.jsonl`` and skipped; they never stop the others.
"""
from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

from reelvec.app.home import Home
from reelvec.errors import ReelvecError

logger = logging.getLogger(__name__)

BATCH = 256  # movies per write (one lock, one published generation each)


@dataclass
class AddResult:
    written: list[tuple[str, str, int | None]] = field(default_factory=list)  # (key, title, year)
    replaced: int = 0
    rejected: list[tuple[str, str]] = field(default_factory=list)  # (file:row, reason)
    quarantine: str | None = None  # where the skipped rows are kept (home/add.quarantine.jsonl)
    posters: dict = field(default_factory=dict)  # poster fetch outcome counts
    seconds: float = 0.0

    def summary(self) -> dict:
        return {"written": len(self.written), "new": len(self.written) - self.replaced, "replaced": self.replaced,
                "rejected": len(self.rejected), "seconds": round(self.seconds, 2),
                "movies_per_second": round(len(self.written) / self.seconds, 1) if self.seconds else None,
                "keys": [k for k, _, _ in self.written], "rejections": [f"{w}: {r}" for w, r in self.rejected],
                "quarantine": self.quarantine}


def _engine(home: Home, qdrant_url: str | None, api_key: str | None, wait: float = 0.0):
    from reelvec.search.engine import open_engine

    if not home.manifest_path.exists():
        raise ReelvecError(f"no built home at {home.root} (no manifest.json); run `reelvec build --store {home.root}` "
                           "first: live edits need its model and encoders")
    url, key = home.qdrant(qdrant_url, api_key)
    return open_engine(home.root, url=url, api_key=key, wait=wait)


def add(home: Home, path: Path, mapping: dict[str, str] | None = None, qdrant_url: str | None = None,
        api_key: str | None = None, fetch: bool = True, progress: bool = False, wait: float = 0.0) -> AddResult:
    """Upsert the movies of `path` into the live collection of `home` (waiting up to `wait`
    seconds for another writer of the home)."""
    import time

    from tqdm import tqdm

    from reelvec.index.base import point_id
    from reelvec.ingest.edits import OWN
    from reelvec.ingest.mapped import read_mapped
    from reelvec.ingest.quarantine import write_quarantine

    t0 = time.perf_counter()
    movies, rejections, _ = read_mapped(Path(path), dict(mapping or {}), stem=OWN)
    res = AddResult(rejected=[(r.where, r.reason) for r in rejections])
    for where, reason in res.rejected:
        logger.warning("skipped %s: %s", where, reason)
    write_quarantine(home.add_quarantine, rejections)  # this run's skipped rows, raw text included
    res.quarantine = str(home.add_quarantine) if rejections else None
    posters: dict[str, str] = {}
    urls = [(m.key, m.poster) for m in movies if m.poster and m.poster.startswith(("http://", "https://"))]
    if urls and fetch:
        from reelvec.encoders.pipeline import fetched_posters
        from reelvec.ingest.posters import FetchConfig, fetch_posters, summarise

        res.posters = summarise(fetch_posters(urls, home.posters, FetchConfig(), progress=progress))
        posters = fetched_posters(home.posters)
    with _engine(home, qdrant_url, api_key, wait) as engine, engine.editing():  # one lock, one shard load
        had_answers = engine.has_similar_answers()
        existing = {f.id for f in engine.store.retrieve(engine.collection, [point_id(m.key) for m in movies],
                                                        with_payload=False)}
        res.replaced = sum(point_id(m.key) in existing for m in movies)
        bar = tqdm(total=len(movies), desc="add", unit="movie", disable=not progress)
        for s in range(0, len(movies), BATCH):
            chunk = movies[s:s + BATCH]
            engine.upsert(chunk, posters=posters)
            res.written += [(m.key, m.title, m.year) for m in chunk]
            bar.update(len(chunk))
        bar.close()
    if had_answers and res.written:
        _stale_answers_hint()
    res.seconds = time.perf_counter() - t0
    return res


def _stale_answers_hint() -> None:
    logger.info("the default `similar` of this new generation is computed per query (~2-3 ms instead of ~0.5 ms) "
                "until `reelvec precompute` (about 20 s for 11k movies) or the next build")


def delete(home: Home, movies: list, qdrant_url: str | None = None, api_key: str | None = None,
           wait: float = 0.0) -> list[str]:
    """Delete movies (TMDB ids, keys or exact titles) from the live collection of `home`;
    all or nothing. Returns their keys."""
    with _engine(home, qdrant_url, api_key, wait) as engine:
        had_answers = engine.has_similar_answers()
        keys = engine.delete(list(movies))
    if had_answers and keys:
        _stale_answers_hint()
    return keys
