"""Encode a catalog: text and poster vectors for every movie, through the feature cache.

Only cache misses reach a model. Poster decoding runs in a thread pool one chunk ahead of the
model (Pillow and ONNX Runtime release the GIL), so decoding is off the critical path.
"""
from __future__ import annotations

import time
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reelvec.encoders.cache import FeatureCache, sha256_text
from reelvec.errors import EncoderError
from reelvec.fsutil import atomic_open
from reelvec.ingest.images import BadImageError, load_poster
from reelvec.ingest.movie import Movie
from reelvec.ingest.prep import build_description

CHUNK = 256  # texts per cache write
IMAGE_CHUNK = 64  # posters decoded ahead of the model: bounds memory (64 x 600 KB)


@dataclass
class Features:
    """Per-movie vectors in catalog order. Movies without a usable poster have ``has_image``
    False and a NaN image row (never zeros, so accidental use shows up at once)."""

    keys: list[str]
    text: np.ndarray
    image: np.ndarray
    has_image: np.ndarray
    text_version: str
    image_version: str
    image_status: list[str] = field(default_factory=list)
    stats: dict = field(default_factory=dict)

    def save(self, path: Path) -> None:
        with atomic_open(path, "wb") as fh:
            np.savez(fh, keys=np.array(self.keys), text=self.text, image=self.image, has_image=self.has_image,
                     text_version=self.text_version, image_version=self.image_version,
                     image_status=np.array(self.image_status))

    @classmethod
    def load(cls, path: Path) -> Features:
        try:
            z = np.load(path, allow_pickle=False)
        except (OSError, ValueError) as exc:
            raise EncoderError(f"cannot read features {path}: {exc}; rerun `reelvec encode`") from exc
        return cls(keys=[str(k) for k in z["keys"]], text=z["text"], image=z["image"], has_image=z["has_image"],
                   text_version=str(z["text_version"]), image_version=str(z["image_version"]),
                   image_status=[str(s) for s in z["image_status"]])

    def index(self) -> dict[str, int]:
        return {k: i for i, k in enumerate(self.keys)}


def fetched_posters(folder: Path | None) -> dict[str, str]:
    """URL -> cached file, from a `reelvec fetch-posters` cache (empty if there is none)."""
    if folder is None or not (Path(folder) / "ledger.sqlite").exists():
        return {}
    from reelvec.ingest.posters import PosterLedger

    ledger = PosterLedger(Path(folder) / "ledger.sqlite")
    try:
        return ledger.done_paths()
    finally:
        ledger.close()


def poster_path(movie: Movie, posters_dir: Path | None = None, fetched: dict[str, str] | None = None) -> Path | None:
    """Where a movie's poster bytes are on disk: its local file, a file the poster fetcher
    cached for its URL, or `<posters_dir>/<tmdbId>.jpg`; None when there is none."""
    if movie.poster and not movie.poster.startswith(("http://", "https://")):
        p = Path(movie.poster)
        if p.is_file():
            return p
    if movie.poster and fetched and movie.poster in fetched and Path(fetched[movie.poster]).is_file():
        return Path(fetched[movie.poster])
    if posters_dir is not None and movie.tmdb_id is not None:
        p = Path(posters_dir) / f"{movie.tmdb_id}.jpg"
        if p.is_file():
            return p
    return None


def _progress(total: int, desc: str, enabled: bool):
    from tqdm import tqdm

    return tqdm(total=total, desc=desc, unit="item", disable=not enabled, smoothing=0.1)


def encode_texts(texts: Sequence[str], encoder, cache: FeatureCache | None, progress: bool = False) -> tuple[np.ndarray, dict]:
    shas = [sha256_text(t) for t in texts]
    if cache is not None:
        out, hit = cache.get_many("text", encoder.version, shas, encoder.dim)
    else:
        out, hit = np.zeros((len(texts), encoder.dim), np.float32), np.zeros(len(texts), bool)
    miss = np.flatnonzero(~hit)
    # longest first over the whole set (not per chunk), so every batch holds texts of about one
    # length: less padding, same vectors
    miss = miss[np.argsort([-len(texts[i]) for i in miss], kind="stable")]
    bar = _progress(len(miss), "encode text", progress and len(miss) > 0)
    for s in range(0, len(miss), CHUNK):
        idx = miss[s:s + CHUNK]
        vecs = encoder.encode([texts[i] for i in idx])
        out[idx] = vecs
        if cache is not None:
            cache.put_many("text", encoder.version, [shas[i] for i in idx], vecs)
            out[idx] = vecs.astype(np.float16).astype(np.float32)  # what a warm rerun will serve
        bar.update(len(idx))
    bar.close()
    return out, {"text_cached": int(hit.sum()), "text_computed": int(len(miss))}


