"""Ingest: real movie data in, one clean catalog out (plus poster fetching).

Each source is a small adapter that yields `Movie`s and quarantines what it cannot read.
"""
from reelvec.ingest.catalog import Catalog, CatalogReport, build_catalog, write_catalog
from reelvec.ingest.movie import Movie, canonical_genre, normalise_title
from reelvec.ingest.prep import (
    build_description,
    clean,
    extract_cast,
    extract_names,
    list_to_text,
    preprocess,
    process_description,
)

__all__ = [
    "Catalog", "CatalogReport", "Movie", "build_catalog", "build_description", "canonical_genre",
    "clean", "extract_cast", "extract_names", "list_to_text", "normalise_title", "preprocess",
    "process_description", "write_catalog",
]
