"""Live edits: embed, upsert, delete on a built home, on the embedded store (readers of the
published copy see them) and on the qdrant-client backend; edits survive rebuilds."""
import json

import numpy as np
import pytest
from conftest import copy_home, local_server_copy
from helpers_images import drawn_poster

import reelvec
from reelvec.app import BuildConfig
from reelvec.app import build as run_build
from reelvec.errors import SearchError, UnknownMovieError
from reelvec.search import Engine

ALIEN_LIKE = {"id": "ship-9", "title": "Void Stalker", "year": 2024, "genres": ["Horror", "Science Fiction"],
              "keywords": ["alien", "spaceship", "creature"],
              "overview": "A space crew meets a deadly alien creature aboard their ship, far from home."}
ROMCOM_LIKE = {"id": "ship-9", "title": "Void Stalker", "year": 2024, "genres": ["Comedy", "Romance"],
               "keywords": ["paris", "love", "waitress"],
               "overview": "A shy waitress in Paris falls in love with a charming thief."}
SCIFI = {"Alien", "Aliens", "The Matrix", "Predator", "Blade Runner", "2001: A Space Odyssey", "Dune"}


@pytest.fixture
def home(built_home, tmp_path):
    return copy_home(built_home[1], tmp_path / "home")


def _client_engine(home):
    """The same collection in qdrant-client's local mode, with the home's model and encoders."""
    store, _ = local_server_copy(home)
    return Engine(store, model_dir=str(home / "model"), encoders_dir=str(home / "features" / "artifacts"),
                  writer=lambda: (store, False), edits=home / "edits.jsonl")


@pytest.fixture(params=["edge", "client"])
def engine(request, home):
    e = reelvec.open(home) if request.param == "edge" else _client_engine(home)
    yield e
    e.close()


def test_add_update_delete(engine, home):
    n = engine.store.count(engine.collection)
    assert engine.upsert(ALIEN_LIKE) == ["own:ship-9"]
    assert engine.store.count(engine.collection) == n + 1
    hits = engine.similar("Void Stalker", k=4)
    assert {h.title for h in hits[:3]} <= SCIFI, [h.title for h in hits]
    assert engine.movie("own:ship-9")["title"] == "Void Stalker"
    engine.upsert(ROMCOM_LIKE)  # same id: replaces it
    assert engine.store.count(engine.collection) == n + 1
    hits = engine.similar("Void Stalker", k=4)
    assert not {h.title for h in hits[:3]} & SCIFI, [h.title for h in hits]
    assert engine.movie("Void Stalker")["genres"] == ["Comedy", "Romance"]
    assert engine.delete("Void Stalker (2024)") == ["own:ship-9"]
    assert engine.store.count(engine.collection) == n
    with pytest.raises(UnknownMovieError):
        engine.similar("Void Stalker")
    lines = [json.loads(x) for x in (home / "edits.jsonl").read_text().splitlines()]
    assert [x["op"] for x in lines if "op" in x] == ["upsert", "upsert", "delete"]
    assert len([x for x in lines if "commit" in x]) == 3  # each edit committed after it was applied


def test_delete_needs_an_exact_title(engine):
    n = engine.store.count(engine.collection)
    with pytest.raises(UnknownMovieError, match="not an exact title"):
        engine.delete("Predatr")
    with pytest.raises(UnknownMovieError):
        engine.delete(["Alien", "no such film zzz"])  # nothing is deleted when one is unknown
    assert engine.store.count(engine.collection) == n
    assert engine.delete(106) == ["tmdb:106"]


def test_bad_movies_are_named(engine):
    with pytest.raises(SearchError, match=r"movie #1 .*no title"):
        engine.upsert([ALIEN_LIKE, {"title": " ", "year": 2000}])
    with pytest.raises(SearchError, match="unknown field.*ratingz"):
        engine.upsert({"title": "X", "ratingz": 5})
    with pytest.raises(SearchError, match="year"):
        engine.upsert({"title": "X", "year": "soon"})


