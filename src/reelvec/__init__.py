"""reelvec: a multimodal movie embedding engine.

    import reelvec
    engine = reelvec.open(".reelvec")
    engine.similar("Alien", k=10)

Importing this package loads no model, opens no file and starts no thread; heavy modules are
imported on first use.
"""
from __future__ import annotations

from reelvec.errors import (
    EncoderError,
    FusionError,
    IngestError,
    ReelvecError,
    SearchError,
    StoreError,
    UnknownMovieError,
)

__version__ = "0.1.0"

__all__ = [
    "EncoderError",
    "FusionError",
    "IngestError",
    "ReelvecError",
    "SearchError",
    "StoreError",
    "UnknownMovieError",
    "__version__",
    "open",
]


def open(path: str | None = None, **kwargs):  # noqa: A001 - the documented entry point
    """Open a search engine over an index built by ``reelvec build`` (see reelvec.search)."""
    from reelvec.search.engine import open_engine

    return open_engine(path, **kwargs)
