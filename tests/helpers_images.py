"""Images drawn with Pillow for tests (no poster files are copied from the data folder)."""
from __future__ import annotations

import io

from PIL import Image, ImageDraw


def drawn_poster(size=(182, 268), seed: int = 0) -> Image.Image:
    """A deterministic poster-like picture: gradient sky, a sun, a title bar."""
    w, h = size
    img = Image.new("RGB", size)
    px = img.load()
    for y in range(h):
        for x in range(w):
            px[x, y] = ((x * 255) // w, (y * 255) // h, (seed * 40 + 90) % 256)
    d = ImageDraw.Draw(img)
    d.ellipse([w // 4, h // 6, w // 4 + w // 3, h // 6 + w // 3], fill=(250, 220, 40))
    d.rectangle([0, h - h // 5, w, h], fill=(20, 20, 20))
    d.text((10, h - h // 7), "REELVEC", fill=(255, 255, 255))
    return img


def jpeg_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=90, **kw)
    return buf.getvalue()


def png_bytes(img: Image.Image, **kw) -> bytes:
    buf = io.BytesIO()
    img.save(buf, "PNG", **kw)
    return buf.getvalue()
