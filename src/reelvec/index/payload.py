"""What a point carries: a payload a person can read in the Qdrant console, and its vectors."""
from __future__ import annotations

from reelvec.ingest.movie import Movie


def movie_payload(m: Movie, model_version: str, text_version: str, image_version: str | None) -> dict:
    p = {
        "key": m.key, "tmdb_id": m.tmdb_id, "imdb_id": m.imdb_id, "movielens_id": m.movielens_id,
        "title": m.title, "year": m.year, "genres": list(m.genres), "original_language": m.original_language,
        "cast": list(m.cast[:5]), "director": m.director, "keywords": list(m.keywords[:20]), "poster": m.poster,
        "popularity": m.popularity, "vote_count": m.vote_count,
        "model": {"fusion": model_version, "text": text_version, "image": image_version},
    }
    return {k: v for k, v in p.items() if v is not None}
