"""One exception family, so callers can catch everything reelvec raises with a single ``except``.

Each stage has its own subclass; messages name the file/row/URL at fault and say what to do.
"""
from __future__ import annotations


class ReelvecError(Exception):
    """Base of every error reelvec raises on purpose."""


class IngestError(ReelvecError):
    """Reading sources, cleaning rows, building the catalog, fetching posters."""


class EncoderError(ReelvecError):
    """Loading weights, encoding text/images, the feature cache."""


class FusionError(ReelvecError):
    """Training, saving or loading the fusion model; evaluation."""


class StoreError(ReelvecError):
    """The vector store: embedded or server backend, collections, aliases, jobs."""


class NoRoomError(StoreError):
    """A write refused for want of disk space before it changed anything."""


class SearchError(ReelvecError):
    """Queries: unknown or ambiguous titles, bad arguments."""


class UnknownMovieError(SearchError):
    """A title or id that is not in the index; carries the closest candidates."""

    def __init__(self, message: str, candidates: list[tuple[str, int | None]] | None = None):
        super().__init__(message)
        self.candidates = candidates or []
