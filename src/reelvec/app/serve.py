"""`reelvec serve`: the search API over HTTP, models loaded once.

aiohttp, not FastAPI/uvicorn: it is already a dependency (the poster fetcher runs on it), so the
service adds no server package; requests are validated by the pydantic models of
`reelvec.app.schema`, which also generate the OpenAPI document. One event loop answers the vector
queries inline (about a millisecond on published copies); the text/poster encoders run in one
worker thread, recommend/next in two (with a deadline), resized posters in one.

Endpoints (JSON in, JSON out; filters as in the Python API: genres, genres_all, exclude_genres,
years, after, before, languages):

    GET  /health                      liveness + the collection served
    GET  /info                        collection, points, vectors, model versions
    GET  /movies/{movie}              one movie's payload (TMDB id or title)
    GET  /posters/{movie}?w=185       a movie's poster (ETag, Cache-Control; w in 92 154 185 342 500 780)
    GET  /resolve?movie=Heat          which film a title names (id, key, title, year, how, also)
    GET  /similar?movie=Alien&k=10&mode=similar&genres=Horror&after=1990
    POST /similar     {"movie": "Alien", "k": 10, "mode": "also-liked", "genres": [...], ...}
    POST /search      {"text": "a heist comedy in paris", "k": 10, ...}
    POST /search/image?k=10           the image bytes as the body
    POST /recommend   {"positive": [603, "Alien"], "negative": ["Titanic"], "k": 10, ...}
    POST /next        {"history": ["Alien", ["Aliens", 4.5]], "k": 10, "exclude_seen": true, ...}
    GET  /openapi.json                this API as OpenAPI 3.1 (from the typed schema, app/schema.py)
    POST /movies      {"movies": [{"id": "sku-1", "title": "...", ...}]}   live add/replace (--allow-edits)
    DELETE /movies/{movie}            live delete by TMDB id, key or exact title (--allow-edits)

`/similar`, `/recommend` and `/next` answers carry ``query``: the movie(s) the request resolved
to, and the other films an exact title shared by several names (``also``), as `GET /resolve`
gives them. `/similar` and `/search` take ``offset``, ``exclude``, ``group_by`` and ``diversity``
(`/similar` also ``exclude_series``).

Errors: 400 bad input, 401 missing/wrong API key, 403 edits not allowed or a foreign Origin, 404
unknown movie (with candidates) or route, 405 method, 413 body too large, 415 an edit that is not
JSON, 429 over the rate limit or too many wrong keys (with Retry-After), 503 store unavailable or
past the deadline (with Retry-After). Each body is ``{"error": "...", "candidates": [...]}``.
"""
from __future__ import annotations

import asyncio
import hmac
import json
import logging
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from reelvec.app.schema import (
    MAX_MOVIES,
    EditRequest,
    ImageSearchRequest,
    NextRequest,
    PosterRequest,
    RecommendRequest,
    ResolveRequest,
    SearchRequest,
    SimilarRequest,
    openapi_spec,
    parse,
)
from reelvec.errors import ReelvecError, SearchError, StoreError, UnknownMovieError
from reelvec.locks import LockedError

logger = logging.getLogger(__name__)

MAX_QUERY_BODY = 256 * 1024  # bytes of a query's JSON body (edits may use the whole --max-body)
KEY_FAILURES_PER_MINUTE = 20  # wrong API keys one client may send (then 429 until they refill)
MAX_DEPTH = 32  # JSON nesting of a request body (a movie record nests 3 deep)
DEADLINE = 10.0  # seconds a query may run before its answer is a 503 (it runs off the event loop)


def _too_deep(raw: bytes, limit: int = MAX_DEPTH) -> bool:
    """Does a JSON text nest arrays/objects deeper than `limit`? (Brackets inside strings do not
    count; checked on the bytes before parsing, so a 100k-deep body costs no recursion.)"""
    import re

    depth = 0
    for tok in re.finditer(rb'"(?:[^"\\]|\\.)*"|[\[{]|[\]}]', raw):
        c = tok.group()[:1]
        if c in (b"[", b"{"):
            depth += 1
            if depth > limit:
                return True
        elif c in (b"]", b"}"):
            depth -= 1
    return False


