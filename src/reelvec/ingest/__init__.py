"""Ingest: real movie data in, one clean catalog out (plus poster fetching).

Each source is a small adapter that yields `Movie`s and quarantines what it cannot read. Names
are imported on first use, so `from reelvec.ingest.movie import ...` does not pull in pandas.
"""
from __future__ import annotations

import importlib

_EXPORTS = {
    "Catalog": "catalog", "CatalogReport": "catalog", "build_catalog": "catalog", "write_catalog": "catalog",
    "select_movies": "catalog", "Movie": "movie", "canonical_genre": "movie", "normalise_title": "movie",
    "build_description": "prep", "clean": "prep", "extract_cast": "prep", "extract_names": "prep",
    "list_to_text": "prep", "preprocess": "prep", "process_description": "prep",
}

__all__ = sorted(_EXPORTS)


def __getattr__(name: str):
    if name not in _EXPORTS:
        raise AttributeError(f"module 'reelvec.ingest' has no attribute {name!r}")
    return getattr(importlib.import_module(f"reelvec.ingest.{_EXPORTS[name]}"), name)
