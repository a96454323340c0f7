"""`reelvec serve` end to end: a real process on 127.0.0.1, called through `reelvec.connect` and
raw HTTP: happy paths equal the in-process Engine, bad input is a 4xx with a message, the API key,
body size and rate limits hold, and a bounded loopback load stops by itself without an error."""
import json
import subprocess
import sys
import threading
import urllib.error
import urllib.request

import pytest

import reelvec
from reelvec.app.serve import RateLimiter
from reelvec.errors import SearchError, StoreError, UnknownMovieError


@pytest.fixture(scope="module")
def home(built_home):
    return built_home  # read only


def start(home, *extra):
    p = subprocess.Popen([sys.executable, "-m", "reelvec", "serve", "--port", "0", "--store", str(home), *extra],
                         stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    line = p.stdout.readline()
    if "serving on" not in line:
        p.kill()
        raise AssertionError(f"service did not start: {line} {p.stderr.read()}")
    return p, line.split("serving on ")[1].split()[0]


@pytest.fixture(scope="module")
def service(home):
    p, url = start(home[1])
    yield url
    p.terminate()
    p.wait(timeout=10)


@pytest.fixture(scope="module")
def guarded(home):
    p, url = start(home[1], "--key", "s3cret", "--max-body", "2000", "--rate", "2")
    yield url
    p.terminate()
    p.wait(timeout=10)


def http(method, url, body=None, headers=None):
    data = json.dumps(body).encode() if isinstance(body, dict) else body
    req = urllib.request.Request(url, data=data, method=method, headers=headers or {})
    try:
        with urllib.request.urlopen(req, timeout=30) as r:
            return r.status, json.loads(r.read()), dict(r.headers)
    except urllib.error.HTTPError as e:
        return e.code, json.loads(e.read()), dict(e.headers)


def ids(hits):
    return [h.tmdb_id for h in hits]


def test_endpoints_equal_the_engine(home, service):
    data, h = home
    client = reelvec.connect(service)
    with reelvec.open(h) as engine:
        assert client.health()["collection"] == engine.collection
        assert client.info()["points"] == 16
        assert client.movie("Alien")["tmdb_id"] == 348 and client.movie(603)["title"] == "The Matrix"
        assert client.movie("Dune (1984)")["year"] == 1984  # a title with spaces and brackets in the path
        assert ids(client.similar("Alien", k=5)) == ids(engine.similar("Alien", k=5))
        assert ids(client.similar(603, k=3, genres=["Comedy"], after=1990)) == \
            ids(engine.similar(603, k=3, genres=["Comedy"], after=1990))
        for mode in ("similar", "also-liked", "content"):
            got = client.similar("Alien", k=4, mode=mode)
            assert ids(got) == ids(engine.similar("Alien", k=4, mode=mode))
            assert [h.explanation.placed_by for h in got] == [
                h.explanation.placed_by for h in engine.similar("Alien", k=4, mode=mode)]
        got = client.similar("Alien", k=4, weights={"text": 1, "image": 0.3})
        assert ids(got) == ids(engine.similar("Alien", k=4, weights={"text": 1, "image": 0.3}))
        assert got[0].explanation.text is not None
        assert ids(client.recommend([603, "Alien"], ["When Harry Met Sally..."], k=3)) == \
            ids(engine.recommend([603, "Alien"], ["When Harry Met Sally..."], k=3))
        assert ids(client.for_history(["Alien", ("Aliens", 4.5), "Predator"], k=3)) == \
            ids(engine.for_history(["Alien", ("Aliens", 4.5), "Predator"], k=3))
        assert ids(client.search_text("a heist comedy in paris", k=3)) == ids(engine.search_text("a heist comedy in paris", k=3))
        assert client.search_image(data / "posters" / "348.jpg", k=1)[0].tmdb_id == 348
    status, body, _ = http("GET", f"{service}/similar?movie=Alien&k=2&genres=Horror&genres=Comedy")
    assert status == 200 and len(body["hits"]) == 2
    status, spec, _ = http("GET", f"{service}/openapi.json")
    assert status == 200 and {"/similar", "/search", "/search/image", "/recommend", "/next"} <= set(spec["paths"])


@pytest.mark.parametrize("method,path,body,status,says", [
    ("POST", "/similar", {"movie": "Zzyzx Qwerty Plover", "k": 3}, 404, "closest"),
    ("POST", "/similar", {"movie": "Alien", "k": 0}, 400, "k must be"),
    ("POST", "/similar", {"movie": "Alien", "genre": "Horror"}, 400, "unknown field"),
    ("POST", "/similar", {"k": 3}, 400, "give the movie"),
    ("POST", "/similar", b"{not json", 400, "not JSON"),
    ("POST", "/similar", {"movie": "Alien", "years": [2000, 1990]}, 400, "empty year range"),
    ("POST", "/recommend", {"positive": "Alien"}, 400, "must be lists"),
    ("POST", "/next", {"history": ["Alien", "Nope Nope Nope"]}, 404, "unknown movies"),
    ("POST", "/search", {"k": 3}, 400, "search text"),
    ("POST", "/search/image", b"not an image", 400, "cannot use image"),
    ("GET", "/similar?movie=Alien&after=x", None, 400, "integer"),
    ("GET", "/similar?movie=Alien&mode=fancy", None, 400, "unknown mode 'fancy'"),
    ("POST", "/similar", {"movie": "Alien", "mode": 3}, 400, "mode must be one of"),
])
def test_bad_input_is_a_4xx_with_a_message(service, method, path, body, status, says):
    got, payload, _ = http(method, service + path, body)
    assert got == status and says in payload["error"]


def test_client_maps_errors(service):
    client = reelvec.connect(service)
    with pytest.raises(UnknownMovieError) as e:
        client.similar("Zzyzx Qwerty Plover")
    assert e.value.candidates
    with pytest.raises(SearchError):
        client.similar("Alien", k=0)
    with pytest.raises(StoreError, match="unreachable"):
        reelvec.connect("http://127.0.0.1:9", timeout=2).health()


def test_api_key_body_size_and_rate_limit(guarded, home):
    assert http("GET", f"{guarded}/health")[0] == 200  # liveness needs no key
    assert http("GET", f"{guarded}/info")[0] == 401
    assert http("GET", f"{guarded}/info", headers={"X-API-Key": "wrong"})[0] == 401
    with pytest.raises(StoreError, match="API key"):
        reelvec.connect(guarded).info()
    big = (home[0] / "posters" / "348.jpg").read_bytes()
    assert len(big) > 2000
    status, body, _ = http("POST", f"{guarded}/search/image", big, {"X-API-Key": "s3cret"})
    assert status == 413 and "over 2000 bytes" in body["error"]
    statuses = [http("GET", f"{guarded}/info", headers={"Authorization": "Bearer s3cret"}) for _ in range(8)]
    codes = [s for s, _, _ in statuses]
    assert 200 in codes and 429 in codes  # burst of 4 at 2/s: the rest are told to wait
    assert next(h for s, _, h in statuses if s == 429)["Retry-After"] == "1"


def test_rate_limiter_refills():
    now = [0.0]
    rl = RateLimiter(rate=2, burst=2, clock=lambda: now[0])
    assert rl.allow("a") == 0 and rl.allow("a") == 0 and rl.allow("a") > 0
    assert rl.allow("b") == 0  # per client
    now[0] += 0.5
    assert rl.allow("a") == 0
    assert RateLimiter(0, 0).allow("x") == 0


def test_bounded_loopback_load(service):
    """8 concurrent clients x 40 requests each; stops by itself; every answer a 200."""
    codes, lock = [], threading.Lock()

    def worker(n):
        for i in range(40):
            s, _, _ = http("GET", f"{service}/similar?movie={['Alien', 'The%20Matrix'][i % 2]}&k=5")
            with lock:
                codes.append(s)
    threads = [threading.Thread(target=worker, args=(n,)) for n in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert len(codes) == 320 and set(codes) == {200}


def test_live_edits_over_http(home, tmp_path):
    """POST /movies and DELETE /movies/{movie} with --allow-edits (a copy of the home), refused
    without it; the service's own queries see the edit at once."""
    from conftest import copy_home
    copy = copy_home(home[1], tmp_path / "home")
    p, url = start(copy, "--allow-edits", "--key", "k")
    try:
        client = reelvec.connect(url, api_key="k")
        everyone = [h.title for h in client.similar("Alien", k=30)]
        assert [h.title for h in client.similar("Alien", k=30)] == everyone  # the second from the cache
        assert client.info()["cache"]["hits"] >= 1
        assert client.upsert({"id": "web-1", "title": "Web Stalker", "year": 2025, "genres": ["Horror"],
                              "overview": "A space crew meets a deadly alien creature."}) == ["own:web-1"]
        assert client.movie("Web Stalker")["key"] == "own:web-1"
        assert client.similar("Web Stalker", k=3)
        assert "Web Stalker" in [h.title for h in client.similar("Alien", k=30)]  # the edit retired the cached answer
        with pytest.raises(SearchError, match="no title"):
            client.upsert({"id": "x"})
        assert client.delete("own:web-1") == ["own:web-1"]
        with pytest.raises(UnknownMovieError):
            client.movie("Web Stalker")
        assert [h.title for h in client.similar("Alien", k=30)] == everyone
        assert http("POST", f"{url}/movies", {"movies": [{"title": "X"}]})[0] == 401  # the key still guards
    finally:
        p.terminate()
        p.wait(timeout=10)
    assert len([x for x in (copy / "edits.jsonl").read_text().splitlines() if '"op"' in x]) == 2


def test_edits_are_refused_unless_allowed(service):
    status, body, _ = http("POST", f"{service}/movies", {"movies": [{"title": "X"}]})
    assert status == 403 and "--allow-edits" in body["error"]
    assert http("DELETE", f"{service}/movies/Alien")[0] == 403
    with pytest.raises(SearchError, match="read-only"):
        reelvec.connect(service).delete("Alien")


def _pids_of_connections(url: str, n: int) -> list[int]:
    """Open `n` keep-alive connections at once; the pid answering on each."""
    import socket
    host, port = url.split("//")[1].split(":")
    conns = [socket.create_connection((host, int(port)), timeout=10) for _ in range(n)]
    pids = []
    try:
        for c in conns:
            c.sendall(b"GET /health HTTP/1.1\r\nHost: x\r\n\r\n")
            data = b""
            while b"\r\n\r\n" not in data or not data.rstrip().endswith(b"}"):
                data += c.recv(4096)
            pids.append(json.loads(data.split(b"\r\n\r\n", 1)[1])["pid"])
    finally:
        for c in conns:
            c.close()
    return pids


def test_answer_cache_keeps_the_most_recently_used():
    from reelvec.app.serve import AnswerCache
    c = AnswerCache(2)
    c.put("a", b"1")
    c.put("b", b"2")
    assert c.get("a") == b"1"  # a is now the most recent
    c.put("c", b"3")
    assert c.get("b") is None and c.get("a") == b"1" and c.get("c") == b"3" and len(c) == 2
    assert (c.hits, c.misses) == (3, 1)


def test_balance_leaves_a_connection_to_the_least_loaded_live_worker():
    from reelvec.app.serve import Balance
    b = Balance(3)
    b.report(0, 4)
    b.report(1, 2)
    b.report(2, 4)
    assert b.should_wait(0, 4, waited=0.0)  # worker 1 holds fewer: it takes the connection
    assert not b.should_wait(1, 2, waited=0.0)
    assert not b.should_wait(0, 4, waited=Balance.GRACE)  # ... unless it is too busy to
    b.slots[3] = 0.0  # worker 1 silent for long: gone, not counted
    assert not b.should_wait(0, 4, waited=0.0)


def test_workers_share_the_port(home):
    """--workers 2: two processes answer on one port, keep-alive connections spread evenly over
    them (the kernel's SO_REUSEPORT hashing gave one worker 7 of 8), and both stop with the first."""
    import time
    p, url = start(home[1], "--workers", "2")
    try:
        pids = _pids_of_connections(url, 8)
        counts = sorted(pids.count(x) for x in set(pids))
        assert len(counts) == 2 and counts[1] - counts[0] <= 2, counts
        pids = set(pids)
        assert reelvec.connect(url).similar("Alien", k=3)
    finally:
        p.terminate()
        p.wait(timeout=10)
    time.sleep(2.5)  # the orphaned worker notices within a second
    for pid in pids - {p.pid}:
        with pytest.raises(ProcessLookupError):
            import os
            os.kill(pid, 0)
