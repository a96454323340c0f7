"""Index: movie vectors and readable payloads in Qdrant, embedded (Qdrant Edge, the default)
or on a server (qdrant-client), behind one `VectorStore` protocol."""
from reelvec.index.base import ALIAS, Found, PointData, QuerySpec, SearchFilter, VectorStore, point_id

__all__ = ["ALIAS", "Found", "PointData", "QuerySpec", "SearchFilter", "VectorStore", "open_store", "point_id"]


def open_store(path: str | None = None, url: str | None = None, api_key: str | None = None,
               location: str | None = None, wait: float = 0.0) -> VectorStore:
    """Embedded store at `path` (`wait`: seconds to wait for another process's hold on a
    collection), or a Qdrant server at `url`, or qdrant-client local `location`."""
    if url:
        from reelvec.index.server import ServerStore

        return ServerStore(url=url, api_key=api_key)
    if location:
        from reelvec.index.server import ServerStore

        return ServerStore(location=location)
    from reelvec.index.edge import EdgeStore

    return EdgeStore(path or ".reelvec/store", wait=wait)