def _decode(path: Path, encoder) -> np.ndarray | str:
    try:
        img = load_poster(path, draft_size=(256, 256))
        return encoder.preprocess(img)
    except BadImageError as exc:
        return f"unreadable: {exc}"


def encode_posters(paths: Sequence[Path | None], encoder, cache: FeatureCache | None, progress: bool = False,
                   workers: int = 2) -> tuple[np.ndarray, np.ndarray, list[str], dict]:
    n = len(paths)
    out = np.full((n, encoder.dim), np.nan, np.float32)
    has = np.zeros(n, bool)
    status = ["no poster"] * n
    shas: list[str | None] = [None] * n
    for i, p in enumerate(paths):
        if p is None:
            continue
        try:
            shas[i] = cache.file_sha(p) if cache is not None else None
        except OSError as exc:
            status[i] = f"unreadable: {exc.strerror}"
            continue
        status[i] = "pending"
    todo = [i for i in range(n) if status[i] == "pending"]
    if cache is not None and todo:
        vecs, hit = cache.get_many("image", encoder.version, [shas[i] for i in todo], encoder.dim)
        for j, i in enumerate(todo):
            if hit[j]:
                out[i], has[i], status[i] = vecs[j], True, "ok"
        cache.commit()
    miss = [i for i in todo if status[i] == "pending"]
    bar = _progress(len(miss), "encode posters", progress and len(miss) > 0)
    chunks = [miss[s:s + IMAGE_CHUNK] for s in range(0, len(miss), IMAGE_CHUNK)]
    failed = 0
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending = [pool.submit(_decode, paths[i], encoder) for i in chunks[0]] if chunks else []
        for c, chunk in enumerate(chunks):
            decoded = [f.result() for f in pending]
            pending = [pool.submit(_decode, paths[i], encoder) for i in chunks[c + 1]] if c + 1 < len(chunks) else []
            good = [(i, d) for i, d in zip(chunk, decoded) if not isinstance(d, str)]
            for i, d in zip(chunk, decoded):
                if isinstance(d, str):
                    status[i] = d
                    failed += 1
            if good:
                vecs = encoder.encode_arrays(np.stack([d for _, d in good]))
                if cache is not None:
                    cache.put_many("image", encoder.version, [shas[i] for i, _ in good], vecs)
                    vecs = vecs.astype(np.float16).astype(np.float32)
                for (i, _), v in zip(good, vecs):
                    out[i], has[i], status[i] = v, True, "ok"
            bar.update(len(chunk))
            bar.set_postfix(failed=failed)
    bar.close()
    return out, has, status, {
        "image_cached": len(todo) - len(miss), "image_computed": len(miss) - failed,
        "image_unreadable": sum(s.startswith("unreadable") for s in status), "image_missing": status.count("no poster"),
    }

def encode_catalog(movies: Sequence[Movie], text_encoder, image_encoder, cache: FeatureCache | None,
                   posters_dir: Path | None = None, progress: bool = False,
                   fetched: dict[str, str] | None = None) -> Features:
    """Text + poster vectors for every movie (catalog order); see `Features`."""
    t0 = time.perf_counter()
    texts = [build_description(m) for m in movies]
    text, tstats = encode_texts(texts, text_encoder, cache, progress)
    t1 = time.perf_counter()
    if fetched is None and posters_dir is not None:
        fetched = fetched_posters(posters_dir)
    paths = [poster_path(m, posters_dir, fetched) for m in movies]
    image, has, status, istats = encode_posters(paths, image_encoder, cache, progress)
    t2 = time.perf_counter()
    if cache is not None:
        cache.commit()
    stats = tstats | istats | {"text_seconds": round(t1 - t0, 2), "image_seconds": round(t2 - t1, 2),
                               "corrupt_recomputed": cache.corrupt_seen if cache else 0}
    return Features(keys=[m.key for m in movies], text=text, image=image, has_image=has,
                    text_version=text_encoder.version, image_version=image_encoder.version,
                    image_status=status, stats=stats)
