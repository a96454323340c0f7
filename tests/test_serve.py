"""`reelvec serve` end to end: a real process on 127.0.0.1, called through `reelvec.connect` and
raw HTTP: happy paths equal the in-process Engine, bad input is a 4xx with a message, the API key,
body size and rate limits hold, and a bounded loopback load stops by itself without an error."""
import json
import subprocess
import sys
import threading
import time
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
    with reelvec.open(h) as engine:  # pages, exclusions, groups, diversity: GET, POST and the client alike
        want = ids(engine.similar("Alien", k=3, offset=2, exclude=[603], diversity=0.3, exclude_series=True))
        status, body, _ = http("GET", f"{service}/similar?movie=Alien&k=3&offset=2&exclude=603&diversity=0.3"
                                      "&exclude_series=true")
        assert status == 200 and [x["tmdb_id"] for x in body["hits"]] == want
        assert ids(client.similar("Alien", k=3, offset=2, exclude=[603], diversity=0.3, exclude_series=True)) == want
        assert ids(client.similar("Alien", k=3, group_by="series")) == ids(engine.similar("Alien", k=3, group_by="series"))
        assert ids(client.search_text("alien creature", k=3, offset=1, exclude=[348])) == \
            ids(engine.search_text("alien creature", k=3, offset=1, exclude=[348]))
        status, body, _ = http("GET", f"{service}/search?text=alien%20creature&k=3&offset=1&exclude=348")
        assert status == 200 and [x["tmdb_id"] for x in body["hits"]] == \
            ids(engine.search_text("alien creature", k=3, offset=1, exclude=[348]))
        got = client.similar("Alien", k=1)[0]
        assert got.tmdb_url == engine.similar("Alien", k=1)[0].tmdb_url and got.overview
    status, spec, _ = http("GET", f"{service}/openapi.json")
    assert status == 200 and {"/similar", "/search", "/search/image", "/recommend", "/next"} <= set(spec["paths"])


@pytest.mark.parametrize("method,path,body,status,says", [
    ("POST", "/similar", {"movie": "Zzyzx Qwerty Plover", "k": 3}, 404, "closest"),
    ("POST", "/similar", {"movie": "Alien", "k": 0}, 400, "k: Input should be greater than or equal to 1"),
    ("POST", "/similar", {"movie": "Alien", "genre": "Horror"}, 400, "unknown field"),
    ("POST", "/similar", {"k": 3}, 400, "give 'movie'"),
    ("POST", "/similar", b"{not json", 400, "not JSON"),
    ("POST", "/similar", {"movie": "Alien", "years": [2000, 1990]}, 400, "empty year range"),
    ("POST", "/recommend", {"positive": "Alien"}, 400, "positive: Input should be a valid list"),
    ("POST", "/next", {"history": ["Alien", "Nope Nope Nope"]}, 404, "unknown movies"),
    ("POST", "/search", {"k": 3}, 400, "give 'text'"),
    ("POST", "/search/image", b"not an image", 400, "cannot use image"),
    ("GET", "/similar?movie=Alien&after=x", None, 400, "integer"),
    ("GET", "/similar?movie=Alien&mode=fancy", None, 400, "unknown mode 'fancy'"),
    ("POST", "/similar", {"movie": "Alien", "mode": 3}, 400, "mode: Input should be a valid string"),
    ("GET", "/similar?movie=Alien&offset=-1", None, 400, "offset: Input should be greater than or equal to 0"),
    ("GET", "/similar?movie=Alien&diversity=lots", None, 400, "diversity must be"),
    ("GET", "/similar?movie=Alien&exclude_series=maybe", None, 400, "true or false"),
    ("POST", "/similar", {"movie": "Alien", "group_by": "genre"}, 400, "group_by: Input should be 'series'"),
    ("GET", "/similar?movie=Alien&offset=1001", None, 400, "offset: Input should be less than or equal to 1000"),
])
def test_bad_input_is_a_4xx_with_a_message(service, method, path, body, status, says):
    got, payload, _ = http(method, service + path, body)
    assert got == status and says in payload["error"]


