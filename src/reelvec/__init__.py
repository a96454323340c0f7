"""reelvec: a multimodal movie embedding engine.

    import reelvec
    engine = reelvec.open(".reelvec")
    engine.similar("Alien", k=10)

Importing this package loads no model, opens no file and starts no thread; heavy modules are
imported on first use.
"""
from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

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
    "connect",
    "open",
]


def open(path: str | Path | None = None, **kwargs):
    """Open a search engine over an index built by ``reelvec build``.

    Args:
        path: the home folder of a build (default ``.reelvec``) or a bare embedded store folder.
        **kwargs: ``url=`` and ``api_key=`` for a Qdrant server instead (the key defaults to
            ``$QDRANT_API_KEY``), ``location=":memory:"`` for qdrant-client's local mode,
            ``alias=`` for another collection alias than ``movies``.

    Returns:
        A `reelvec.search.Engine`: ``engine.similar("Alien", k=10)``, ``search_text``, ``search_image``,
        ``recommend``, ``for_history``, ``movie``. Use it in a ``with`` block or call ``close()``.

    Raises:
        SearchError: no index at `path` (run ``reelvec build`` first).
        StoreError: the store cannot be opened (locked by a writer, server unreachable, key refused).
    """
    from reelvec.search.engine import open_engine

    return open_engine(path, **kwargs)


def connect(url: str, api_key: str | None = None, timeout: float = 30.0):
    """A client for a running ``reelvec serve`` with the Engine's query methods (``similar``,
    ``search_text``, ``search_image``, ``recommend``, ``for_history``, ``movie``) returning the
    same `Hit` objects. See `reelvec.search.client.Client`."""
    from reelvec.search.client import Client

    return Client(url, api_key=api_key, timeout=timeout)