@dataclass(frozen=True)
class ServeConfig:
    host: str = "127.0.0.1"
    port: int = 8080
    api_key: str | None = None  # None: no key needed
    max_body: int = 8 * 1024 * 1024  # bytes; posters are far smaller
    rate: float = 200.0  # requests per second per client address (token bucket); 0 = no limit
    burst: int = 400
    allow_edits: bool = False  # POST /movies and DELETE /movies/{movie} (live edits); off by default
    workers: int = 1  # processes answering on the same port; each has its own limits and cache
    cache: int = 4096  # answers kept per worker (LRU, by request and data generation); 0 = none
    edit_wait: float = 30.0  # seconds a live edit waits for another writer (a build's swap) before a 503
    cors: tuple[str, ...] = ()  # web origins whose pages may send edits (others are refused)


class RateLimiter:
    """A token bucket per client address."""

    def __init__(self, rate: float, burst: int, clock: Callable[[], float] = time.monotonic):
        self.rate, self.burst, self.clock = rate, burst, clock
        self.buckets: dict[str, tuple[float, float]] = {}

    def tokens(self, who: str) -> float:
        """The tokens `who` has now (nothing is spent)."""
        if self.rate <= 0:
            return float("inf")
        tokens, last = self.buckets.get(who, (float(self.burst), self.clock()))
        return min(float(self.burst), tokens + (self.clock() - last) * self.rate)

    def allow(self, who: str) -> float:
        """0 when allowed, else the seconds to wait."""
        if self.rate <= 0:
            return 0.0
        now = self.clock()
        tokens, last = self.buckets.get(who, (float(self.burst), now))
        tokens = min(float(self.burst), tokens + (now - last) * self.rate)
        if tokens >= 1.0:
            self.buckets[who] = (tokens - 1.0, now)
            return 0.0
        self.buckets[who] = (tokens, now)
        return (1.0 - tokens) / self.rate


class AnswerCache:
    """Finished answers of read-only queries (their JSON bodies), by request and by the state of
    the data they were computed from: the collection the alias points at and its generation, so
    a reindex, a rollback or a live edit retires every older answer at once. Least recently
    used answers leave first. Without a generation to key on (a Qdrant server, which other
    processes may edit) nothing is kept."""

    def __init__(self, entries: int):
        from collections import OrderedDict

        self.entries = entries
        self._answers: OrderedDict = OrderedDict()
        self.hits = self.misses = 0

    def __len__(self) -> int:
        return len(self._answers)

    def get(self, key) -> bytes | None:
        body = self._answers.get(key)
        if body is None:
            self.misses += 1
            return None
        self._answers.move_to_end(key)
        self.hits += 1
        return body

    def put(self, key, body: bytes) -> None:
        self._answers[key] = body
        self._answers.move_to_end(key)
        while len(self._answers) > self.entries:
            self._answers.popitem(last=False)




def public(record: dict) -> dict:
    """A hit or payload as the service shows it: never a path on the server's disk. A local poster
    becomes ``poster_url`` = ``/posters/{key}`` (served by the service); a remote one is its URL."""
    from urllib.parse import quote

    out = dict(record)
    poster = out.pop("poster", None)
    out.pop("poster_is_local", None)
    if isinstance(poster, str) and poster:
        out["poster_url"] = poster if poster.startswith(("http://", "https://")) else \
            "/posters/" + quote(str(out.get("key") or out.get("tmdb_id")), safe="")
    else:
        out["poster_url"] = None
    return out


def _hits(hits) -> dict:
    return {"hits": [public(h.to_dict()) for h in hits]}


def poster_bytes(path: str, width: int | None) -> bytes:
    """A local poster file, or a JPEG of it `width` pixels wide."""
    from pathlib import Path

    data = Path(path).read_bytes()
    if width is None:
        return data
    import io

    from reelvec.ingest.images import load_poster

    img = load_poster(data)
    img.thumbnail((width, width * 3))
    out = io.BytesIO()
    img.save(out, "JPEG", quality=85)
    return out.getvalue()


