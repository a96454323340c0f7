"""`reelvec info`: what a home's live index is, read without taking any lock."""
from __future__ import annotations

import time
from pathlib import Path

from reelvec.app.home import Home


def _disk(path: Path) -> int:
    return sum(p.stat().st_size for p in path.rglob("*") if p.is_file()) if path.exists() else 0


def info(home: Home, url: str | None = None, api_key: str | None = None) -> dict:
    """Alias -> collection, points, vectors (size, distance), payload fields and indexes, model
    and encoder versions, disk size and build time of the live index."""
    import reelvec
    from reelvec.index.base import ALIAS, INDEXED_FIELDS

    url, key = home.qdrant(url, api_key)
    with (reelvec.open(url=url, api_key=key) if url else reelvec.open(home.root)) as engine:
        coll = engine.collection
        store = engine.store
        if url is None:  # every payload's fields, in one pass (a published copy reads them locally)
            payload: dict = {}
            keys: set[str] = set()
            for f in store.scroll(coll, batch=500):
                payload = payload or f.payload
                keys.update(f.payload)
            fields = sorted(keys)
        else:  # a server: one point's fields (reading every payload over the network is not worth it)
            first = next(iter(store.scroll(coll, batch=1)), None)
            payload = first.payload if first else {}
            fields = sorted(payload)
        state = home.ledger().load(coll)
        out = {
            "home": str(home.root), "backend": url or "embedded (Qdrant Edge, published read copies)",
            "alias": {ALIAS: coll}, "collection": coll, "points": store.count(coll),
            "vectors": {n: {"size": d, "distance": "Cosine"} for n, d in store.collection_vectors(coll).items()},
            "payload_fields": fields, "payload_indexes": dict(INDEXED_FIELDS),
            "model": payload.get("model", {}),
            "built": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(state.created)) if state else None,
            "verified": bool(state and state.verified),
            "collections": store.collections(),
            "live_edits": _edits_summary(home),
        }
        if url is None and hasattr(store, "generation"):
            out["published_generation"] = store.generation(coll)
            # the build precomputes every movie's default `similar` for one generation; a live edit
            # starts another, where queries compute until the next build
            out["similar_precomputed"] = engine.has_similar_answers()
    if url is None:
        out["disk_bytes"] = {"store": _disk(home.store), "features": _disk(home.features_dir),
                             "model": _disk(home.model), "catalog": _disk(home.catalog)}
    return out


def _edits_summary(home: Home) -> dict:
    """What edits.jsonl holds: upserts and deletes, and when the last one was made."""
    from reelvec.ingest.edits import EditLog

    edits = EditLog(home.edits).read()
    last = max((e.at for e in edits), default=None)
    return {"upserts": sum(e.op == "upsert" for e in edits), "deletes": sum(e.op == "delete" for e in edits),
            "last": time.strftime("%Y-%m-%d %H:%M:%S UTC", time.gmtime(last)) if last else None,
            "file": str(home.edits)}


def verify(home: Home) -> dict:
    """`reelvec verify`: every file readers trust, checked whole against its checksum. Returns
    what was checked; raises the StoreError / FusionError naming the first damaged file."""
    from reelvec.errors import StoreError
    from reelvec.fusion.runtime import FusionRuntime
    from reelvec.index.base import ALIAS
    from reelvec.index.integrity import verify_copy
    from reelvec.index.published import PublishedStore, published_dir
    from reelvec.ingest.edits import EditLog

    out: dict = {"home": str(home.root)}
    url, _ = home.qdrant()
    if url:
        out["store"] = f"{url}: a Qdrant server checks its own data"
    else:
        coll = PublishedStore(home.store).resolve_alias(ALIAS)
        if coll is None:
            raise StoreError(f"no live collection in {home.store}; run `reelvec build` first")
        copy = verify_copy(published_dir(home.store, coll))
        out["published_copy"] = (f"{coll} generation {copy['generation']}: {copy['files']} files, "
                                 f"{copy['bytes'] / 2**20:.1f} MiB, every vector finite and unit"
                                 + (", precomputed answers" if copy["answers"] else ""))
    import json

    rt = FusionRuntime.load(home.model)  # checksum and finite weights
    summed = "weights_xxh3" in json.loads((home.model / "config.json").read_text())
    out["model"] = f"{rt.version}: " + ("weights match their checksum" if summed else
                                        "weights finite (no checksum: trained by an older reelvec; "
                                        "`reelvec build --retrain` records one)")
    log = EditLog(home.edits)
    out["edit_log"] = f"{len(log.read())} edit(s), {len(log.pending())} not committed (the next writer finishes them)"
    return out
