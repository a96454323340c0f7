"""Poster image validation and normalisation, shared by the fetcher and the image encoder.

Every poster goes through `load_poster`: format allow-list, decompression-bomb guard, full decode
(truncated files fail here, not deep inside a model), EXIF orientation applied, and any mode
(CMYK, P with transparency, RGBA, LA, 16-bit) converted to upright 8-bit RGB.
"""
from __future__ import annotations

import io
import warnings
from pathlib import Path

from PIL import Image, ImageFile, ImageOps, UnidentifiedImageError

from reelvec.errors import IngestError

ALLOWED_FORMATS = frozenset({"JPEG", "PNG", "WEBP", "GIF"})
MAX_PIXELS = 40_000_000  # posters are < 1 MP; a 30000x30000 "poster" is an attack, not art
MAX_BYTES = 32 * 1024 * 1024  # read at most this much of a file given as a poster (/dev/zero is not one)


class BadImageError(IngestError):
    """An image that is not a usable poster; the message says why."""


def _open_checked(data: bytes, max_pixels: int) -> Image.Image:
    # Pillow's bomb check reads a module global; temporarily lower it and make its warning fatal
    old = Image.MAX_IMAGE_PIXELS
    Image.MAX_IMAGE_PIXELS = max_pixels // 2  # warning at > limit, error at > 2x limit
    ImageFile.LOAD_TRUNCATED_IMAGES = False
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("error", Image.DecompressionBombWarning)
            img = Image.open(io.BytesIO(data))
            if img.format not in ALLOWED_FORMATS:
                raise BadImageError(f"format {img.format or 'unknown'} not allowed (JPEG, PNG, WebP, GIF)")
            if img.width * img.height > max_pixels:
                raise BadImageError(f"image is {img.width}x{img.height}, over the {max_pixels} pixel limit")
            img.verify()  # structure check; the object is unusable afterwards
            img = Image.open(io.BytesIO(data))
            return img
    except (Image.DecompressionBombWarning, Image.DecompressionBombError) as exc:
        raise BadImageError(f"decompression bomb: {exc}") from exc
    finally:
        Image.MAX_IMAGE_PIXELS = old


def load_poster(source: bytes | str | Path, draft_size: tuple[int, int] | None = None,
                max_pixels: int = MAX_PIXELS) -> Image.Image:
    """Decode and normalise a poster to upright 8-bit RGB; raise BadImageError saying why not.

    `draft_size` lets JPEG decode at a reduced scale (DCT scaling) when the image is much larger
    than the model needs — far cheaper than decoding in full and resizing.
    """
    if isinstance(source, (str, Path)):
        try:
            with open(source, "rb") as fh:
                data = fh.read(MAX_BYTES + 1)
        except OSError as exc:
            raise BadImageError(f"cannot read poster {source}: {exc.strerror}") from exc
    else:
        data = source
    if len(data) > MAX_BYTES:
        raise BadImageError(f"over {MAX_BYTES // (1024 * 1024)} MB; not a poster")
    if not data:
        raise BadImageError("empty file")
    try:
        img = _open_checked(data, max_pixels)
        if img.format == "GIF":
            img.seek(0)
        if draft_size and img.format == "JPEG":
            img.draft("RGB", draft_size)
        img.load()  # full decode: truncated data raises here
        img = ImageOps.exif_transpose(img)
        return to_rgb(img)
    except BadImageError:
        raise
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError) as exc:
        raise BadImageError(f"undecodable image: {exc}") from exc


def to_rgb(img: Image.Image) -> Image.Image:
    """Any Pillow mode -> RGB; transparency is composited on white (posters have no alpha)."""
    if img.mode == "RGB":
        return img
    if img.mode in ("I;16", "I;16B", "I;16L", "I"):
        img = img.point(lambda v: v / 256).convert("L")
    if img.mode == "P":
        img = img.convert("RGBA") if "transparency" in img.info else img.convert("RGB")
    if img.mode in ("RGBA", "LA", "PA"):
        rgba = img.convert("RGBA")
        bg = Image.new("RGB", rgba.size, (255, 255, 255))
        bg.paste(rgba, mask=rgba.getchannel("A"))
        return bg
    return img.convert("RGB")