def _flag(value: str, key: str) -> bool:
    if value.lower() in ("1", "true", "yes"):
        return True
    if value.lower() in ("0", "false", "no"):
        return False
    raise SearchError(f"{key} must be true or false, got {value[:40]!r}")


LIST_PARAMS = {"genres", "genres_all", "exclude_genres", "languages", "exclude", "years"}
INT_PARAMS = {"after", "before", "k", "offset", "w"}
FLOAT_PARAMS = {"diversity"}
FLAG_PARAMS = {"exclude_series", "exclude_seen"}


def _query_params(query) -> dict:
    """?movie=Alien&k=5&genres=Horror&genres=Comedy&after=1990 -> a request body (typed as the
    schema's models read it: repeated names are lists, numbers and flags parsed)."""
    body: dict = {}
    for key in set(query):
        vals = query.getall(key)
        last = vals[-1]
        try:
            if key in LIST_PARAMS:
                body[key] = [int(v) for v in vals] if key == "years" else vals
            elif key in INT_PARAMS:
                body[key] = int(last)
            elif key in FLOAT_PARAMS:
                body[key] = float(last)
            elif key in FLAG_PARAMS:
                body[key] = _flag(last, key)
            else:
                body[key] = last
        except ValueError as exc:
            kind = "an integer" if key in INT_PARAMS or key == "years" else "a number"
            raise SearchError(f"{key} must be {kind}, got {last[:40]!r}") from exc
    return body


