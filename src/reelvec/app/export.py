"""`reelvec export`: push the live embedded collection to a Qdrant server (points, vectors,
payload indexes and the `movies` alias), to browse it in the Qdrant dashboard or serve it with
`reelvec.open(url=...)`."""
from __future__ import annotations

import logging
from dataclasses import dataclass

from reelvec.app.home import Home

logger = logging.getLogger(__name__)


@dataclass
class ExportResult:
    collection: str
    points: int
    target: str


def export(home: Home, target, batch: int = 512, progress: bool = False) -> ExportResult:
    """Copy the live collection of `home` (read from its published copy: no lock) into the
    VectorStore `target` under the same name, then point `target`'s alias at it. Idempotent:
    point ids are stable, so a rerun overwrites."""
    from tqdm import tqdm

    from reelvec.index.base import ALIAS, PointData
    from reelvec.index.published import PublishedStore

    src = PublishedStore(home.store)
    try:
        coll = src.resolve_alias(ALIAS)
        if coll is None:
            from reelvec.errors import StoreError

            raise StoreError(f"nothing to export: no live collection in {home.store}; run `reelvec build` first")
        total = src.count(coll)
        target.create_collection(coll, src.collection_vectors(coll))
        bar = tqdm(total=total, desc=f"export {coll}", unit="pt", disable=not progress)
        chunk: list[PointData] = []
        for f in src.scroll(coll, with_vectors=True):
            chunk.append(PointData(f.id, dict(f.vec.items()), f.payload))
            if len(chunk) == batch:
                target.upsert(coll, chunk)
                bar.update(len(chunk))
                chunk = []
        if chunk:
            target.upsert(coll, chunk)
            bar.update(len(chunk))
        bar.close()
        target.finalize(coll)
        if target.count(coll) != total:
            from reelvec.errors import StoreError

            raise StoreError(f"export incomplete: {target.count(coll)} of {total} points arrived in {coll}")
        target.set_alias(ALIAS, coll)
    finally:
        src.close()
    logger.info("exported %s (%d points)", coll, total)
    return ExportResult(coll, total, getattr(target, "where", "?"))