def test_answers_name_the_query_and_serve_posters(home, service):
    """/similar and /recommend say which film a title named (an exact title two films share: the
    best-known, and the other as `also`); posters are URLs the service serves, never paths."""
    client = reelvec.connect(service)
    status, body, _ = http("POST", f"{service}/similar", {"movie": "Dune", "k": 3})
    with reelvec.open(home[1]) as engine:
        assert status == 200 and body["query"] == engine.query_info("Dune") == client.query_info("Dune")
        assert ids(client.similar("Dune", k=3)) == ids(engine.similar("Dune", k=3))
    from reelvec.app.schema import HitBody, HitsBody
    from reelvec.app.serve import public
    HitsBody.model_validate(body)  # the answer is what the schema (and so the OpenAPI document) says
    assert set(HitBody.model_fields) == set(body["hits"][0]) == set(public(client.similar("Dune", k=1)[0].to_dict()))
    q = body["query"]
    assert q["title"] == "Dune" and q["how"] == "best-known" and len(q["also"]) == 1
    assert {q["year"], q["also"][0]["year"]} == {1984, 2021}
    assert http("GET", f"{service}/resolve?movie=348")[1]["how"] == "id"
    status, body, _ = http("POST", f"{service}/recommend", {"positive": ["Alien"], "negative": ["Dune"], "k": 2})
    assert status == 200 and body["query"]["positive"][0]["id"] == 348 and body["query"]["negative"][0]["also"]
    HitsBody.model_validate(body)
    status, nxt, _ = http("POST", f"{service}/next", {"history": ["Alien", ["Dune", 4.5]], "k": 2})
    assert status == 200 and [q["title"] for q in nxt["query"]["history"]] == ["Alien", "Dune"]
    assert nxt["query"]["history"][1]["also"]  # which Dune it took, and the other
    HitsBody.model_validate(nxt)
    text = json.dumps(body)
    assert str(home[0]) not in text and str(home[1]) not in text and '"poster"' not in text  # no server paths
    with_poster = [h for h in client.similar("Alien", k=15) if h.poster]
    assert with_poster and all(h.poster.startswith(service + "/posters/") for h in with_poster)
    req = urllib.request.Request(with_poster[0].poster)
    with urllib.request.urlopen(req, timeout=10) as r:
        full, tag = r.read(), r.headers["ETag"]
        assert r.headers["Content-Type"] == "image/jpeg" and "max-age" in r.headers["Cache-Control"]
    with urllib.request.urlopen(with_poster[0].poster + "?w=92", timeout=10) as r:
        import io

        from PIL import Image
        small = Image.open(io.BytesIO(r.read()))
        assert small.width <= 92 and len(full) > 0
    req = urllib.request.Request(with_poster[0].poster, headers={"If-None-Match": tag})
    with pytest.raises(urllib.error.HTTPError) as e:
        urllib.request.urlopen(req, timeout=10)
    assert e.value.code == 304
    for tags in (f"W/{tag}", f'"x", {tag}', "*"):
        req = urllib.request.Request(with_poster[0].poster, headers={"If-None-Match": tags})
        with pytest.raises(urllib.error.HTTPError) as e:
            urllib.request.urlopen(req, timeout=10)
        assert e.value.code == 304
    assert http("GET", f"{service}/posters/679")[0] == 404  # Aliens has no poster here
    assert http("GET", with_poster[0].poster + "?w=13")[0] == 400


@pytest.mark.parametrize("body,says", [
    (b'{"movie": "Alien", "k": 1e400}', "k: Input should be a valid integer"),
    (b'{"movie": "Alien", "k": 1.9}', "k: Input should be a valid integer"),
    (b'{"movie": "Alien", "k": true}', "k: Input should be a valid integer"),
    (b'{"movie": "Alien", "k": "3"}', "k: Input should be a valid integer"),
    (b'{"movie": ' + b"[" * 100_000 + b"]" * 100_000 + b"}", "nests deeper"),
    (b'{"movie": "Alien", "k": 3' + b', "x": "[[[[' + b"[" * 50 + b'"}', "unknown field"),  # brackets in a string
    (b"\xff\xfe{", "not JSON"),
])
def test_hostile_bodies_are_4xx_json(service, body, says):
    status, payload, _ = http("POST", f"{service}/similar", body)
    assert status == 400 and says in payload["error"]


def test_exclusions_never_fail_a_page_and_long_gets_fit(service):
    """An excluded film not in the index (a live edit deleted it) is ignored; titles are matched
    exactly (never fuzzily: a page may exclude a thousand); a GET with 1,000 exclude= values fits."""
    status, body, _ = http("POST", f"{service}/similar", {"movie": "Alien", "k": 3,
                                                           "exclude": ["Nope Nope Qwerty", 999999999, "own:gone"]})
    assert status == 200 and len(body["hits"]) == 3
    t0 = time.perf_counter()
    status, body, _ = http("POST", f"{service}/similar", {"movie": "Alien", "k": 3,
                                                           "exclude": [f"aliens{'s' * (i % 200)}{i}" for i in range(999)]})
    assert status == 200 and time.perf_counter() - t0 < 2
    url = f"{service}/similar?movie=Alien&k=2&" + "&".join(f"exclude={i}" for i in range(1_000_000, 1_001_000))
    status, body, _ = http("GET", url)
    assert status == 200 and len(body["hits"]) == 2
    plain = [h["tmdb_id"] for h in http("POST", f"{service}/search", {"text": "alien creature", "k": 4})[1]["hits"]]
    dropped = http("POST", f"{service}/search", {"text": "alien creature", "k": 3, "exclude": [plain[0]]})[1]
    assert [h["tmdb_id"] for h in dropped["hits"]] == plain[1:4]  # the rest keeps its order and scores


