"""`reelvec catalog`, `reelvec fetch-posters` and `reelvec encode`: data in, features out."""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from reelvec.encoders.base import BUILD_TEXT_TOKENS

if TYPE_CHECKING:
    from reelvec.encoders.pipeline import Features
    from reelvec.ingest.catalog import Catalog, CatalogReport

logger = logging.getLogger(__name__)


@dataclass
class CatalogResult:
    catalog: Catalog
    report: CatalogReport
    path: Path
    quarantine: Path
    seconds: float

    def summary(self) -> dict:
        return self.report.as_dict() | {"catalog": str(self.path), "quarantine_file": str(self.quarantine),
                                        "wall_seconds": round(self.seconds, 2)}


def catalog(data: Path | None, out: Path, progress: Callable[[str], None] | None = None,
            mapped: tuple = ()) -> CatalogResult:
    """Merge the sources under `data` and the `mapped` files ((path, {field: column}) pairs) into
    the catalog file `out` (+ its quarantine file)."""
    from reelvec.ingest.catalog import build_catalog, write_catalog

    t0 = time.perf_counter()
    cat, report = build_catalog(Path(data) if data is not None else None, progress=progress, mapped=mapped)
    qpath = write_catalog(cat, report, Path(out))
    return CatalogResult(cat, report, Path(out), qpath, time.perf_counter() - t0)


def fetch_posters(catalog_path: Path, cache: Path, config: Any = None, scope: str = "linked", limit: int | None = None,
                  progress: bool = False) -> dict:
    """Download the catalog's poster URLs into `cache`; returns the outcome counts."""
    from reelvec.ingest.catalog import Catalog, select_movies
    from reelvec.ingest.posters import FetchConfig, summarise
    from reelvec.ingest.posters import fetch_posters as fetch

    movies = select_movies(Catalog.load(Path(catalog_path)), scope, limit)
    items = [(m.key, m.poster) for m in movies if m.poster]
    outcomes = fetch(items, cache, config or FetchConfig(), progress=progress)
    return summarise(outcomes) | {"cache": str(cache)}


@dataclass
class EncodeResult:
    features: Features
    path: Path
    movies: int

    def summary(self) -> dict:
        f = self.features
        return f.stats | {"movies": self.movies, "with_image": int(f.has_image.sum()), "features": str(self.path),
                          "text_version": f.text_version, "image_version": f.image_version}


def encode(catalog_path: Path, cache_dir: Path, posters: Path | None = None, out: Path | None = None,
           scope: str = "linked", limit: int | None = None, text_precision: str = "auto",
           image_precision: str = "auto", progress: bool = False,
           text_max_tokens: int | None = BUILD_TEXT_TOKENS, device: str = "auto",
           text_profile: str = "minilm") -> EncodeResult:
    """Text and poster vectors for the catalog through the feature cache in `cache_dir`; unreadable
    posters are listed in ``encode.quarantine.jsonl`` beside the features file."""
    from reelvec.encoders import EncoderSpec, FeatureCache, create
    from reelvec.encoders.pipeline import encode_catalog
    from reelvec.ingest.catalog import Catalog, select_movies
    from reelvec.ingest.quarantine import Rejection, write_quarantine

    cache_dir = Path(cache_dir)
    movies = select_movies(Catalog.load(Path(catalog_path)), scope, limit)
    from reelvec.encoders import TEXT_PROFILES

    text = create(EncoderSpec(TEXT_PROFILES[text_profile], precision=text_precision,
                              artifact_dir=str(cache_dir / "artifacts"),
                              max_tokens=text_max_tokens, device=device))
    image = create(EncoderSpec("mobilenet_v2", precision=image_precision, artifact_dir=str(cache_dir / "artifacts"),
                               device=device))
    out = Path(out) if out else cache_dir / "features.npz"
    with FeatureCache(cache_dir) as cache:
        cache.lock()
        feats = encode_catalog(movies, text, image, cache, posters_dir=Path(posters) if posters else None,
                               progress=progress)
    feats.save(out)
    bad = [Rejection("posters", m.poster or m.key, s, m.key) for m, s in zip(movies, feats.image_status)
           if s.startswith("unreadable")]
    write_quarantine(out.with_name("encode.quarantine.jsonl"), bad)
    return EncodeResult(feats, out, len(movies))
