"""Live edits: turn movies given by a caller into points the way a build does (same description,
same encoders, the build's fusion model run in numpy), so `Engine.upsert` needs no torch.

Pure helpers; the `Engine` does the writing (store, edit log, job ledger).
"""
from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np

from reelvec.errors import SearchError
from reelvec.ingest.movie import Movie

logger = logging.getLogger(__name__)


def as_movies(items, unique: bool = True) -> list[Movie]:
    """Movies from `Movie` objects or dicts in reelvec's field names (``title`` required; ``id``
    or ``tmdb_id`` to update later; lists as lists or ``|``-separated strings). A dict is
    validated like a row of a mapped file; the error names the item and what is wrong."""
    from reelvec.ingest.edits import OWN
    from reelvec.ingest.mapped import FIELDS, parse_row
    from reelvec.ingest.tmdb import RowError

    if isinstance(items, (Movie, Mapping)):
        items = [items]
    out: list[Movie] = []
    for n, item in enumerate(items):
        if isinstance(item, Movie):
            out.append(_whole_numbers(item, n))
            continue
        if not isinstance(item, Mapping):
            raise SearchError(f"movie #{n} is a {type(item).__name__}; give a Movie or a dict with at least a title")
        unknown = sorted(set(item) - set(FIELDS))
        if unknown:
            raise SearchError(f"movie #{n} ({item.get('title', '?')!r}): unknown field(s) {', '.join(unknown)}; "
                              f"fields are {', '.join(FIELDS)}")
        try:
            out.append(parse_row(dict(item), {f: f for f in item}, OWN))
        except RowError as exc:
            raise SearchError(f"movie #{n} ({item.get('title', '?')!r}): {exc}") from exc
    keys = [m.key for m in out]
    if unique and len(set(keys)) != len(keys):
        dup = next(k for k in keys if keys.count(k) > 1)
        raise SearchError(f"movie key {dup} appears twice in one upsert; give each movie its own id")
    return out


def _whole_numbers(movie: Movie, n: int) -> Movie:
    """`movie` with its year and TMDB id as Python ints (a float 1999.0 never passed a year filter,
    a numpy int64 broke the edit log); a fractional or non-numeric one is refused."""
    import dataclasses
    import math
    import numbers

    fixed = {}
    for name in ("year", "tmdb_id"):
        v = getattr(movie, name)
        if v is None or type(v) is int:
            continue
        if isinstance(v, bool) or not isinstance(v, numbers.Real) or not math.isfinite(v) or v != int(v):
            raise SearchError(f"movie #{n} ({movie.title!r}): {name} {v!r} is not a whole number")
        fixed[name] = int(v)
    return dataclasses.replace(movie, **fixed) if fixed else movie


def weights_digest(version: str) -> str:
    """'minilm-l6-v2:53aa51172d14:onnx:max256:desc1' -> 'minilm-l6-v2:53aa51172d14' (which weights,
    whatever runtime computed them)."""
    return ":".join(version.split(":")[:2])


def franchises_with(movies: Sequence[Movie], columns: dict[str, list] | None) -> dict[int, str]:
    """row of `movies` -> franchise stem, judged together with the indexed movies whose titles
    share a head word with theirs (``columns`` of a published copy; None: among `movies` only)."""
    from reelvec.ingest.franchise import franchise_of, title_words

    if not columns or "head_words" not in columns:
        return franchise_of(movies)
    heads = {w for m in movies for w in title_words(m.title)[1]}
    near = [i for i, h in enumerate(columns["head_words"]) if heads & set((h or "").split())]
    keys = {m.key for m in movies}
    others = [Movie(key=f"indexed:{i}", title=columns["title"][i] or "", year=columns["year"][i],
                    genres=tuple(columns["genres"][i] or ()), director=columns["director"][i],
                    cast=tuple(columns["cast"][i] or ())) for i in near]
    found = franchise_of(list(movies) + [o for o in others if o.key not in keys])
    return {r: stem for r, stem in found.items() if r < len(movies)}


def poster_file(movie: Movie, posters: Mapping[str, str] | None) -> Path | None:
    """A local poster file for `movie`: its path, or the file fetched for its URL."""
    from reelvec.encoders.pipeline import poster_path

    return poster_path(movie, None, dict(posters or {}))


def image_rows(paths: Sequence[Path | None], encoder) -> tuple[np.ndarray, np.ndarray]:
    """(vectors, has) for poster files (NaN rows and False where none is usable)."""
    from reelvec.ingest.images import BadImageError, load_poster

    out = np.full((len(paths), encoder.dim), np.nan, np.float32)
    has = np.zeros(len(paths), bool)
    imgs, rows = [], []
    for i, p in enumerate(paths):
        if p is None:
            continue
        try:
            imgs.append(load_poster(p))
            rows.append(i)
        except BadImageError as exc:  # one bad file does not stop an add: the movie goes in without it
            logger.warning("poster %s is unusable (%s); indexing that movie without a poster", p, exc)
    if imgs:
        out[rows] = encoder.encode(imgs)
        has[rows] = True
    return out, has
