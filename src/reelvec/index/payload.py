"""What a point carries: a payload a person can read in the Qdrant console (title, year, genres,
people, a trimmed overview, TMDB/IMDb links; `poster` is a URL, or a path on the build machine
marked by `poster_is_local`), and its vectors."""
from __future__ import annotations

from reelvec.ingest.movie import Movie

PAYLOAD_VERSION = 2  # 2: `hub` (a film's hubness, what a blended `similar` subtracts), `aliases`; a change re-indexes


def movie_payload(m: Movie, model_version: str, text_version: str, image_version: str | None,
                  franchise: str | None = None) -> dict:
    p = {
        "key": m.key, "tmdb_id": m.tmdb_id, "imdb_id": m.imdb_id, "movielens_id": m.movielens_id,
        "title": m.title, "aliases": list(m.aliases) or None,
        "year": m.year, "genres": list(m.genres), "original_language": m.original_language,
        "cast": list(m.cast[:5]), "director": m.director, "directors": list(m.directors) or None,
        "writers": list(m.writers[:5]) or None, "series": m.series, "series_name": m.series_name,
        "keywords": list(m.keywords[:20]), "poster": m.poster,
        "popularity": m.popularity, "vote_count": m.vote_count, "franchise": franchise,
        "overview": _trim(m.overview or m.plot, OVERVIEW_CHARS),
        "tmdb_url": f"https://www.themoviedb.org/movie/{m.tmdb_id}" if m.tmdb_id else None,
        "imdb_url": f"https://www.imdb.com/title/{m.imdb_id}/" if m.imdb_id else None,
        "poster_is_local": bool(m.poster) and not m.poster.startswith(("http://", "https://")) or None,
        "model": {"fusion": model_version, "text": text_version, "image": image_version},
    }
    return {k: v for k, v in p.items() if v is not None}


OVERVIEW_CHARS = 300  # enough to recognise a film in the Qdrant console; the catalog has the rest


def _trim(text: str | None, limit: int) -> str | None:
    if not text:
        return None
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + "…"
