"""A small client for `reelvec serve`: the Engine's query methods over HTTP, returning the same
`Hit` objects. Standard library only, so a service's callers need nothing else installed.

    client = reelvec.connect("http://127.0.0.1:8080", api_key="...")
    client.similar("Alien", k=5, genres=["Horror"])
"""
from __future__ import annotations

import json
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Sequence
from pathlib import Path

from reelvec.errors import SearchError, StoreError, UnknownMovieError
from reelvec.search.engine import Explanation, Hit


def _hit(d: dict, base: str = "") -> Hit:
    """A hit of the service as a `Hit`; its poster is the service's ``poster_url`` (made absolute)."""
    e = d.get("explanation") or {}
    known = set(Explanation.__dataclass_fields__)
    expl = Explanation(**{k: (tuple(v) if isinstance(v, list) else v) for k, v in e.items() if k in known})
    poster = d.get("poster_url")
    if isinstance(poster, str) and poster.startswith("/"):
        poster = base + poster
    return Hit(d.get("tmdb_id"), d.get("title", "?"), d.get("year"), tuple(d.get("genres", [])), float(d["score"]),
               expl, d.get("key", ""), poster, d.get("series"), d.get("director"), d.get("overview"),
               d.get("tmdb_url"), d.get("imdb_url"))


class Client:
    """The search API of a running `reelvec serve`.

    Args:
        url: the service, e.g. ``http://127.0.0.1:8080``.
        api_key: sent as ``X-API-Key`` when the service asks for one.
        timeout: seconds per request.

    Every method raises `UnknownMovieError` (404), `SearchError` (400/413/429) or `StoreError`
    (401, 5xx, unreachable), with the service's message.
    """

    def __init__(self, url: str, api_key: str | None = None, timeout: float = 30.0):
        self.url, self.api_key, self.timeout = url.rstrip("/"), api_key, timeout

    def _call(self, method: str, path: str, body: dict | bytes | None = None, query: dict | None = None):
        url = self.url + path + ("?" + urllib.parse.urlencode(query, doseq=True) if query else "")
        data = body if isinstance(body, bytes) or body is None else json.dumps(body).encode()
        headers = {"Content-Type": "application/octet-stream" if isinstance(body, bytes) else "application/json"}
        if self.api_key:
            headers["X-API-Key"] = self.api_key
        req = urllib.request.Request(url, data=data, method=method, headers=headers)
        try:
            with urllib.request.urlopen(req, timeout=self.timeout) as resp:
                return json.loads(resp.read())
        except urllib.error.HTTPError as exc:
            try:
                err = json.loads(exc.read())
            except ValueError:
                err = {"error": exc.reason}
            msg = f"reelvec service {self.url}: {err.get('error')}"
            if exc.code == 404:
                raise UnknownMovieError(msg, [tuple(c) for c in err.get("candidates", [])]) from exc
            if exc.code in (400, 403, 413, 429):
                raise SearchError(msg) from exc
            raise StoreError(f"{msg} (HTTP {exc.code})") from exc
        except (urllib.error.URLError, OSError) as exc:
            raise StoreError(f"reelvec service {self.url} is unreachable ({exc}); is `reelvec serve` running?") from exc

    def health(self) -> dict:
        return self._call("GET", "/health")

    def info(self) -> dict:
        return self._call("GET", "/info")

    def movie(self, movie: int | str) -> dict:
        return self._call("GET", "/movies/" + urllib.parse.quote(str(movie), safe=""))

    def query_info(self, movie: int | str) -> dict:
        """Which film a title names (`Engine.query_info`): id, key, title, year, how, also."""
        return self._call("GET", "/resolve", None, {"movie": movie})

    def similar(self, movie: int | str, k: int = 10, weights: dict | None = None, mode: str | None = None,
                **options) -> list[Hit]:
        """`Engine.similar` over HTTP: the same options (offset, exclude, exclude_series, group_by,
        diversity) and filters."""
        if "exclude" in options:
            options["exclude"] = list(options["exclude"])
        body = {"movie": movie, "k": k, **options} | ({"weights": weights} if weights else {}) | (
            {"mode": mode} if mode else {})
        return [_hit(h, self.url) for h in self._call("POST", "/similar", body)["hits"]]

    def search_text(self, text: str, k: int = 10, **options) -> list[Hit]:
        """`Engine.search_text` over HTTP (the same options and filters)."""
        if "exclude" in options:
            options["exclude"] = list(options["exclude"])
        return [_hit(h, self.url) for h in self._call("POST", "/search", {"text": text, "k": k, **options})["hits"]]

    def search_image(self, image: str | Path | bytes, k: int = 10, **filters) -> list[Hit]:
        data = image if isinstance(image, bytes) else Path(image).read_bytes()
        return [_hit(h, self.url) for h in self._call("POST", "/search/image", data, {"k": k, **filters})["hits"]]

    def recommend(self, positive: Sequence[int | str], negative: Sequence[int | str] = (), k: int = 10,
                  **filters) -> list[Hit]:
        body = {"positive": list(positive), "negative": list(negative), "k": k, **filters}
        return [_hit(h, self.url) for h in self._call("POST", "/recommend", body)["hits"]]

    def for_history(self, history: Sequence, k: int = 10, exclude_seen: bool = True, **filters) -> list[Hit]:
        items = [list(h) if isinstance(h, tuple) else h for h in history]
        body = {"history": items, "k": k, "exclude_seen": exclude_seen, **filters}
        return [_hit(h, self.url) for h in self._call("POST", "/next", body)["hits"]]

    def upsert(self, movies) -> list[str]:
        """Add or replace movies live (`Engine.upsert`); the service must run with --allow-edits."""
        movies = [movies] if isinstance(movies, dict) else list(movies)
        return self._call("POST", "/movies", {"movies": movies})["written"]

    def delete(self, movies) -> list[str]:
        """Delete movies live (`Engine.delete`: TMDB ids, keys or exact titles); needs --allow-edits."""
        items = [movies] if isinstance(movies, (str, int)) else list(movies)
        return [k for m in items for k in self._call("DELETE", "/movies/" + urllib.parse.quote(str(m), safe=""))["deleted"]]

    def close(self) -> None:
        """Nothing to release (one connection per request); here for symmetry with `Engine`."""

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


__all__ = ["Client"]