def make_app(engine, config: ServeConfig = ServeConfig()):
    """The aiohttp application over an open `Engine`."""
    from aiohttp import web

    from reelvec.jsonutil import dumps

    def reply(data, status: int = 200, headers: dict | None = None):
        return web.Response(body=dumps(data), status=status, headers=headers, content_type="application/json")

    limiter = RateLimiter(config.rate, config.burst)
    failures = RateLimiter(KEY_FAILURES_PER_MINUTE / 60, KEY_FAILURES_PER_MINUTE)  # wrong keys per client
    if config.allow_edits:
        engine.write_wait = config.edit_wait  # an edit waits out a build's swap rather than fail at once
    encoders = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reelvec-encode")
    queries = ThreadPoolExecutor(max_workers=2, thread_name_prefix="reelvec-query")  # long lists, histories
    images = ThreadPoolExecutor(max_workers=1, thread_name_prefix="reelvec-poster")  # resized posters
    generation = getattr(engine.store, "generation", None)
    cache = AnswerCache(config.cache) if config.cache > 0 and generation is not None else None

    def cached(handler):
        """`handler`'s 200 answers kept in `cache` (the request's method, path, query and body, and
        the data's collection and generation, are the key)."""
        if cache is None or generation is None:
            return handler

        async def answer(request):
            coll = engine.collection
            key = (request.method, request.path, request.query_string, await request.read(), coll, generation(coll))
            body = cache.get(key)
            if body is not None:
                return web.Response(body=body, content_type="application/json")
            response = await handler(request)
            if response.status == 200 and isinstance(response.body, bytes):
                cache.put(key, response.body)
            return response
        return answer

    def error(status: int, message: str, **extra):
        return reply({"error": message, **extra}, status=status)

    def limited(wait: float):
        return reply({"error": "rate limit exceeded; slow down"}, status=429,
                     headers={"Retry-After": str(max(1, round(wait)))})

    def allowed_origin(request) -> str | None:
        origin = request.headers.get("Origin")
        return origin if origin is not None and origin in config.cors else None

    @web.middleware
    async def guard(request, handler):
        who = request.remote or "?"
        wait = limiter.allow(who)  # before the key check: wrong keys cannot be tried without limit
        if wait:
            return limited(wait)
        if request.method == "OPTIONS":  # a browser's preflight: answered before the key (it carries none)
            origin = allowed_origin(request)
            if origin is None:
                return error(403, "cross-origin requests are refused; start the service with --cors ORIGIN to allow a "
                                  "site")
            return web.Response(status=204, headers=cors_headers(origin) | {
                "Access-Control-Allow-Methods": "GET, POST, DELETE, OPTIONS",
                "Access-Control-Allow-Headers": "Content-Type, X-API-Key, Authorization", "Access-Control-Max-Age": "600"})
        if config.api_key and request.path not in ("/health", "/openapi.json") and not request.path.startswith("/posters/"):
            if failures.tokens(who) < 1:  # this client sent too many wrong keys lately
                return limited(60 / KEY_FAILURES_PER_MINUTE)
            given = request.headers.get("X-API-Key") or request.headers.get("Authorization", "").removeprefix("Bearer ")
            if not given or not hmac.compare_digest(given.encode("utf-8", "surrogateescape"), config.api_key.encode()):
                failures.allow(who)
                limiter.allow(who)  # a failed key costs double
                return error(401, "missing or wrong API key: send it as X-API-Key or Authorization: Bearer")
        origin = allowed_origin(request)
        response = await answer(request, handler)
        if origin is not None:
            response.headers.update(cors_headers(origin))
        return response

    def cors_headers(origin: str) -> dict:
        return {"Access-Control-Allow-Origin": origin, "Vary": "Origin"}

    async def answer(request, handler):
        try:
            return await handler(request)
        except UnknownMovieError as exc:
            return error(404, str(exc), candidates=[list(c) for c in exc.candidates])
        except LockedError as exc:  # another writer (a build's swap, a `reelvec add`) holds the home
            logger.warning("edit refused on %s: %s", request.path, exc)
            return reply({"error": "another writer holds the index (a build's swap or an edit); retry shortly"},
                         status=503, headers={"Retry-After": "5"})
        except StoreError as exc:
            logger.warning("store error on %s: %s", request.path, exc)  # the log has the path; the answer not
            return reply({"error": "the index is unavailable right now (the service's log says why); retry shortly"},
                         status=503, headers={"Retry-After": "5"})
        except SearchTooLarge as exc:
            return error(413, str(exc))
        except ReelvecError as exc:
            return error(400, str(exc))
        except web.HTTPRequestEntityTooLarge:
            return error(413, f"request body over {config.max_body} bytes")
        except web.HTTPException as exc:
            if exc.status < 400 or exc.content_type == "application/json":
                raise
            return reply({"error": exc.reason}, status=exc.status)  # 404, 405, ... as JSON too
        except TimeoutError:
            logger.warning("%s %s ran past its %s s deadline", request.method, request.path, DEADLINE)
            return reply({"error": f"the query took longer than {DEADLINE:g} s; narrow it (fewer movies, a smaller k)"},
                         status=503, headers={"Retry-After": "5"})
        except (TypeError, ValueError, OverflowError, RecursionError) as exc:
            return error(400, f"bad request: {str(exc)[:200]}")

    def cross_site(request):
        """An edit from a web page: refused unless JSON (a form or text/plain post is what a foreign
        page can send without asking) and from no foreign Origin (unless `--cors` lets it in)."""
        origin = request.headers.get("Origin")
        if origin is not None and origin not in config.cors:
            return error(403, f"edits from the web origin {origin[:100]!r} are refused; start the service with "
                              "--cors ORIGIN to allow that site")
        if request.method == "POST" and request.content_type != "application/json":
            return error(415, "send edits as Content-Type: application/json")
        return None

    async def off_loop(work):
        """Run `work` in the query threads (the event loop keeps answering /health and cheap
        queries meanwhile), giving up after `DEADLINE` seconds."""
        return await asyncio.wait_for(asyncio.get_running_loop().run_in_executor(queries, work), DEADLINE)

    async def body_of(request) -> dict:
        if request.method in ("GET", "HEAD"):
            return _query_params(request.query)
        raw = await request.read()
        if len(raw) > MAX_QUERY_BODY and not request.path.startswith("/movies"):
            raise SearchTooLarge(f"a query body of {len(raw):,} bytes; queries take at most {MAX_QUERY_BODY:,}")
        if _too_deep(raw):
            raise SearchError(f"the body nests deeper than {MAX_DEPTH} levels")
        try:
            body = json.loads(raw)
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise SearchError(f"the body is not JSON ({str(exc)[:200]})") from exc
        if not isinstance(body, dict):
            raise SearchError("the body must be a JSON object")
        return body

    async def health(request):
        import os

        return reply({"status": "ok", "collection": engine.collection, "pid": os.getpid()})

    async def info(request):
        coll = engine.collection
        return reply({"collection": coll, "points": engine.store.count(coll),
                      "vectors": engine.store.collection_vectors(coll),
                      "cache": None if cache is None else {"entries": len(cache), "limit": cache.entries,
                                                           "hits": cache.hits, "misses": cache.misses}})

    async def movie(request):
        return reply(public(engine.movie(_movie_arg(request.match_info["movie"]))))

    posters: dict = {}  # (path, width, mtime) -> bytes, the most recent few hundred

    async def poster(request):
        """A movie's poster image (local files only; a remote poster's URL is its poster_url)."""
        import os

        p = engine.movie(_movie_arg(request.match_info["movie"]))
        path = p.get("poster")
        if not path or str(path).startswith(("http://", "https://")):
            raise web.HTTPNotFound(text=dumps({"error": "this movie has no poster the service holds"}).decode(),
                                   content_type="application/json")
        width = parse(PosterRequest, _query_params(request.query)).w
        try:
            st = os.stat(path)
        except OSError:
            raise web.HTTPNotFound(text=dumps({"error": "the poster file is gone; rebuild the home"}).decode(),
                                   content_type="application/json") from None
        tag = f'"{st.st_mtime_ns:x}-{st.st_size:x}-{width or 0}"'
        headers = {"ETag": tag, "Cache-Control": "public, max-age=86400"}
        seen = {t.strip().removeprefix("W/") for t in request.headers.get("If-None-Match", "").split(",")}
        if tag in seen or "*" in seen:
            return web.Response(status=304, headers=headers)
        key = (path, width, st.st_mtime_ns)
        body = posters.get(key)
        if body is None:
            body = await asyncio.get_running_loop().run_in_executor(images, poster_bytes, path, width)
            if len(posters) > 512:
                posters.clear()
            posters[key] = body
        kind = "image/jpeg" if width or body[:3] == b"\xff\xd8\xff" else \
            "image/png" if body[:8] == b"\x89PNG\r\n\x1a\n" else "application/octet-stream"
        return web.Response(body=body, headers=headers, content_type=kind)

    async def resolve(request):
        req = parse(ResolveRequest, await body_of(request))
        return reply(engine.query_info(req.movie))

    async def similar(request):
        req = parse(SimilarRequest, await body_of(request))
        query = engine.query_info(req.movie)  # which film the title named (and the others it could name)
        hits = engine.similar(query["key"], k=req.k, weights=req.weights, mode=req.mode,
                              exclude_series=req.exclude_series, **req.lists(), **req.filters())
        return reply({"query": query, **_hits(hits)})

    async def search(request):
        req = parse(SearchRequest, await body_of(request))
        hits = await asyncio.get_running_loop().run_in_executor(
            encoders, lambda: engine.search_text(req.text, k=req.k, **req.lists(), **req.filters()))
        return reply(_hits(hits))

    async def search_image(request):
        req = parse(ImageSearchRequest, _query_params(request.query))
        data = await request.read()
        if not data:
            raise SearchError("send the image bytes as the request body")
        hits = await asyncio.get_running_loop().run_in_executor(
            encoders, lambda: engine.search_image(data, k=req.k, **req.filters()))
        return reply(_hits(hits))

    async def recommend(request):
        req = parse(RecommendRequest, await body_of(request))
        if len(req.positive) + len(req.negative) > MAX_MOVIES:
            raise SearchError(f"positive + negative has {len(req.positive) + len(req.negative)} movies; one request "
                              f"takes at most {MAX_MOVIES}")

        def work():
            pos_q, neg_q = [engine.query_info(m) for m in req.positive], [engine.query_info(m) for m in req.negative]
            hits = engine.recommend([q["key"] for q in pos_q], [q["key"] for q in neg_q], k=req.k, **req.filters())
            return {"query": {"positive": pos_q, "negative": neg_q}, **_hits(hits)}
        return reply(await off_loop(work))

    async def next_(request):
        req = parse(NextRequest, await body_of(request))
        items = [tuple(h) if isinstance(h, tuple) else h for h in req.history]

        def work():
            hits = engine.for_history(items, k=req.k, exclude_seen=req.exclude_seen, **req.filters())
            named = [engine.query_info(h[0] if isinstance(h, tuple) else h) for h in items]  # all known by now
            return {"query": {"history": named}, **_hits(hits)}
        return reply(await off_loop(work))

    async def openapi(request):
        return reply(openapi_spec())

    def editable(request):
        if not config.allow_edits:
            return error(403, "this service is read-only; start it with `reelvec serve --allow-edits` (and an API "
                              "key) to add or delete movies")
        return cross_site(request)

    async def add_movies(request):
        refused = editable(request)
        if refused is not None:
            return refused
        movies = parse(EditRequest, await body_of(request)).movies
        for i, m in enumerate(movies):
            poster = m.get("poster")
            if poster is not None and not (isinstance(poster, str) and poster.startswith(("http://", "https://"))):
                raise SearchError(f"movies[{i}].poster must be an http(s) URL (fetched through the guarded fetcher); "
                                  "the service never reads a file path it is given")
            refused = _refused_host(poster) if poster else None
            if refused:
                raise SearchError(f"movies[{i}].poster points at a {refused}; give a public poster URL")
        keys = await asyncio.get_running_loop().run_in_executor(encoders, lambda: engine.upsert(movies))
        return reply({"written": keys})

    async def delete_movie(request):
        refused = editable(request)
        if refused is not None:
            return refused
        target = _movie_arg(request.match_info["movie"])
        keys = await asyncio.get_running_loop().run_in_executor(encoders, lambda: engine.delete([target]))
        return reply({"deleted": keys})

    app = web.Application(middlewares=[guard], client_max_size=config.max_body)
    app.add_routes([
        web.get("/health", health), web.get("/info", info), web.get("/movies/{movie}", cached(movie)),
        web.get("/resolve", cached(resolve)), web.get("/posters/{movie}", poster),
        web.get("/similar", cached(similar)), web.post("/similar", cached(similar)), web.post("/search", cached(search)),
        web.get("/search", cached(search)), web.post("/search/image", search_image),
        web.post("/recommend", cached(recommend)), web.post("/next", cached(next_)), web.get("/openapi.json", openapi),
        web.post("/movies", add_movies), web.delete("/movies/{movie}", delete_movie),
    ])

    async def closing(_app):
        encoders.shutdown(wait=False)
        queries.shutdown(wait=False)
        images.shutdown(wait=False)
    app.on_cleanup.append(closing)
    return app


def _refused_host(url: str) -> str | None:
    """Why a poster URL's host may not be handed out (an IP literal the fetcher refuses, or
    localhost), or None. Host names are checked by the fetcher when it resolves them."""
    from urllib.parse import urlsplit

    from reelvec.ingest.netguard import forbidden_reason, is_ip_literal

    try:
        host = urlsplit(url).hostname or ""
    except ValueError:
        return "malformed URL"
    if host in ("localhost", "localhost.localdomain") or host.endswith(".localhost"):
        return "loopback host"
    return forbidden_reason(host) if is_ip_literal(host) else None


class SearchTooLarge(SearchError):
    """A query body over MAX_QUERY_BODY (413)."""


def _movie_arg(value):
    """A TMDB id (int or digits) or a title."""
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise SearchError(f"a movie is a title or a TMDB id, got {value!r}")
    return int(value) if isinstance(value, str) and value.isdigit() else value


def serve(engine, config: ServeConfig = ServeConfig(), ready: Callable[[str], None] | None = None) -> None:
    """Run the service until interrupted; see `reelvec.app.workers.serve` (processes, balancing)."""
    from reelvec.app.workers import serve as run

    run(engine, config, ready)