def test_unknown_routes_and_methods_answer_json(service):
    status, body, _ = http("GET", f"{service}/nowhere")
    assert status == 404 and "error" in body
    status, body, _ = http("PUT", f"{service}/similar", {"movie": "Alien"})
    assert status == 405 and "error" in body


def test_big_requests_are_refused_before_work_and_never_stall_health(service):
    big = {"positive": ["Alien"] * 200_000}
    done = {}

    def heavy():
        t0 = time.perf_counter()
        done["recommend"] = http("POST", f"{service}/recommend", big)
        done["seconds"] = time.perf_counter() - t0
    t = threading.Thread(target=heavy)
    t.start()
    t0 = time.perf_counter()
    assert http("GET", f"{service}/health")[0] == 200
    health = time.perf_counter() - t0
    t.join(60)
    assert done["recommend"][0] == 413 and "at most 262,144" in done["recommend"][1]["error"]
    assert health < 0.5 and done["seconds"] < 5
    status, body, _ = http("POST", f"{service}/recommend", {"positive": ["Alien"] * 101})
    assert status == 400 and "at most 100" in body["error"]
    status, body, _ = http("POST", f"{service}/next", {"history": ["Alien"] * 100_000})
    assert status == 413
    status, body, _ = http("POST", f"{service}/next", {"history": ["Alien"] * 1001})
    assert status == 400 and "at most 1000 items" in body["error"]
    t0 = time.perf_counter()
    status, body, _ = http("POST", f"{service}/next", {"history": [f"Nope Qwerty {i}" for i in range(1000)]})
    assert status == 404 and "stopped after 10 unknown" in body["error"] and time.perf_counter() - t0 < 5
    status, body, _ = http("POST", f"{service}/search", {"text": "x" * 20_000})
    assert status == 400 and "at most 10000 characters" in body["error"]
    status, body, _ = http("POST", f"{service}/search", {"text": "a " * 2_000_000})
    assert status == 413 and "at most 262,144" in body["error"]  # a query body is small; checked before parsing
    status, body, _ = http("POST", f"{service}/search", json.dumps({"text": "a\ud800b"}).encode())
    assert status == 400 and "unicode" in body["error"].lower()
    status, body, _ = http("POST", f"{service}/next", {"history": [["Alien", "five"]]})
    assert status == 400 and "history.0" in body["error"]


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
    assert http("GET", f"{guarded}/info")[0] == 401  # a failed key costs two of the 4-request burst
    time.sleep(2.1)  # 2 requests/s refill the burst
    assert http("GET", f"{guarded}/info", headers={"X-API-Key": "wrong"})[0] == 401
    with pytest.raises(StoreError, match="API key"):
        reelvec.connect(guarded).info()
    assert http("GET", f"{guarded}/info", headers={"X-API-Key": "w\xffrong".encode("latin-1").decode("latin-1")})[0] \
        in (401, 429)  # a key with byte 0xff: refused, never a 500
    time.sleep(2.1)
    big = (home[0] / "posters" / "348.jpg").read_bytes()
    assert len(big) > 2000
    status, body, _ = http("POST", f"{guarded}/search/image", big, {"X-API-Key": "s3cret"})
    assert status == 413 and "over 2000 bytes" in body["error"]
    statuses = [http("GET", f"{guarded}/info", headers={"Authorization": "Bearer s3cret"}) for _ in range(8)]
    codes = [s for s, _, _ in statuses]
    assert 200 in codes and 429 in codes  # burst of 4 at 2/s: the rest are told to wait
    assert next(h for s, _, h in statuses if s == 429)["Retry-After"] == "1"
    time.sleep(2.1)
    guesses = [http("GET", f"{guarded}/info", headers={"X-API-Key": f"guess{i}"})[0] for i in range(30)]
    assert guesses[:2] == [401, 401] and set(guesses[2:]) == {429}  # key guessing is rate limited


