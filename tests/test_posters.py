"""Poster fetching against a loopback aiohttp server the test starts (127.0.0.1 only).

Every fault: its recorded outcome, and the good posters of the same run still arrive. The SSRF
guard is proven by redirecting to loopback addresses outside the allow-list (127.0.0.2, [::1]),
which are refused before any connection, and by classifying IP literals without connecting.
"""
import asyncio
import struct
import sys
import time
import zlib
from collections import Counter
from pathlib import Path

import pytest
from aiohttp import web
from helpers_images import drawn_poster, jpeg_bytes, png_bytes
from PIL import Image

from reelvec.ingest.netguard import forbidden_reason
from reelvec.ingest.posters import DONE, PERMANENT, TRANSIENT, FetchConfig, PosterFetcher, url_path

GOOD = jpeg_bytes(drawn_poster())


def bomb_png(w=30000, h=30000) -> bytes:
    """A PNG header claiming 30000x30000 with a tiny IDAT: small on disk, enormous decoded."""
    def chunk(kind, data):
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)
    ihdr = struct.pack(">IIBBBBB", w, h, 1, 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", ihdr) + chunk(b"IDAT", zlib.compress(b"\0" * 4000)) + chunk(b"IEND", b"")


def exif_rotated() -> bytes:
    exif = Image.Exif()
    exif[0x0112] = 6
    return jpeg_bytes(drawn_poster((120, 60)), exif=exif.tobytes())


def palette_png() -> bytes:
    p = drawn_poster().convert("P")
    return png_bytes(p, transparency=0)


def make_app(state: Counter) -> web.Application:
    async def ok(request):
        return web.Response(body=GOOD, content_type="image/jpeg")

    async def slow(request):
        await asyncio.sleep(5)
        return web.Response(body=GOOD, content_type="image/jpeg")

    async def slowloris(request):
        resp = web.StreamResponse(headers={"Content-Type": "image/jpeg"})
        await resp.prepare(request)
        for i in range(20):
            await resp.write(GOOD[i:i + 1])
            await asyncio.sleep(1)
        return resp

    async def flaky(request):
        state["flaky"] += 1
        if state["flaky"] == 1:
            return web.Response(status=500)
        return web.Response(body=GOOD, content_type="image/jpeg")

    async def ratelimit(request):
        state["ratelimit"] += 1
        if state["ratelimit"] == 1:
            state["ratelimit_t0"] = time.monotonic()
            return web.Response(status=429, headers={"Retry-After": "1"})
        state["ratelimit_wait_ms"] = int((time.monotonic() - state["ratelimit_t0"]) * 1000)
        return web.Response(body=GOOD, content_type="image/jpeg")

    async def missing(request):
        state["missing"] += 1
        return web.Response(status=404)

    async def loop_a(request):
        raise web.HTTPFound("/loop-b")

    async def loop_b(request):
        raise web.HTTPFound("/loop-a")

    async def to_forbidden(request):
        port = request.url.port
        raise web.HTTPFound(f"http://127.0.0.2:{port}/ok/1.jpg")

    async def to_decimal(request):  # 127.0.0.2 written as one decimal number
        raise web.HTTPFound(f"http://2130706434:{request.url.port}/ok/1.jpg")

    async def to_octal(request):  # 127.0.0.2 in octal dotted notation
        raise web.HTTPFound(f"http://0177.0.0.02:{request.url.port}/ok/1.jpg")

    async def to_v6(request):
        raise web.HTTPFound(f"http://[::1]:{request.url.port}/ok/1.jpg")

    def static(data, ctype="image/jpeg"):
        async def handler(request):
            return web.Response(body=data, content_type=ctype)
        return handler

    app = web.Application()
    app.add_routes([
        web.get("/ok/{n}", ok), web.get("/slow", slow), web.get("/slowloris", slowloris), web.get("/flaky", flaky),
        web.get("/ratelimit", ratelimit), web.get("/missing", missing), web.get("/loop-a", loop_a),
        web.get("/loop-b", loop_b), web.get("/to-forbidden", to_forbidden), web.get("/to-v6", to_v6),
        web.get("/to-decimal", to_decimal), web.get("/to-octal", to_octal),
        web.get("/big", static(GOOD + b"\0" * 400_000)),
        web.get("/html", static(b"<html><body>not a poster</body></html>", "image/jpeg")),
        web.get("/truncated", static(GOOD[: len(GOOD) // 2])),
        web.get("/bomb", static(bomb_png(), "image/png")),
        web.get("/cmyk", static(jpeg_bytes(drawn_poster().convert("CMYK")))),
        web.get("/palette", static(palette_png(), "image/png")),
        web.get("/exif", static(exif_rotated())),
    ])
    return app


@pytest.fixture
async def server():
    state = Counter()
    runner = web.AppRunner(make_app(state))
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]
    yield f"http://127.0.0.1:{port}", state
    await runner.cleanup()


def cfg(**kw):
    base = dict(total_timeout=3, connect_timeout=2, read_timeout=1.5, max_bytes=200_000, retries=2,
                backoff_base=0.05, backoff_max=2, allow_hosts=frozenset({"127.0.0.1"}))
    return FetchConfig(**(base | kw))


async def fetch(tmp_path, items, **kw):
    f = PosterFetcher(tmp_path / "cache", cfg(**kw))
    try:
        return {o.key: o for o in await f.fetch_all(items)}
    finally:
        f.close()


def good_items(base, n=3):
    return [(f"good{i}", f"{base}/ok/{i}.jpg") for i in range(n)]


async def test_all_faults_recorded_and_good_posters_still_arrive(server, tmp_path):
    base, state = server
    faults = {
        "slow": "/slow", "slowloris": "/slowloris", "flaky": "/flaky", "ratelimit": "/ratelimit", "missing": "/missing",
        "loop": "/loop-a", "forbidden": "/to-forbidden", "v6": "/to-v6", "big": "/big", "html": "/html",
        "decimal": "/to-decimal", "octal": "/to-octal",
        "truncated": "/truncated", "bomb": "/bomb", "cmyk": "/cmyk", "palette": "/palette", "exif": "/exif",
    }
    items = good_items(base) + [(k, base + p) for k, p in faults.items()]
    res = await fetch(tmp_path, items)
    for i in range(3):
        assert res[f"good{i}"].status == DONE and Path(res[f"good{i}"].path).exists()
    assert res["slow"].status == TRANSIENT and "timeout" in res["slow"].error and res["slow"].attempts == 2  # once
    assert res["slowloris"].status == TRANSIENT and "timeout" in res["slowloris"].error
    assert res["flaky"].status == DONE and res["flaky"].attempts == 2
    assert res["ratelimit"].status == DONE and state["ratelimit_wait_ms"] >= 950  # Retry-After: 1 honoured
    assert res["missing"].status == PERMANENT and res["missing"].http_code == 404 and state["missing"] == 1
    assert res["loop"].status == PERMANENT and "redirect loop" in res["loop"].error
    assert res["forbidden"].status == PERMANENT and "forbidden address: loopback address 127.0.0.2" in res["forbidden"].error
    assert res["v6"].status == PERMANENT and "loopback address ::1" in res["v6"].error
    for k in ("decimal", "octal"):  # legacy IPv4 notations: refused at once, never retried
        assert res[k].status == PERMANENT and "loopback address 127.0.0.2" in res[k].error and res[k].attempts == 1
    assert res["big"].status == PERMANENT and "cap" in res["big"].error
    assert res["html"].status == PERMANENT and "bad image" in res["html"].error
    assert res["truncated"].status == PERMANENT and "bad image" in res["truncated"].error
    assert res["bomb"].status == PERMANENT and ("bomb" in res["bomb"].error or "pixel limit" in res["bomb"].error)
    for k in ("cmyk", "palette", "exif"):
        assert res[k].status == DONE
        with Image.open(res[k].path) as im:
            assert im.mode == "RGB"
    with Image.open(res["exif"].path) as im:
        assert im.size == (60, 120)  # upright
    assert all(o.status == DONE for o in res.values() if o.key.startswith("good"))


async def test_rerun_skips_done_and_retries_transient(server, tmp_path):
    base, state = server
    items = good_items(base, 2) + [("missing", base + "/missing"), ("slow", base + "/slow")]
    first = await fetch(tmp_path, items, retries=0)
    assert first["slow"].status == TRANSIENT
    t = time.monotonic()
    again = await fetch(tmp_path, items, retries=0, total_timeout=0.5)
    assert again["good0"].attempts == first["good0"].attempts  # skipped, not refetched
    assert again["slow"].attempts == 2  # transient: tried again
    assert again["missing"].status == PERMANENT
    assert time.monotonic() - t < 5


async def test_cache_path_is_sha_of_url_inside_root(tmp_path):
    p = url_path(tmp_path, "http://example.invalid/../../etc/passwd?x=1")
    assert p.resolve().is_relative_to(tmp_path.resolve()) and "passwd" not in str(p)


async def test_other_schemes_and_local_files(tmp_path):
    local = tmp_path / "poster.png"
    local.write_bytes(png_bytes(drawn_poster()))
    res = await fetch(tmp_path, [("ftp", "ftp://127.0.0.1/x.jpg"), ("file", "file:///etc/passwd"),
                                 ("local", str(local)), ("nolocal", str(tmp_path / "missing.jpg"))])
    assert res["ftp"].status == PERMANENT and "scheme 'ftp' not allowed" in res["ftp"].error
    assert res["file"].status == PERMANENT
    assert res["local"].status == DONE and res["nolocal"].status == PERMANENT


async def test_guard_blocks_loopback_without_allow_list(server, tmp_path):
    base, _ = server
    res = await fetch(tmp_path, [("x", base + "/ok/1.jpg")], allow_hosts=frozenset())
    assert res["x"].status == PERMANENT and "forbidden address" in res["x"].error


async def test_localhost_name_is_checked_after_resolution(server, tmp_path):
    base, _ = server
    url = base.replace("127.0.0.1", "localhost") + "/ok/1.jpg"
    res = await fetch(tmp_path, [("x", url)], allow_hosts=frozenset())
    assert res["x"].status == PERMANENT and "forbidden" in res["x"].error


@pytest.mark.parametrize("ip,kind", [
    ("127.0.0.1", "loopback"), ("10.1.2.3", "private"), ("172.16.0.1", "private"), ("192.168.1.1", "private"),
    ("169.254.169.254", "link-local"), ("0.0.0.0", "unspecified"), ("224.0.0.1", "multicast"), ("::1", "loopback"),
    ("::ffff:127.0.0.1", "IPv4-mapped"), ("::ffff:169.254.169.254", "IPv4-mapped"), ("fe80::1", "link-local"),
    ("fc00::1", "private"), ("100.64.0.1", "shared"), ("::", "unspecified"), ("ff02::1", "multicast"),
])
def test_address_classifier_refuses(ip, kind):
    assert kind in forbidden_reason(ip)


@pytest.mark.parametrize("ip", ["93.184.216.34", "2606:2800:220:1:248:1893:25c8:1946", "8.8.8.8"])
def test_address_classifier_allows_public(ip):
    assert forbidden_reason(ip) is None


KILL_SCRIPT = """
import asyncio, sys
from reelvec.ingest.posters import FetchConfig, PosterFetcher
base, cache, n = sys.argv[1], sys.argv[2], int(sys.argv[3])
items = [(f"m{i:03d}", f"{base}/ok/{i}.jpg") for i in range(n)] + [("missing", base + "/missing")]
f = PosterFetcher(cache, FetchConfig(concurrency=2, per_host=2, allow_hosts=frozenset({"127.0.0.1"}), retries=0))
asyncio.run(f.fetch_all(items))
f.close()
"""


async def test_kill_and_resume_matches_uninterrupted_run(server, tmp_path):
    base, _ = server
    n = 60
    proc = await asyncio.create_subprocess_exec(sys.executable, "-c", KILL_SCRIPT, base, str(tmp_path / "killed"), str(n))
    ledger = tmp_path / "killed" / "ledger.sqlite"
    for _ in range(400):
        await asyncio.sleep(0.01)
        if ledger.exists() and len(list((tmp_path / "killed").glob("*/*.img"))) >= 5:
            break
    proc.kill()
    await proc.wait()
    for cache in ("killed", "clean"):
        proc = await asyncio.create_subprocess_exec(sys.executable, "-c", KILL_SCRIPT, base, str(tmp_path / cache), str(n))
        assert await proc.wait() == 0

    def state(cache):
        f = PosterFetcher(tmp_path / cache, cfg())
        rows = [(o.key, o.url, o.status, o.http_code, o.bytes, o.content_sha, Path(o.path).name if o.path else None, o.error)
                for o in f.ledger.rows()]
        f.close()
        files = sorted((p.name, p.read_bytes()) for p in (tmp_path / cache).glob("*/*") if p.suffix != ".sqlite")
        return rows, files
    assert state("killed") == state("clean")
    assert not list((tmp_path / "killed").glob("*/*.tmp"))


async def test_encoder_uses_fetched_posters(server, tmp_path):
    from reelvec.encoders.pipeline import fetched_posters, poster_path
    from reelvec.ingest.movie import Movie

    base, _ = server
    url = base + "/ok/7.jpg"
    res = await fetch(tmp_path, [("tmdb:7", url)])
    assert res["tmdb:7"].status == DONE
    fetched = fetched_posters(tmp_path / "cache")
    m = Movie(key="tmdb:7", title="Seven", poster=url)
    assert poster_path(m, None, fetched) == Path(res["tmdb:7"].path)
    assert poster_path(Movie(key="x", title="X", poster=base + "/never.jpg"), None, fetched) is None


async def test_slow_loris_ends_at_the_per_url_deadline(server, tmp_path):
    base, _ = server
    t = time.monotonic()
    res = await fetch(tmp_path, [("sl", base + "/slowloris")], url_deadline=2.5, read_timeout=5, total_timeout=30)
    took = time.monotonic() - t
    assert res["sl"].status == TRANSIENT and "per-URL deadline" in res["sl"].error and took < 5


def test_legacy_ipv4_notations_are_classified_without_connecting():
    from reelvec.ingest.netguard import forbidden_reason, is_ip_literal, legacy_ipv4

    assert legacy_ipv4("2130706433") == "127.0.0.1" and legacy_ipv4("0x7f.1") == "127.0.0.1"
    assert legacy_ipv4("0177.0.0.1") == "127.0.0.1" and legacy_ipv4("example.com") is None
    assert is_ip_literal("2852039166") and "link-local" in forbidden_reason("2852039166")  # 169.254.169.254
    assert forbidden_reason("3232235777") and forbidden_reason("8.8.8.8") is None  # 192.168.1.1 / public
