"""A static, self-contained HTML page of one query's results: the query poster and a grid of
result posters with titles, scores and explanations. Posters are embedded as small JPEG data
URIs so the page can be mailed or opened anywhere."""
from __future__ import annotations

import base64
import html
import io
from collections.abc import Sequence
from pathlib import Path


def _thumb(poster: str | None, width: int = 180, fetched: dict[str, str] | None = None) -> str | None:
    """A data URI of the poster (so the page works offline): a local file, or the file the poster
    fetcher cached for a remote URL; a remote poster nobody fetched stays a link."""
    if poster and poster.startswith(("http://", "https://")):
        if not fetched or poster not in fetched or not Path(fetched[poster]).is_file():
            return poster
        poster = fetched[poster]
    if not poster:
        return None
    try:
        from reelvec.ingest.images import BadImageError, load_poster

        img = load_poster(poster)
    except (BadImageError, OSError):
        return None
    img.thumbnail((width, int(width * 1.6)))
    buf = io.BytesIO()
    img.save(buf, "JPEG", quality=85)
    return "data:image/jpeg;base64," + base64.b64encode(buf.getvalue()).decode()


def render_results(title: str, query_poster: str | None, hits: Sequence, subtitle: str = "",
                   fetched: dict[str, str] | None = None) -> str:
    esc = html.escape
    cards = []
    for i, h in enumerate(hits, 1):
        src = _thumb(h.poster, fetched=fetched)
        img = f'<img src="{esc(src)}" alt="poster of {esc(h.title)}">' if src else '<div class="noposter">no poster</div>'
        cards.append(
            f'<figure class="hit" data-rank="{i}" data-tmdb="{h.tmdb_id or ""}">{img}'
            f'<figcaption><b class="title">{esc(h.title)}</b> <span class="year">{h.year or ""}</span><br>'
            f'<span class="genres">{esc(", ".join(h.genres))}</span><br>'
            f'<span class="score">score {h.score:.3f}</span><br><span class="why">{esc(str(h.explanation))}</span>'
            "</figcaption></figure>")
    q = _thumb(query_poster, fetched=fetched)
    qimg = f'<img class="query" src="{esc(q)}" alt="query poster">' if q else ""
    return f"""<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>reelvec: {esc(title)}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 24px; background: #111; color: #eee; }}
header {{ display: flex; gap: 20px; align-items: center; }}
img.query {{ width: 160px; border: 3px solid #e33; }}
.grid {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(190px, 1fr)); gap: 16px; margin-top: 20px; }}
figure.hit {{ margin: 0; background: #222; padding: 8px; border-radius: 6px; }}
figure.hit img {{ width: 100%; border-radius: 4px; }}
.noposter {{ height: 260px; display: flex; align-items: center; justify-content: center; background: #333; }}
.why {{ color: #aaa; font-size: 12px; }} .score {{ color: #fc6; }}
</style></head><body>
<header>{qimg}<div><h1>{esc(title)}</h1><p>{esc(subtitle)}</p></div></header>
<section class="grid">
{chr(10).join(cards)}
</section></body></html>
"""


def write_results_page(path: str | Path, title: str, query_poster: str | None, hits: Sequence, subtitle: str = "",
                       fetched: dict[str, str] | None = None) -> Path:
    """Write the page; `fetched` (poster URL -> cached file, `fetched_posters(home/posters)`)
    embeds remote posters the home has fetched, so the page opens offline."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(render_results(title, query_poster, hits, subtitle, fetched), encoding="utf-8")
    return path
