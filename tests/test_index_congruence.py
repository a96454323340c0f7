"""One suite, both backends: Qdrant Edge (embedded) and qdrant-client local mode (reference)."""
import numpy as np
import pytest

from reelvec.errors import StoreError
from reelvec.index import PointData, QuerySpec, SearchFilter, point_id
from reelvec.index.edge import EdgeStore
from reelvec.index.server import ServerStore

GENRES = ["Action", "Drama", "Comedy", "Horror", "Science Fiction"]
VECTORS = {"fused": 16, "text": 8, "image": 12}


def make_points(n=300, seed=0):
    rng = np.random.default_rng(seed)
    pts = []
    for i in range(n):
        vec = {"fused": rng.normal(size=16), "text": rng.normal(size=8)}
        if i % 3:
            vec["image"] = rng.normal(size=12)
        g = sorted({GENRES[i % 5], GENRES[(i * 7) % 5]})
        people = {"directors": [f"Director {i % 11}"] + ([f"Director {i % 7}"] if i % 5 == 0 else []),
                  "cast": [f"Actor {i % 13}", f"Actor {(i * 3) % 17}"], "series": f"series {i % 9}" if i % 2 else None}
        pts.append(PointData(point_id(f"tmdb:{i}"), vec, {"tmdb_id": i, "title": f"Film {i}", "year": 1950 + i % 70,
                                                           "genres": g, "original_language": "en" if i % 4 else "fr",
                                                           **{k: v for k, v in people.items() if v}}))
    return pts


@pytest.fixture(params=["edge", "client"])
def store(request, tmp_path):
    s = EdgeStore(tmp_path / "store") if request.param == "edge" else ServerStore(location=":memory:")
    yield s
    s.close()


def exact_ids(points, q, using, flt, k):
    def ok(p):
        pl = p.payload
        return ((not flt.genres_any or set(flt.genres_any) & set(pl["genres"]))
                and all(g in pl["genres"] for g in flt.genres_all)
                and not set(flt.exclude_genres) & set(pl["genres"])
                and (flt.year_min is None or pl["year"] >= flt.year_min)
                and (flt.year_max is None or pl["year"] <= flt.year_max)
                and (not flt.languages or pl["original_language"] in flt.languages)
                and (not flt.series or pl.get("series") in flt.series)
                and pl.get("series") not in flt.exclude_series
                and (not flt.directors_any or set(flt.directors_any) & set(pl.get("directors", ())))
                and (not flt.cast_any or set(flt.cast_any) & set(pl.get("cast", ())))
                and p.id not in flt.exclude_ids and using in p.vectors)
    cands = [p for p in points if ok(p)]
    sims = [np.dot(q, p.vectors[using]) / np.linalg.norm(p.vectors[using]) for p in cands]
    return [cands[i].id for i in np.argsort(sims)[::-1][:k]]


FILTERS = [
    SearchFilter(),
    SearchFilter(genres_any=("Horror",)),
    SearchFilter(genres_all=("Action", "Drama")),
    SearchFilter(exclude_genres=("Comedy",), year_min=1980, year_max=1999),
    SearchFilter(languages=("fr",), exclude_ids=(point_id("tmdb:4"),)),
    SearchFilter(genres_any=("Action", "Horror"), year_min=2030),  # nothing matches
    SearchFilter(series=("series 3",)),  # the candidate prefetches of `similar`
    SearchFilter(directors_any=("Director 2", "Director 4"), genres_any=("Horror",)),
    SearchFilter(cast_any=("Actor 5",), year_min=1990),
    SearchFilter(exclude_series=("series 3", "series 5"), genres_any=("Horror", "Drama")),  # similar(exclude_series=)
]


@pytest.mark.parametrize("flt", FILTERS)
@pytest.mark.parametrize("using", ["fused", "image"])
def test_query_matches_exact_search(store, flt, using):
    pts = make_points()
    store.create_collection("c", VECTORS)
    store.upsert("c", pts)
    store.finalize("c")
    q = np.random.default_rng(5).normal(size=VECTORS[using])
    got = [f.id for f in store.query("c", QuerySpec(q, using, 10, flt))]
    assert got == exact_ids(pts, q, using, flt, 10)


def test_batch_equals_single_and_payload_round_trips(store):
    pts = make_points()
    store.create_collection("c", VECTORS)
    store.upsert("c", pts)
    rng = np.random.default_rng(1)
    specs = [QuerySpec(rng.normal(size=16), "fused", 5, f) for f in FILTERS]
    batch = store.query_batch("c", specs)
    assert [[f.id for f in r] for r in batch] == [[f.id for f in store.query("c", s)] for s in specs]
    hit = store.retrieve("c", [point_id("tmdb:7")], with_vectors=True)[0]
    assert hit.payload["title"] == "Film 7" and set(hit.vectors) == {"fused", "text", "image"}
    assert set(store.retrieve("c", [point_id("tmdb:3")], with_vectors=True)[0].vectors) == {"fused", "text"}


