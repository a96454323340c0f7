"""`PosterFetcher`: every movie's poster into a content-addressed cache, as fast as the network
allows, without ever crashing on a bad server or a bad image.

- one aiohttp session per run; a global and a per-host concurrency limit; total / connect /
  sock_read timeouts (a slow-loris body cannot hold a slot); bodies read with `iter_chunked`
  under a size cap; redirects followed by hand (capped, loop-checked, every hop SSRF-checked);
- retries with exponential backoff + jitter for connection errors, timeouts, 408, 429, 5xx
  (`Retry-After` honoured), never for other 4xx; a circuit breaker per host;
- every image validated (`load_poster`) before it is cached; cache file name = sha256 of the
  URL, written to a temp file then renamed, so a crash never leaves a half file counted as done;
- a SQLite ledger per movie (url, status, http code, bytes, content sha256, error, attempts,
  ETag/Last-Modified): reruns skip what is done, retry transient failures, report permanent ones.
"""
from __future__ import annotations

import asyncio
import email.utils
import hashlib
import io
import random
import sqlite3
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urljoin, urlsplit

from reelvec.errors import IngestError
from reelvec.fsutil import atomic_write_bytes
from reelvec.ingest.images import MAX_PIXELS, BadImageError, load_poster
from reelvec.ingest.netguard import BlockedAddressError, GuardedResolver, forbidden_reason, is_ip_literal

DONE, PERMANENT, TRANSIENT = "done", "failed_permanent", "failed_transient"
RETRY_STATUS = {408, 429, 500, 502, 503, 504}


@dataclass(frozen=True)
class FetchConfig:
    concurrency: int = 64
    per_host: int = 32
    total_timeout: float = 30.0
    connect_timeout: float = 5.0
    read_timeout: float = 10.0
    max_bytes: int = 5 * 1024 * 1024
    max_redirects: int = 5
    retries: int = 3
    url_deadline: float = 60.0  # seconds for one URL over all its attempts (a slow-loris server ends here)
    backoff_base: float = 0.25
    backoff_max: float = 20.0
    breaker_threshold: int = 8
    breaker_cooldown: float = 30.0
    ssrf_guard: bool = True
    allow_hosts: frozenset[str] = frozenset()
    max_pixels: int = MAX_PIXELS
    user_agent: str = "reelvec-poster-fetcher/0.1"


@dataclass
class Outcome:
    key: str
    url: str
    status: str
    http_code: int | None = None
    bytes: int = 0
    content_sha: str | None = None
    path: str | None = None
    error: str | None = None
    attempts: int = 0
    etag: str | None = None
    last_modified: str | None = None


class FetchError(Exception):
    def __init__(self, reason: str, transient: bool, code: int | None = None, retry_after: float | None = None):
        super().__init__(reason)
        self.reason, self.transient, self.code, self.retry_after = reason, transient, code, retry_after


def url_path(root: Path, url: str) -> Path:
    """Cache location from sha256 of the URL — never from its text — fanned out by prefix."""
    h = hashlib.sha256(url.encode("utf-8")).hexdigest()
    return root / h[:2] / f"{h}.img"


class PosterLedger:
    COLUMNS = ("key", "url", "status", "http_code", "bytes", "content_sha", "path", "error", "attempts", "etag",
               "last_modified")

    def __init__(self, path: Path):
        self.db = sqlite3.connect(path)
        self.db.execute("PRAGMA journal_mode=WAL")
        # a killed process loses nothing committed; only an OS crash could lose the last rows,
        # which a rerun simply fetches again
        self.db.execute("PRAGMA synchronous=NORMAL")
        self.db.execute(
            "CREATE TABLE IF NOT EXISTS posters(key TEXT PRIMARY KEY, url TEXT, status TEXT, http_code INTEGER, "
            "bytes INTEGER, content_sha TEXT, path TEXT, error TEXT, attempts INTEGER, etag TEXT, "
            "last_modified TEXT, updated REAL)")

        self._known = {r.key: r for r in self.rows()}
        self._pending = 0
        self._last_commit = time.monotonic()

    def get(self, key: str) -> Outcome | None:
        return self._known.get(key)

    def put(self, o: Outcome, commit_every: int = 64, max_delay: float = 0.5) -> None:
        """Rows are committed in small groups (at most `max_delay` old): a kill loses only the last
        few, which the rerun fetches again to the same result."""
        self._known[o.key] = o
        self.db.execute(f"INSERT OR REPLACE INTO posters VALUES ({', '.join('?' * 12)})",
                        (o.key, o.url, o.status, o.http_code, o.bytes, o.content_sha, o.path, o.error, o.attempts,
                         o.etag, o.last_modified, time.time()))
        self._pending += 1
        if self._pending >= commit_every or time.monotonic() - self._last_commit > max_delay:
            self.flush()

    def flush(self) -> None:
        self.db.commit()
        self._pending = 0
        self._last_commit = time.monotonic()

    def rows(self) -> list[Outcome]:
        return [Outcome(*r) for r in self.db.execute(f"SELECT {', '.join(self.COLUMNS)} FROM posters ORDER BY key")]

    def done_paths(self) -> dict[str, str]:
        return {u: p for u, p in self.db.execute("SELECT url, path FROM posters WHERE status=?", (DONE,))}

    def close(self) -> None:
        self.flush()
        self.db.close()