def test_embed(engine, tmp_path):
    v = engine.embed(ALIEN_LIKE)
    assert v.shape == (engine.store.collection_vectors(engine.collection)["fused"],)
    assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)
    m = engine.embed([ALIEN_LIKE, ROMCOM_LIKE], vector="text")
    assert m.shape == (2, 384)
    assert engine.embed("a heist comedy in paris", vector="text").shape == (384,)
    assert engine.embed("a heist comedy in paris").shape == v.shape
    p = tmp_path / "p.png"
    drawn_poster(seed=0).save(p)
    assert engine.embed(p, vector="image").shape == (1280,)
    with pytest.raises(SearchError, match="only an image vector"):
        engine.embed(p)
    with pytest.raises(SearchError, match="one kind"):
        engine.embed(["text", ALIEN_LIKE])
    with pytest.raises(SearchError, match="unknown vector"):
        engine.embed("x", vector="sound")
    engine.upsert(ALIEN_LIKE)  # what upsert stores is what embed computes
    stored = engine.store.retrieve(engine.collection, [engine.get_movie_index("own:ship-9")], with_vectors=True)[0]
    for name in ("fused", "text"):
        s = np.asarray(stored.vec[name], np.float32)
        assert float(s @ engine.embed(ALIEN_LIKE, vector=name) / np.linalg.norm(s)) > 0.9999


def test_add_with_poster(engine, tmp_path):
    p = tmp_path / "poster.png"
    drawn_poster(seed=3).save(p)
    engine.upsert(ALIEN_LIKE | {"poster": str(p)})
    rec = engine.store.retrieve(engine.collection, [engine.get_movie_index("Void Stalker")], with_vectors=True)[0]
    assert "image" in rec.vec and rec.payload["poster_is_local"] is True


def test_other_readers_see_edits_without_restart(home, monkeypatch):
    import reelvec.index.published as published
    import reelvec.search.engine as eng
    monkeypatch.setattr(published, "REFRESH_SECONDS", 0.0)
    monkeypatch.setattr(eng, "ALIAS_CHECK_SECONDS", 0.0)
    reader = reelvec.open(home)
    assert reader.similar("Alien", k=2)
    with reelvec.open(home) as writer:
        writer.upsert(ALIEN_LIKE)
    assert reader.movie("Void Stalker")["year"] == 2024  # the title index followed the new generation
    assert "Void Stalker" in {h.title for h in reader.similar("Alien", k=15)}
    with reelvec.open(home) as writer:
        writer.delete("own:ship-9")
    with pytest.raises(UnknownMovieError):
        reader.movie("Void Stalker")
    reader.close()


def test_edits_survive_a_rebuild(built_home, home):
    data = built_home[0]
    with reelvec.open(home) as e:
        e.upsert(ALIEN_LIKE)
        e.delete("Predator")
        n = e.store.count(e.collection)
    rep = run_build(BuildConfig(data=data, home=home, progress=False))
    assert rep.stages["catalog"]["edits"] == 2 and rep.stages["index"]["swapped"]
    with reelvec.open(home) as e:
        assert e.store.count(e.collection) == n
        assert e.movie("Void Stalker")["key"] == "own:ship-9"
        with pytest.raises(UnknownMovieError):
            e.movie("Predator")
    rep = run_build(BuildConfig(data=data, home=home, progress=False))  # nothing new: reused
    assert rep.stages["index"]["reused"]


def test_bare_store_engines_cannot_write(home):
    with reelvec.open(home / "store") as e:
        with pytest.raises(SearchError, match="cannot write"):
            e.delete("Alien")
        with pytest.raises(SearchError, match="cannot write"):
            e.upsert(ALIEN_LIKE)


