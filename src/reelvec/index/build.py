"""Turn movies + features + a fusion model into Qdrant points (named vectors fused / text /
image, readable payload) and index them with `jobs.index_points`."""
from __future__ import annotations

import hashlib
from collections.abc import Sequence

import numpy as np

from reelvec.index.base import PointData, point_id
from reelvec.index.payload import PAYLOAD_VERSION, movie_payload


def catalog_digest(movies: Sequence, features) -> str:
    """Changes when any indexed movie, any of its vectors' versions, or what a payload holds
    (`PAYLOAD_VERSION`) changes."""
    import json

    h = hashlib.sha256()
    for m in movies:  # canonical JSON: the same movie loaded from disk or freshly merged hashes the same
        h.update(json.dumps(m.to_dict(), sort_keys=True, ensure_ascii=False, default=list).encode())
    h.update(features.text_version.encode())
    h.update(features.image_version.encode())
    h.update(f"payload {PAYLOAD_VERSION}".encode())
    return h.hexdigest()[:16]


def make_points(movies: Sequence, features, fused: np.ndarray, model_version: str,
                franchise: dict[int, str] | None = None, hub: np.ndarray | None = None) -> list[PointData]:
    """Points of `movies` (rows of `fused`); `franchise` (row -> stem) defaults to the franchises
    found among `movies` themselves; `hub` is each row's hubness (`fusion.blend.hubness`, the
    payload field a blended `similar` subtracts), left out when None."""
    from reelvec.ingest.franchise import franchise_of

    idx = features.index()
    franchise = franchise_of(movies) if franchise is None else franchise
    out = []
    for r, (m, z) in enumerate(zip(movies, fused)):
        i = idx[m.key]
        vec = {"fused": z, "text": features.text[i]}
        if features.has_image[i]:
            vec["image"] = features.image[i]
        payload = movie_payload(m, model_version, features.text_version,
                                features.image_version if features.has_image[i] else None, franchise.get(r))
        if hub is not None:
            payload["hub"] = round(float(hub[r]), 4)
        out.append(PointData(point_id(m.key), vec, payload))
    return out


def vector_dims(features, fused_dim: int) -> dict[str, int]:
    return {"fused": fused_dim, "text": features.text.shape[1], "image": features.image.shape[1]}