def test_wrong_keys_lock_a_client_out_of_keyed_routes(home):
    p, url = start(home[1], "--key", "s3cret", "--rate", "1000")  # the general limit out of the way
    try:
        codes = [http("GET", f"{url}/info", headers={"X-API-Key": f"guess{i}"})[0] for i in range(300)]
        assert codes[:20] == [401] * 20 and set(codes[20:]) == {429}  # 20 wrong keys a minute, then 429s
        assert http("GET", f"{url}/info", headers={"X-API-Key": "s3cret"})[0] == 429  # until they refill
        assert http("GET", f"{url}/health")[0] == 200
        # posters load in <img> tags: no key needed (they are named in keyed answers only)
        with urllib.request.urlopen(f"{url}/posters/tmdb:348?w=92", timeout=10) as r:
            assert r.status == 200 and r.headers["Content-Type"] == "image/jpeg"
    finally:
        p.terminate()
        p.wait(timeout=10)


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
    p, url = start(copy, "--allow-edits", "--key", "k", "--cors", "https://admin.example")
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
        key = {"X-API-Key": "k"}
        plain = http("POST", f"{url}/movies", json.dumps({"movies": [{"title": "X"}]}).encode(),
                     key | {"Content-Type": "text/plain"})
        assert plain[0] == 415 and "application/json" in plain[1]["error"]  # what a foreign page's form can send
        foreign = http("POST", f"{url}/movies", {"movies": [{"title": "X"}]},
                       key | {"Content-Type": "application/json", "Origin": "https://evil.example"})
        assert foreign[0] == 403 and "--cors" in foreign[1]["error"]
        assert http("DELETE", f"{url}/movies/Alien", None, key | {"Origin": "https://evil.example"})[0] == 403
        req = urllib.request.Request(f"{url}/movies", method="OPTIONS", headers={
            "Origin": "https://admin.example", "Access-Control-Request-Method": "POST"})
        with urllib.request.urlopen(req, timeout=10) as r:  # a preflight carries no key: answered before the check
            assert r.status == 204 and r.headers["Access-Control-Allow-Origin"] == "https://admin.example"
            assert "X-API-Key" in r.headers["Access-Control-Allow-Headers"]
        assert http("OPTIONS", f"{url}/movies", None, {"Origin": "https://evil.example"})[0] == 403
        status, body, headers = http("POST", f"{url}/movies", {"movies": [{"id": "cors-1", "title": "Admin Pick"}]},
                                     key | {"Content-Type": "application/json", "Origin": "https://admin.example"})
        assert status == 200 and headers["Access-Control-Allow-Origin"] == "https://admin.example"
        assert client.delete("own:cors-1") == ["own:cors-1"]
        probe = http("POST", f"{url}/movies", {"movies": [{"title": "Probe", "poster": "/etc/passwd"}]},
                     key | {"Content-Type": "application/json"})
        assert probe[0] == 400 and "URL" in probe[1]["error"]  # a server path is never read
        for inside in ("http://169.254.169.254/latest/meta-data", "http://127.0.0.2/x.jpg", "http://[::1]/x.jpg",
                       "http://0x7f000001/x.jpg", "http://localhost/x.jpg"):
            probe = http("POST", f"{url}/movies", {"movies": [{"title": "Probe", "poster": inside}]},
                         key | {"Content-Type": "application/json"})
            assert probe[0] == 400 and "public poster URL" in probe[1]["error"], inside
        long = http("POST", f"{url}/movies", {"movies": [{"title": "x" * 100_000}]},
                    key | {"Content-Type": "application/json"})
        assert long[0] == 400 and "at most 300" in long[1]["error"]
        with pytest.raises(UnknownMovieError):
            client.movie("Probe")
    finally:
        p.terminate()
        p.wait(timeout=10)
    assert len([x for x in (copy / "edits.jsonl").read_text().splitlines() if '"op"' in x]) == 4  # 2 adds, 2 deletes


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
    from reelvec.app.workers import Balance
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


def test_openapi_is_valid_and_covers_every_route(home):
    """The OpenAPI document validates (openapi-spec-validator) and lists every route the service
    answers, with each of its methods."""
    from openapi_spec_validator import validate

    from reelvec.app.serve import make_app, openapi_spec

    spec = openapi_spec()
    validate(spec)
    with reelvec.open(home[1]) as engine:
        app = make_app(engine)
        routes = {(r.method.lower(), r.resource.canonical) for r in app.router.routes() if r.method != "HEAD"}
    documented = {(m, p) for p, ops in spec["paths"].items() for m in ops} | {("get", "/openapi.json")}
    assert routes <= documented, routes - documented