def _retry_after(value: str | None) -> float | None:
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        try:
            return max(0.0, email.utils.parsedate_to_datetime(value).timestamp() - time.time())
        except (TypeError, ValueError):
            return None


class _Breaker:
    def __init__(self, threshold: int, cooldown: float):
        self.threshold, self.cooldown = threshold, cooldown
        self.fails: Counter = Counter()
        self.open_until: dict[str, float] = {}

    def check(self, host: str) -> None:
        if self.open_until.get(host, 0) > time.monotonic():
            raise FetchError(f"circuit open for {host} after {self.threshold} consecutive failures", transient=True)

    def record(self, host: str, ok: bool) -> None:
        if ok:
            self.fails[host] = 0
            return
        self.fails[host] += 1
        if self.fails[host] >= self.threshold:
            self.open_until[host] = time.monotonic() + self.cooldown


def normalise_image(data: bytes, max_pixels: int) -> bytes:
    """Validated bytes to cache: the original when it is already an upright RGB JPEG (validated by
    a full decode at 1/8 DCT scale: every byte of entropy-coded data is still read, so truncation
    is caught, at a fraction of the cost), else the decoded image as upright RGB PNG (lossless)."""
    from PIL import Image, UnidentifiedImageError

    try:
        with Image.open(io.BytesIO(data)) as raw:
            orientation = raw.getexif().get(0x0112, 1)
            plain_jpeg = raw.format == "JPEG" and raw.mode == "RGB" and orientation in (None, 1)
    except (UnidentifiedImageError, OSError, SyntaxError, ValueError, Image.DecompressionBombError):
        plain_jpeg = False  # load_poster below says precisely why
    if plain_jpeg:
        load_poster(data, draft_size=(16, 16), max_pixels=max_pixels)
        return data
    img = load_poster(data, max_pixels=max_pixels)
    buf = io.BytesIO()
    img.save(buf, "PNG")
    return buf.getvalue()