def test_cli_add_and_delete(home, tmp_path, capsys):
    from reelvec.cli import main
    new = tmp_path / "new.jsonl"
    new.write_text("\n".join(json.dumps(x) for x in [
        ALIEN_LIKE, {"id": "ship-10", "title": "Deep Orbit", "year": 2025, "genres": "Science Fiction|Thriller"},
        {"id": "bad", "year": 2025}, {"title": "Far Future", "year": "someday"}]) + "\n")
    assert main(["add", str(new), "--store", str(home)]) == 0
    out = capsys.readouterr().out
    assert "own:ship-9\tVoid Stalker (2024)" in out and "own:ship-10" in out
    assert "wrote 2 movie(s) (2 new, 0 replaced)" in out and "new.jsonl:3: no title" in out and "new.jsonl:4" in out
    kept = [json.loads(x) for x in (home / "add.quarantine.jsonl").read_text().splitlines()]
    assert [r["where"] for r in kept] == ["new.jsonl:3", "new.jsonl:4"] and '"bad"' in kept[0]["raw"]
    shop = tmp_path / "shop.csv"
    shop.write_text("sku,name,plot,tags,released\nship-9,Void Stalker,A crew hunts a creature.,Horror|Sci-Fi,2024\n")
    assert main(["add", str(shop), "--map", "id=sku,title=name,overview=plot,genres=tags,year=released",
                 "--store", str(home), "--json"]) == 0
    summary = json.loads(capsys.readouterr().out)
    assert summary["written"] == 1 and summary["replaced"] == 1 and summary["keys"] == ["own:ship-9"]
    assert main(["similar", "Void Stalker", "-k", "3", "--store", str(home)]) == 0
    assert main(["delete", "own:ship-10", "Void Stalker", "--store", str(home)]) == 0
    assert capsys.readouterr().out.splitlines()[-2:] == ["deleted own:ship-10", "deleted own:ship-9"]
    assert main(["delete", "Void Stalker", "--store", str(home)]) == 2
    assert "Void Stalker" in capsys.readouterr().err
    assert main(["info", "--json", "--store", str(home)]) == 0
    info = json.loads(capsys.readouterr().out)
    assert info["live_edits"]["upserts"] == 3 and info["live_edits"]["deletes"] == 2
    assert info["published_generation"] == 3 and info["points"] == 16
    assert info["similar_precomputed"] is False  # answers of generation 0; edits made generation 3
    assert main(["precompute", "--store", str(home), "--json"]) == 0
    done = json.loads(capsys.readouterr().out)
    assert done["movies"] == 16 and done["generation"] == 3 and done["kept"] is True
    assert main(["precompute", "--store", str(home), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["reused"] is True
    assert main(["info", "--json", "--store", str(home)]) == 0
    assert json.loads(capsys.readouterr().out)["similar_precomputed"] is True
    assert main(["add", str(tmp_path / "missing.csv"), "--store", str(home)]) == 2
    assert "no such file" in capsys.readouterr().err


def test_editing_holds_one_writer(engine):
    n = engine.store.count(engine.collection)
    with engine.editing():
        engine.upsert(ALIEN_LIKE)
        engine.upsert(ROMCOM_LIKE | {"id": "ship-10", "title": "Paris Nights"})
        engine.delete("own:ship-9")
    assert engine.store.count(engine.collection) == n + 1
    assert engine.movie("Paris Nights")["key"] == "own:ship-10"


def test_edits_made_during_a_build_reach_the_new_collection(built_home, home, monkeypatch):
    """An add that lands in the old collection while a build encodes (before it takes the lock)
    is replayed into the collection the build swaps in."""
    import reelvec.encoders.pipeline as pipeline
    data = built_home[0]
    with reelvec.open(home) as e:
        e.upsert(ALIEN_LIKE)  # before the build: merged into its catalogue
    original = pipeline.encode_catalog

    def encode_while_someone_adds(*args, **kwargs):
        if not calls:  # the build's encode stage (the edits' own encoding comes later)
            with reelvec.open(home) as e:
                e.upsert({"id": "late-1", "title": "Late Arrival", "year": 2026, "genres": ["Comedy"]})
        calls.append(1)
        return original(*args, **kwargs)
    calls: list = []
    monkeypatch.setattr(pipeline, "encode_catalog", encode_while_someone_adds)
    rep = run_build(BuildConfig(data=data, home=home, progress=False))
    assert rep.swapped and rep.stages["index"]["edits_replayed"] == 1
    with reelvec.open(home) as e:
        assert e.movie("Late Arrival")["key"] == "own:late-1" and e.movie("Void Stalker")["key"] == "own:ship-9"
    lines = [json.loads(x) for x in (home / "edits.jsonl").read_text().splitlines()]
    assert len([x for x in lines if "op" in x]) == 2  # the replay is not logged twice
    from reelvec.ingest.edits import EditLog
    assert EditLog(home / "edits.jsonl").pending() == []


def _similar(engine, movie, **kw):
    return [(h.key, h.score, h.explanation) for h in engine.similar(movie, **kw)]


def test_precomputed_answers_equal_computed_ones(home, monkeypatch):
    """The build keeps every movie's default `similar` (k <= 10) with the published copy; a query
    reads it and gets exactly what computing gives (hits, scores, explanations). Filters, a
    larger k, another mode, another preset or a live edit (a new generation) compute instead."""
    import reelvec.index.published as published
    import reelvec.search.engine as eng
    from reelvec.fusion.blend import Blend
    monkeypatch.setattr(published, "REFRESH_SECONDS", 0.0)
    monkeypatch.setattr(eng, "ALIAS_CHECK_SECONDS", 0.0)
    kept, computed = reelvec.open(home), reelvec.open(home)
    computed.store.answer = lambda collection, pid: None  # this reader never reads them
    assert kept.has_similar_answers()
    movies = [e.tmdb_id for e in kept.titles.entries]
    assert all(kept.store.answer(kept.collection, e.point_id) for e in kept.titles.entries)
    for m in movies:
        for kw in ({"k": 1}, {"k": 4}, {}, {"k": 15}, {"k": 5, "genres": ["Drama"]}, {"mode": "content"}):
            assert _similar(kept, m, **kw) == _similar(computed, m, **kw), (m, kw)
    kept.upsert(ALIEN_LIKE)  # a new generation: its answers would be stale
    assert not kept.has_similar_answers()
    assert "Void Stalker" in {h.title for h in kept.similar("Alien")}
    for m in movies[:6]:
        assert _similar(kept, m) == _similar(computed, m)
    from reelvec import app
    assert app.precompute(app.Home.at(home))["kept"]  # `reelvec precompute`: this generation's answers
    assert kept.has_similar_answers()
    for m in [*movies, "Void Stalker"]:
        assert _similar(kept, m) == _similar(computed, m), m
    other = reelvec.open(home)
    other._blends = {**other.blends, "similar": Blend(fused=1.0, text=0.5, title=0.6, title_floor=0.7)}
    assert not other.has_similar_answers()  # answers of another preset are not used
    for e in (kept, computed, other):
        e.close()


def test_a_deleted_title_is_not_answered_by_a_lookalike(engine):
    """After deleting "The Matrixx", asking for it is an error, not an answer for The Matrix
    (which it resembles); a title several films share is never deleted by guessing."""
    engine.upsert(ALIEN_LIKE | {"title": "The Matrixx"})
    assert engine.movie("The Matrixx")["key"] == "own:ship-9"
    engine.delete("own:ship-9")
    with pytest.raises(UnknownMovieError, match="deleted"):
        engine.similar("The Matrixx")
    assert engine.movie("The Matrix")["title"] == "The Matrix"
    with pytest.raises(UnknownMovieError, match="names 2 films"):
        engine.delete("Dune")  # a query may mean the best-known Dune; a delete must mean one film


def test_a_large_catalogue_precomputes_its_most_voted_films(home, monkeypatch):
    """Above `ANSWERS_MAX` films only the most voted are precomputed (the answers file holds
    those rows alone); the others compute, and both equal computing."""
    import reelvec.index.published as published
    import reelvec.search.ranking as ranking
    from reelvec import app
    monkeypatch.setattr(published, "REFRESH_SECONDS", 0.0)
    monkeypatch.setattr(ranking, "ANSWERS_MAX", 5)
    with reelvec.open(home) as e:
        folder = e.store._copy(e.collection).folder
        gen = e.store.generation(e.collection)
    (folder / f"answers-{gen}.npz").unlink(missing_ok=True)
    assert app.precompute(app.Home.at(home))["kept"]
    kept, computed = reelvec.open(home), reelvec.open(home)
    computed.store.answer = lambda collection, pid: None
    entries = kept.titles.entries
    answered = {x.point_id for x in entries if kept.store.answer(kept.collection, x.point_id)}
    top = sorted(entries, key=lambda x: -x.votes)[:5]
    assert answered == {x.point_id for x in top}
    import numpy as np
    with np.load(folder / f"answers-{gen}.npz") as z:
        assert len(z["rows"]) == 5 and sorted(z["which"].tolist()) == z["which"].tolist()
    for x in entries:
        assert _similar(kept, x.tmdb_id or x.title) == _similar(computed, x.tmdb_id or x.title), x.title
    kept.close()
    computed.close()


def test_movie_objects_get_whole_number_years_and_ids():
    from reelvec.ingest.movie import Movie
    from reelvec.search.live import as_movies

    got = as_movies([Movie(key="own:a", title="A", year=1999.0, tmdb_id=np.int64(7)), Movie(key="own:b", title="B")])
    assert [(type(m.year), m.year, type(m.tmdb_id)) for m in got[:1]] == [(int, 1999, int)]
    assert json.dumps({"year": got[0].year, "tmdb_id": got[0].tmdb_id})  # what the edit log writes
    for bad in (1999.5, float("nan"), "1999", True):
        with pytest.raises(SearchError, match="year .* is not a whole number"):
            as_movies(Movie(key="own:c", title="C", year=bad))