def test_counts_after_upserts_deletes_and_reruns(store):
    pts = make_points(120)
    store.create_collection("c", VECTORS)
    store.upsert("c", pts[:100])
    assert store.count("c") == 100
    store.upsert("c", pts)  # rerun + new points: same ids overwrite, never duplicate
    assert store.count("c") == 120
    store.delete("c", [p.id for p in pts[:20]])
    assert store.count("c") == 100
    assert store.count("c", SearchFilter(has_vector="image")) == sum(1 for p in pts[20:] if "image" in p.vectors)
    assert store.count("c", SearchFilter(genres_any=("Horror",))) == sum("Horror" in p.payload["genres"] for p in pts[20:])
    assert len(list(store.scroll("c", batch=7))) == 100


def test_recommend(store):
    pts = make_points()
    store.create_collection("c", VECTORS)
    store.upsert("c", pts)
    pos = [pts[1].vectors["fused"], pts[2].vectors["fused"]]
    neg = [pts[3].vectors["fused"]]
    got = store.recommend("c", pos, neg, "fused", 5, SearchFilter(exclude_ids=(pts[1].id, pts[2].id)))
    assert len(got) == 5 and pts[1].id not in [f.id for f in got]


def test_recommend_congruent(tmp_path):
    pts = make_points()
    out = []
    for s in (EdgeStore(tmp_path / "s"), ServerStore(location=":memory:")):
        s.create_collection("c", VECTORS)
        s.upsert("c", pts)
        got = s.recommend("c", [pts[1].vectors["fused"]], [pts[3].vectors["fused"]], "fused", 8)
        out.append([f.id for f in got])
        s.close()
    assert out[0] == out[1]


def test_aliases_swap(store):
    store.create_collection("a", VECTORS)
    store.create_collection("b", VECTORS)
    store.upsert("a", make_points(10))
    store.upsert("b", make_points(30))
    assert store.resolve_alias("movies") is None
    store.set_alias("movies", "a")
    assert store.count(store.resolve_alias("movies")) == 10
    store.set_alias("movies", "b")
    assert store.resolve_alias("movies") == "b" and store.count("b") == 30
    store.drop_collection("a")
    assert store.collections() == ["b"]


def test_dimension_mismatch_is_a_clear_error(store):
    store.create_collection("c", VECTORS)
    with pytest.raises(StoreError, match="dimension 3"):
        store.upsert("c", [PointData(point_id("x"), {"fused": [1.0, 2.0, 3.0]}, {})])
    with pytest.raises(StoreError, match="exists with vectors"):
        store.create_collection("c", {"fused": 32})


def test_embedded_store_locked_by_other_process(tmp_path):
    import subprocess
    import sys
    s = EdgeStore(tmp_path / "s")
    s.create_collection("c", VECTORS)
    code = ("import sys; from reelvec.index.edge import EdgeStore\n"
            "try:\n EdgeStore(sys.argv[1]).count('c')\nexcept Exception as e: print(type(e).__name__, e)")
    before = {p: p.stat().st_mtime_ns for p in (tmp_path / "s" / "collections" / "c").rglob("*") if p.is_file()}
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "s")], capture_output=True, text=True).stdout
    assert out.startswith("LockedError") and "being written by PID" in out and "collection c" in out, out
    after = {p: p.stat().st_mtime_ns for p in (tmp_path / "s" / "collections" / "c").rglob("*") if p.is_file()}
    assert after == before  # the refused process did not load (and so rewrite) the shard
    s.close()


def test_unreachable_server_is_a_store_error():
    s = ServerStore(url="http://127.0.0.1:9", timeout=2)  # discard port on loopback: refused at once
    with pytest.raises(StoreError, match="unreachable"):
        s.collections()


def test_edge_builds_a_graph_only_for_the_fused_vector(tmp_path):
    """The embedded shard keeps an HNSW graph for `fused` only (readers search text and posters on
    the published copy); text and image queries on the shard are exact scans, still right; a
    collection made before (its metadata names no graphs) keeps a graph for every vector."""
    import json

    pts = make_points()
    for name, old in (("new", False), ("old", True)):
        store = EdgeStore(tmp_path / name)
        store.create_collection("c", VECTORS)
        meta = json.loads((tmp_path / name / "collections" / "c.json").read_text())
        assert meta["graphs"] == ["fused"]
        if old:
            del meta["graphs"]
            (tmp_path / name / "collections" / "c.json").write_text(json.dumps(meta))
            assert store._graphs("c") is None
        store.upsert("c", pts)
        store.finalize("c")
        for using in ("fused", "text", "image"):
            q = np.random.default_rng(3).normal(size=VECTORS[using])
            got = [f.id for f in store.query("c", QuerySpec(q, using, 5))]
            assert got == exact_ids(pts, q, using, SearchFilter(), 5), (name, using)
        store.close()
