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
    part: tuple[int, int] | None = None
    absorbed: int = 0
    waiting: tuple[str, ...] = ()  # parts still being written when this one absorbed the others

    def summary(self) -> dict:
        f = self.features
        out = f.stats | {"movies": self.movies, "with_image": int(f.has_image.sum()), "features": str(self.path),
                         "text_version": f.text_version, "image_version": f.image_version}
        if self.part:
            out["part_folder"] = out.pop("features")
            out |= {"part": f"{self.part[0]}/{self.part[1]}",
                    "next": "when every part is done: `reelvec encode` (or `reelvec build`) without --part "
                            "absorbs them and encodes what is left"}
        else:
            out["absorbed_from_parts"] = self.absorbed  # rows: text and poster vectors
            if self.waiting:
                out["parts_still_running"] = list(self.waiting)
        return out


def parse_part(text: str) -> tuple[int, int]:
    """``"2/4"`` -> (2, 4): the second of four processes sharing an encode."""
    import re

    from reelvec.encoders.cache import MAX_PARTS
    from reelvec.errors import EncoderError

    got = re.fullmatch(r"\s*([0-9]+)\s*/\s*([0-9]+)\s*", text)
    if got is None:
        raise EncoderError(f"--part {text!r}: expected I/N, e.g. 2/4 (the 2nd of 4 processes)")
    i, n = int(got[1]), int(got[2])
    if not 1 <= i <= n:
        raise EncoderError(f"--part {text!r}: I must be between 1 and N (e.g. 1/4 .. 4/4)")
    if n > MAX_PARTS:
        raise EncoderError(f"--part {text!r}: at most {MAX_PARTS:,} parts")
    return i, n


def encode(catalog_path: Path, cache_dir: Path, posters: Path | None = None, out: Path | None = None,
           scope: str = "linked", limit: int | None = None, text_precision: str = "auto",
           image_precision: str = "auto", progress: bool = False,
           text_max_tokens: int | None = BUILD_TEXT_TOKENS, device: str = "auto",
           text_profile: str = "minilm", part: tuple[int, int] | None = None) -> EncodeResult:
    """Text and poster vectors for the catalog through the feature cache in `cache_dir`; unreadable
    posters are listed in ``encode.quarantine.jsonl`` beside the features file.

    `part` (i, n): encode only every n-th movie from the i-th, into the cache's part folder
    (`encoders.cache.part_folder`), so n processes (or machines sharing the folder) encode at
    once; no features file is written. Without it, the parts found are absorbed first."""
    from reelvec.encoders import TEXT_PROFILES, EncoderSpec, FeatureCache, create
    from reelvec.encoders.cache import part_folder
    from reelvec.encoders.pipeline import encode_catalog
    from reelvec.ingest.catalog import Catalog, select_movies
    from reelvec.ingest.quarantine import Rejection, write_quarantine

    cache_dir = Path(cache_dir)
    movies = select_movies(Catalog.load(Path(catalog_path)), scope, limit)
    if part is not None:
        movies = movies[part[0] - 1::part[1]]
    text = create(EncoderSpec(TEXT_PROFILES[text_profile], precision=text_precision,
                              artifact_dir=str(cache_dir / "artifacts"),
                              max_tokens=text_max_tokens, device=device))
    image = create(EncoderSpec("mobilenet_v2", precision=image_precision, artifact_dir=str(cache_dir / "artifacts"),
                               device=device))
    folder = part_folder(cache_dir, *part) if part else cache_dir
    absorbed, waiting = 0, []
    with FeatureCache(folder, fallback=FeatureCache(cache_dir) if part else None) as cache:
        cache.lock()
        if part is None:
            absorbed, waiting = cache.absorb_parts()
        feats = encode_catalog(movies, text, image, cache, posters_dir=Path(posters) if posters else None,
                               progress=progress)
    if part is not None:
        return EncodeResult(feats, folder, len(movies), part)
    out = Path(out) if out else cache_dir / "features.npz"
    feats.save(out)
    bad = [Rejection("posters", m.poster or m.key, s, m.key) for m, s in zip(movies, feats.image_status)
           if s.startswith("unreadable")]
    write_quarantine(out.with_name("encode.quarantine.jsonl"), bad)
    return EncodeResult(feats, out, len(movies), absorbed=absorbed, waiting=tuple(waiting))