class PosterFetcher:
    def __init__(self, cache: str | Path, config: FetchConfig = FetchConfig()):
        self.root = Path(cache)
        self.root.mkdir(parents=True, exist_ok=True)
        self.config = config
        for tmp in self.root.glob("*/*.tmp"):  # leftovers of a killed run never count as done
            tmp.unlink(missing_ok=True)
        self.ledger = PosterLedger(self.root / "ledger.sqlite")
        self.breaker = _Breaker(config.breaker_threshold, config.breaker_cooldown)

    # ---------------------------------------------------------------------------------- checks
    def _check_url(self, url: str) -> tuple[str, str]:
        parts = urlsplit(url)
        if parts.scheme not in ("http", "https"):
            raise FetchError(f"scheme {parts.scheme or '(none)'!r} not allowed (http, https)", transient=False)
        host = parts.hostname or ""
        if not host:
            raise FetchError(f"no host in {url}", transient=False)
        if self.config.ssrf_guard and is_ip_literal(host) and host not in self.config.allow_hosts:
            reason = forbidden_reason(host)
            if reason:
                raise FetchError(f"forbidden address: {reason} ({host})", transient=False)
        return parts.scheme, host

    def _store(self, data: bytes, target: Path) -> tuple[int, str]:
        """Validate, hash and write atomically (temp file + rename); runs in a worker thread."""
        stored = normalise_image(data, self.config.max_pixels)
        atomic_write_bytes(target, stored, fsync=False)
        return len(stored), hashlib.sha256(stored).hexdigest()

    # ----------------------------------------------------------------------------------- fetch
    async def _get(self, session, url: str, host_sems: dict) -> tuple[bytes, int, dict]:
        import aiohttp

        seen = {url}
        for _hop in range(self.config.max_redirects + 1):
            _, host = self._check_url(url)
            self.breaker.check(host)
            sem = host_sems.setdefault(host, asyncio.Semaphore(self.config.per_host))
            headers = {"User-Agent": self.config.user_agent}
            async with sem:
                try:
                    async with session.get(url, allow_redirects=False, headers=headers) as resp:
                        if resp.status in (301, 302, 303, 307, 308):
                            loc = resp.headers.get("Location")
                            if not loc:
                                raise FetchError(f"HTTP {resp.status} without Location", transient=False, code=resp.status)
                            nxt = urljoin(url, loc)
                            if nxt in seen:
                                raise FetchError(f"redirect loop at {nxt}", transient=False, code=resp.status)
                            seen.add(nxt)
                            url = nxt
                            continue
                        if resp.status != 200:
                            transient = resp.status in RETRY_STATUS
                            raise FetchError(f"HTTP {resp.status}", transient=transient, code=resp.status,
                                             retry_after=_retry_after(resp.headers.get("Retry-After")))
                        declared = resp.content_length
                        if declared is not None and declared > self.config.max_bytes:
                            raise FetchError(f"body of {declared} bytes over the {self.config.max_bytes} cap",
                                             transient=False, code=200)
                        buf = bytearray()
                        async for chunk in resp.content.iter_chunked(64 * 1024):
                            buf += chunk
                            if len(buf) > self.config.max_bytes:
                                raise FetchError(f"body over the {self.config.max_bytes} byte cap", transient=False,
                                                 code=200)
                        self.breaker.record(host, True)
                        return bytes(buf), resp.status, {"etag": resp.headers.get("ETag"),
                                                         "last_modified": resp.headers.get("Last-Modified")}
                except FetchError as exc:
                    if exc.transient:
                        self.breaker.record(host, False)
                    raise
                except BlockedAddressError as exc:
                    raise FetchError(f"forbidden address: {exc}", transient=False) from exc
                except aiohttp.ClientConnectorError as exc:
                    if isinstance(getattr(exc, "os_error", None), BlockedAddressError):
                        raise FetchError(f"forbidden address: {exc.os_error}", transient=False) from exc
                    self.breaker.record(host, False)
                    raise FetchError(f"connection failed: {exc}", transient=True) from exc
                except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
                    self.breaker.record(host, False)
                    raise FetchError(f"timeout ({type(exc).__name__})", transient=True) from exc
                except aiohttp.ClientError as exc:
                    self.breaker.record(host, False)
                    raise FetchError(f"{type(exc).__name__}: {exc}", transient=True) from exc
        raise FetchError(f"more than {self.config.max_redirects} redirects", transient=False)

    async def _one(self, session, key: str, source: str, host_sems: dict) -> Outcome:
        prev = self.ledger.get(key)
        target = url_path(self.root, source)
        if prev and prev.status == DONE and prev.url == source and target.exists():
            return prev
        attempts = prev.attempts if prev and prev.url == source else 0
        out = Outcome(key, source, TRANSIENT, attempts=attempts)
        loop = asyncio.get_running_loop()
        deadline = loop.time() + self.config.url_deadline
        timeouts = 0
        for attempt in range(self.config.retries + 1):
            out.attempts += 1
            try:
                if "://" in source:  # any URL; _check_url refuses schemes other than http(s)
                    left = deadline - loop.time()
                    if left <= 0:
                        raise FetchError(f"gave up after {self.config.url_deadline:.0f} s (per-URL deadline)",
                                         transient=True)
                    try:
                        data, code, meta = await asyncio.wait_for(self._get(session, source, host_sems), left)
                    except TimeoutError as exc:  # the deadline, not a socket timeout
                        raise FetchError(f"gave up after {self.config.url_deadline:.0f} s (per-URL deadline)",
                                         transient=True) from exc
                    out.http_code, out.etag, out.last_modified = code, meta["etag"], meta["last_modified"]
                else:
                    try:
                        data = await asyncio.to_thread(Path(source).read_bytes)
                    except OSError as exc:
                        raise FetchError(f"cannot read {source}: {exc.strerror}", transient=False) from exc
                try:
                    out.bytes, out.content_sha = await asyncio.to_thread(self._store, data, target)
                except BadImageError as exc:
                    raise FetchError(f"bad image: {exc}", transient=False, code=out.http_code) from exc
                out.status, out.path, out.error = DONE, str(target), None
                break
            except FetchError as exc:
                out.error = exc.reason
                out.http_code = exc.code if exc.code is not None else out.http_code
                out.status = TRANSIENT if exc.transient else PERMANENT
                timeouts += exc.reason.startswith(("timeout", "gave up"))
                if not exc.transient or attempt == self.config.retries or timeouts > 1 \
                        or exc.reason.startswith("gave up"):
                    break  # a server that timed out twice will not answer a third time
                delay = min(self.config.backoff_max, self.config.backoff_base * 2 ** attempt)
                delay = delay * (0.5 + random.random() / 2)  # jitter
                if exc.retry_after is not None:
                    delay = max(delay, min(exc.retry_after, self.config.backoff_max))
                if loop.time() + delay >= deadline:
                    break
                await asyncio.sleep(delay)
        self.ledger.put(out)
        return out

    async def fetch_all(self, items: Sequence[tuple[str, str]], progress: bool = False,
                        on_result: Callable[[Outcome], None] | None = None) -> list[Outcome]:
        """items: (movie key, URL or local path). Returns one Outcome per item, in order."""
        import aiohttp
        from tqdm import tqdm

        c = self.config
        resolver = GuardedResolver(allow=c.allow_hosts, enabled=c.ssrf_guard)
        connector = aiohttp.TCPConnector(limit=c.concurrency, limit_per_host=c.per_host, resolver=resolver,
                                         ttl_dns_cache=300)
        timeout = aiohttp.ClientTimeout(total=c.total_timeout, connect=c.connect_timeout, sock_connect=c.connect_timeout,
                                        sock_read=c.read_timeout)
        gate = asyncio.Semaphore(c.concurrency)
        counts: Counter = Counter()
        bar = tqdm(total=len(items), desc="posters", unit="img", disable=not progress)
        host_sems: dict = {}

        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as session:
            async def run(key, source):
                async with gate:
                    try:
                        o = await self._one(session, key, source, host_sems)
                    except Exception as exc:
                        o = Outcome(key, source, TRANSIENT, error=f"unexpected {type(exc).__name__}: {exc}")
                        self.ledger.put(o)
                counts[o.status] += 1
                bar.update(1)
                bar.set_postfix(ok=counts[DONE], failed=counts[PERMANENT] + counts[TRANSIENT])
                if on_result:
                    on_result(o)
                return o

            results = await asyncio.gather(*(run(k, s) for k, s in items))
        self.ledger.flush()
        bar.close()
        return list(results)

    def close(self) -> None:
        self.ledger.close()


def summarise(outcomes: Sequence[Outcome]) -> dict:
    by = Counter(o.status for o in outcomes)
    reasons = Counter((o.error or "").split(":")[0] for o in outcomes if o.status != DONE)
    return {"total": len(outcomes), **dict(by), "failure_reasons": dict(reasons.most_common(10))}


def run_async(coro):
    """asyncio.run on uvloop when it is installed (measured faster here), else the stdlib loop."""
    try:
        import uvloop
    except ImportError:
        return asyncio.run(coro)
    return uvloop.run(coro)


def fetch_posters(items: Sequence[tuple[str, str]], cache: str | Path, config: FetchConfig = FetchConfig(),
                  progress: bool = False) -> list[Outcome]:
    fetcher = PosterFetcher(cache, config)
    try:
        return run_async(fetcher.fetch_all(items, progress=progress))
    except OSError as exc:
        raise IngestError(f"poster cache {cache}: {exc}") from exc
    finally:
        fetcher.close()
