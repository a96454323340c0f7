"""The search API on a small index built by the real pipeline, on both store backends."""
import json

import pytest
from conftest import local_server_copy
from datagen import make_dataset
from helpers_images import drawn_poster, jpeg_bytes

import reelvec
from reelvec.app import BuildConfig
from reelvec.app import build as run_build
from reelvec.cli import main
from reelvec.errors import SearchError, UnknownMovieError
from reelvec.search import Engine, Recommendation_Search


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    root = tmp_path_factory.mktemp("search")
    data = make_dataset(root / "data")
    home = root / "home"
    rep = run_build(BuildConfig(data=data, home=home, progress=False))
    return data, home, rep


@pytest.fixture(params=["edge", "client"])
def engine(request, built):
    _, home, _ = built
    if request.param == "edge":
        e = reelvec.open(home)
    else:
        e = Engine(local_server_copy(home)[0])
    yield e
    e.close()


def test_build_report(built):
    _, _, rep = built
    assert rep.stages["index"]["points"] == 16 and rep.stages["index"]["swapped"]
    assert rep.stages["encode"]["image_computed"] == 8
    assert rep.stages["answers"]["movies"] == 16 and rep.stages["answers"]["kept"]  # default similar, precomputed
    rerun = run_build(BuildConfig(data=built[0], home=built[1], progress=False))
    assert rerun.stages["answers"]["reused"] is True


def test_similar_by_id_and_title(engine):
    by_id = engine.similar(348, k=5)
    assert len(by_id) == 5 and all(h.tmdb_id != 348 for h in by_id)
    assert [h.tmdb_id for h in engine.similar("alien", k=5)] == [h.tmdb_id for h in by_id]
    scifi = {348, 679, 603, 106, 78, 62, 841, 438631}
    assert sum(h.tmdb_id in scifi for h in by_id) >= 4  # taste clusters are learned
    h = by_id[0]
    assert h.explanation.fused is not None and h.explanation.text is not None and str(h.explanation)
    liked = engine.similar(348, k=5, mode="also-liked")  # the co-liked embedding alone: score = fused cosine
    assert all(x.score == pytest.approx(x.explanation.fused, abs=1e-4) for x in liked)
    assert all(x.explanation.placed_by is None for x in liked)


@pytest.mark.parametrize("mode", ["similar", "content"])
def test_blended_modes_score_by_their_formula(engine, mode):
    """Every preset on both backends: each hit's score is the blend recomputed from what the hit
    explains (cosines, shared genres and people, title similarity), best first."""
    from reelvec.fusion.blend import MODES
    from reelvec.ingest.franchise import TitleSimilarity

    b = engine.blends[mode]
    assert b == MODES[mode]  # the build saved the built-in presets with its model (or a server has none)
    q = engine.movie(348)
    titles = {e.point_id: e.title for e in engine.titles.entries}
    ts = TitleSimilarity(list(titles.values()))
    row = {pid: i for i, pid in enumerate(titles)}
    sims = ts.scores(row[engine.get_movie_index(348)])
    hits = engine.similar(348, k=8, mode=mode)
    assert len(hits) == 8 and [h.score for h in hits] == sorted((h.score for h in hits), reverse=True)
    q_people = {q.get("director")} - {None} | set(q.get("cast", [])[:3])
    for h in hits:
        e, p = h.explanation, engine.movie(h.tmdb_id)
        people = bool(q_people & ({p.get("director")} - {None} | set(p.get("cast", [])[:3])))
        same_series = bool(q.get("series")) and q.get("series") == p.get("series")
        assert 0.0 < p["hub"] <= 1.0  # the build wrote every film's hubness
        expected = b.score(e.fused or 0.0, e.text or 0.0, e.image if e.image is not None else float("nan"),
                           sims[row[engine.get_movie_index(h.tmdb_id)]], bool(e.shared_genres), people,
                           same_series, p["hub"])
        assert h.score == pytest.approx(float(expected), abs=1e-4)
        assert e.placed_by and e.placed_by in str(e)
    assert hits[0].tmdb_id == 679  # Aliens: same title word, same cast, same genres


def test_modes_are_checked(engine):
    with pytest.raises(SearchError, match="unknown mode 'fancy'"):
        engine.similar(348, mode="fancy")


@pytest.mark.parametrize("query,expected", [
    ("the matrx", 603), ("Matrix, The", 603), ("AMELIE", 194), ("amélie!", 194), ("Dune (1984)", 841),
    ("Dune (2021)", 438631), ("Dune [2020]", 438631), ("when harry met sally", 639), ("2001: A Space Odyssey", 62),
])
def test_fuzzy_title_lookup(engine, query, expected):
    pid = engine.get_movie_index(query)
    assert engine.store.retrieve(engine.collection, [pid])[0].payload["tmdb_id"] == expected


def test_titles_resolve_as_people_mean_them(engine):
    """An exact title several films share is the best-known (most votes, then the latest), the
    others come as alternatives; sequel numbers fold; a near-miss is an error with candidates."""
    got = engine.resolve("Dune")
    assert (got.entry.title, got.entry.year) == ("Dune", 2021) and [e.year for e in got.alternatives] == [1984]
    assert got.how == "best-known" and engine.similar("Dune", k=2)
    assert engine.resolve("Dune (1984)").entry.year == 1984 and not engine.resolve("Dune (1984)").alternatives
    with pytest.raises(UnknownMovieError) as e:
        engine.similar("Zzyzx Road Trip Quartet")
    assert "closest" in str(e.value)
    with pytest.raises(UnknownMovieError, match="TMDB id 999999"):
        engine.similar(999999)


def test_sequel_numbers_fold():
    from reelvec.search.titles import TitleEntry, TitleIndex, fold
    assert fold("godfather part ii") == "godfather 2" and fold("alien3") == "alien 3" and fold("rocky iv") == "rocky 4"
    idx = TitleIndex([TitleEntry("a", "Alien³", 1992, 8077, 900), TitleEntry("b", "The Godfather: Part II", 1974, 240, 900),
                      TitleEntry("c", "Mad Max 2: The Road Warrior", 1981, 8810, 700),
                      TitleEntry("d", "Mad Max", 1979, 9659, 800),
                      TitleEntry("e", "Heat", 1995, 949, 1900), TitleEntry("f", "Heat", 1986, 9000, 30),
                      TitleEntry("g", "Stalker", 1979, 1398, 500)])
    assert idx.resolve("Alien 3").entry.point_id == "a"
    assert idx.resolve("Godfather 2").entry.point_id == "b" and idx.resolve("The Godfather Part 2").entry.point_id == "b"
    assert idx.resolve("Mad Max 2").entry.point_id == "c"
    heat = idx.resolve("Heat")
    assert heat.entry.year == 1995 and [e.year for e in heat.alternatives] == [1986]
    with pytest.raises(UnknownMovieError, match="closest"):
        idx.resolve("Mad Max 7")


def test_aliases_find_a_film_as_its_own_title_does():
    """Wikipedia's "Seven" is Se7en (an alias from the merge): the alias resolves to it, ahead of
    a little-known film that is titled "Seven" (but not when the year asks for that one)."""
    from reelvec.search.titles import TitleEntry, TitleIndex
    idx = TitleIndex([TitleEntry("se7en", "Se7en", 1995, 807, 5000), TitleEntry("seven79", "Seven", 1979, None, 0),
                      TitleEntry("other", "Sevens", 2001, 1, 3)], aliases={"se7en": ("Seven",), "nobody": ("X",)})
    got = idx.resolve("Seven")
    assert got.entry.point_id == "se7en" and [e.point_id for e in got.alternatives] == ["seven79"]
    assert idx.resolve("Seven (1979)").entry.point_id == "seven79"
    assert idx.resolve("Se7en").entry.point_id == "se7en" and idx.resolve("Se7en").how == "exact"
    with pytest.raises(UnknownMovieError, match="Latin-script"):
        idx.resolve("七人の侍")
    with pytest.raises(UnknownMovieError, match="empty title"):
        idx.resolve("  ")
    only = TitleIndex([TitleEntry("se7en", "Se7en", 1995, 807, 5000)], aliases={"se7en": ("Seven",)})
    assert only.resolve("Seven").how == "alias"


def test_filters_are_pushed_down_and_return_exactly_k(engine):
    hits = engine.similar(603, k=3, genres=["Comedy"])
    assert len(hits) == 3 and all("Comedy" in h.genres for h in hits)
    hits = engine.similar(603, k=4, years=(1985, 1995), exclude_genres=["Drama"])
    assert len(hits) == 4 and all(1985 <= h.year <= 1995 and "Drama" not in h.genres for h in hits)
    hits = engine.similar(603, k=2, genres_all=["Comedy", "Romance"], after=1995)
    assert all({"Comedy", "Romance"} <= set(h.genres) and h.year >= 1995 for h in hits)
    assert engine.similar(603, k=10, genres=["Western"]) == []  # none exist: empty, not an error
    assert len(engine.similar(603, k=50)) == 15  # everything but the query itself
    with pytest.raises(SearchError, match="empty year range"):
        engine.similar(603, years=(2000, 1990))


def test_weights(engine):
    text_only = engine.similar(348, k=6, weights={"text": 1.0, "image": 0.0})
    plain_text = engine.similar(348, k=6, weights={"text": 1.0})
    assert [h.tmdb_id for h in text_only] == [h.tmdb_id for h in plain_text]
    assert [h.score for h in text_only] == pytest.approx([h.explanation.text for h in text_only], abs=1e-4)
    mixed = engine.similar(348, k=6, weights={"text": 1.0, "image": 0.3})
    for h in mixed:
        expected = (h.explanation.text + 0.3 * (h.explanation.image or 0.0)) / 1.3
        assert h.score == pytest.approx(expected, abs=1e-4)
    with pytest.raises(SearchError, match="unknown weight"):
        engine.similar(348, weights={"sound": 1})
    with pytest.raises(SearchError, match=">= 0"):
        engine.similar(348, weights={"text": -1})
    with pytest.raises(SearchError, match="no usable modality"):
        engine.similar(679, weights={"image": 1.0})  # Aliens (679) has no poster in this data


def test_search_text_and_image(engine, built, tmp_path):
    data, _, _ = built
    hits = engine.search_text("a heist comedy in paris", k=3)
    assert 11820 in [h.tmdb_id for h in hits]  # French Kiss: Paris, heist, comedy
    assert len(engine.search_text("space", k=2, genres=["Romance"])) == 2
    img = data / "posters" / "348.jpg"
    hits = engine.search_image(str(img), k=3)
    assert hits[0].tmdb_id == 348 and hits[0].explanation.image == pytest.approx(1.0, abs=1e-3)
    assert engine.search_image(img.read_bytes(), k=1)[0].tmdb_id == 348
    bad = tmp_path / "bad.jpg"
    bad.write_bytes(jpeg_bytes(drawn_poster())[:200])
    with pytest.raises(SearchError, match="cannot use image"):
        engine.search_image(str(bad))
    with pytest.raises(SearchError, match="empty search text"):
        engine.search_text("   ")


def test_search_text_reads_plots_and_is_the_same_for_every_k(engine):
    from reelvec.fusion.textrank import popularity, rank

    hits = engine.search_text("commandos hunted by a predator in the jungle", k=3)
    assert hits[0].tmdb_id == 106
    note = hits[0].explanation.note
    assert "jungle" in note and "predator" not in note  # plot words, never a word only in the title
    assert engine.search_text("a shy waitress who changes the lives of others", k=1)[0].tmdb_id == 194
    for q, flt in (("space", {}), ("love in paris", {"genres": ["Romance"]}), ("alien creature", {"after": 1980})):
        full = engine.search_text(q, k=16, **flt)
        for k in (1, 3, 10):
            assert [h.key for h in engine.search_text(q, k=k, **flt)] == [h.key for h in full[:k]]
    how = engine.text_rank
    full = engine.search_text("alien creature", k=16)
    payloads = [engine.movie(h.tmdb_id) for h in full]
    again = rank("alien creature", [h.explanation.text for h in full], payloads, how)
    for h, r, p in zip(full, sorted(again, key=lambda r: r.index), payloads):
        assert h.score == pytest.approx(r.score, abs=1e-4)  # cosine + plot words + popularity
        assert h.score >= h.explanation.text + how.popular * popularity(p.get("vote_count"), how.votes_scale) - 1e-4
    with pytest.raises(SearchError, match="at most"):
        engine.search_text("word " * 5000)
    full = engine.search_text("alien creature", k=8)  # pages, exclusions, diversity, as in similar
    assert [h.key for h in engine.search_text("alien creature", k=3, offset=4)] == [h.key for h in full[4:7]]
    assert full[0].tmdb_id not in [h.tmdb_id for h in engine.search_text("alien creature", k=5,
                                                                          exclude=[full[0].tmdb_id])]
    div = engine.search_text("alien creature", k=8, diversity=0.5)
    assert div[0].key == full[0].key and len(div) == 8


def test_pages_exclusions_groups_and_diversity(engine):
    from reelvec.search.lists import mmr, one_per_group

    keys = lambda hits: [h.key for h in hits]
    for flt in ({}, {"genres": ["Comedy", "Science Fiction"]}):
        full = engine.similar(348, k=9, **flt)
        assert keys(engine.similar(348, k=3, offset=2, **flt)) == keys(full[2:5])  # pages agree with a longer k
        assert keys(engine.similar(348, k=4, offset=7, **flt)) == keys(engine.similar(348, k=11, **flt)[7:11])
        div = engine.similar(348, k=9, diversity=0.6, **flt)
        assert keys(engine.similar(348, k=4, offset=3, diversity=0.6, **flt)) == keys(div[3:7])
        assert div[0].key == full[0].key and set(keys(div)) <= set(keys(engine.similar(348, k=30, **flt)))
    assert keys(engine.similar(348, k=5, diversity=0.0)) == keys(engine.similar(348, k=5))
    dropped = engine.similar(348, k=5, exclude=[679, "The Matrix"])
    assert not {679, 603} & {h.tmdb_id for h in dropped} and len(dropped) == 5
    grouped = engine.similar(348, k=8, group_by="series")
    named = [h.series for h in grouped if h.series]
    assert len(named) == len(set(named))
    hit = engine.similar("Alien", k=1)[0]
    assert hit.tmdb_url and hit.tmdb_url.startswith("https://www.themoviedb.org/movie/") and hit.overview
    for bad in ({"offset": -1}, {"group_by": "genre"}, {"diversity": 2}, {"exclude_series": "yes"}):
        with pytest.raises(SearchError):
            engine.similar(348, **bad)
    # the pure parts
    assert one_per_group(["a1", "b1", "a2", "x", "x"], lambda s: None if s == "x" else s[0]) == ["a1", "b1", "x", "x"]
    import numpy as np
    v = np.array([[1, 0], [0.99, 0.1], [0, 1]], float)
    assert mmr([1.0, 0.95, 0.5], v, 0.0) == [0, 1, 2] and mmr([1.0, 0.95, 0.5], v, 0.6) == [0, 2, 1]


def test_vector_of_reads_the_indexed_film_not_the_text(engine):
    import numpy as np

    v = engine.vector_of("Alien")
    assert v.shape == (256,) and abs(float(np.linalg.norm(v)) - 1) < 1e-3
    assert engine.similar("Alien", k=1, mode="also-liked")[0].explanation.fused == pytest.approx(
        float(v @ engine.vector_of(engine.similar("Alien", k=1, mode="also-liked")[0].tmdb_id)), abs=1e-3)
    assert engine.vector_of(348, "text").shape == (384,)
    with pytest.raises(SearchError, match="no image vector"):
        engine.vector_of(679, "image")  # Aliens has no poster here
    with pytest.raises(SearchError, match="unknown vector"):
        engine.vector_of(348, "sound")


def test_recommend(engine):
    assert [h.key for h in engine.recommend(["Alien"], k=5, after=1980)] == \
        [h.key for h in engine.similar("Alien", k=5, after=1980)]  # one positive: what similar answers
    hits = engine.recommend(positive=[603, "Alien"], negative=["Amélie"], k=5)
    ids = [h.tmdb_id for h in hits]
    assert len(hits) == 5 and not {603, 348, 194} & set(ids)
    with pytest.raises(SearchError, match="at least one positive"):
        engine.recommend(positive=[])


@pytest.mark.parametrize("k", [0, -3, 2.5])
def test_bad_k(engine, k):
    with pytest.raises(SearchError, match="positive integer"):
        engine.similar(603, k=k)


def test_seed_compat_layer(built):
    _, home, _ = built
    rs = Recommendation_Search(home)
    assert rs.get_recommendations("The Matrix", k=3)[0].title
    assert rs.get_movie_index("The Matrix")
    rs.engine.close()


def test_cli_similar_and_search(built, capsys):
    _, home, _ = built
    assert main(["similar", "Alien", "-k", "3", "--store", str(home), "--json"]) == 0
    lines = [json.loads(l) for l in capsys.readouterr().out.splitlines()]
    assert len(lines) == 3 and {"title", "year", "genres", "score", "why"} <= set(lines[0])
    assert main(["similar", "Alien", "-k", "3", "--store", str(home), "--genre", "Comedy"]) == 0
    out = capsys.readouterr().out
    assert "movies like Alien (1979)" in out and "why" in out
    assert main(["search", "paris", "romance", "--store", str(home), "-k", "2"]) == 0
    assert "matching 'paris romance'" in capsys.readouterr().out
    assert main(["similar", "Dune", "--store", str(home), "-k", "2"]) == 0
    assert "movies like Dune (2021); also: Dune (1984)" in capsys.readouterr().out
    assert main(["similar", "603", "--weights", "text=oops", "--store", str(home)]) == 2


def test_open_without_index_is_a_clear_error(tmp_path):
    with pytest.raises(SearchError, match="reelvec build"):
        reelvec.open(tmp_path / "nothing")


def test_html_report_page(built, tmp_path):
    from html.parser import HTMLParser

    _, home, _ = built
    out = tmp_path / "alien.html"
    assert main(["report", "--query", "Alien", "-k", "4", "--store", str(home), "--out", str(out)]) == 0

    class P(HTMLParser):
        def __init__(self):
            super().__init__()
            self.figures, self.imgs, self.titles, self.h1 = [], [], [], ""
            self._in = None

        def handle_starttag(self, tag, attrs):
            a = dict(attrs)
            if tag == "figure":
                self.figures.append(a)
            if tag == "img":
                self.imgs.append(a)
            if tag in ("h1", "b"):
                self._in = tag

        def handle_data(self, data):
            if self._in == "h1":
                self.h1 += data
            elif self._in == "b":
                self.titles.append(data)

        def handle_endtag(self, tag):
            self._in = None
    p = P()
    p.feed(out.read_text())
    assert p.h1 == "Movies like Alien (1979)"
    assert [f["data-rank"] for f in p.figures] == ["1", "2", "3", "4"] and len(p.titles) == 4
    assert any(i.get("class") == "query" and i["src"].startswith("data:image/jpeg;base64,") for i in p.imgs)
    content = tmp_path / "content.html"
    assert main(["report", "--query", "Alien", "-k", "4", "--mode", "content", "--store", str(home),
                 "--out", str(content)]) == 0
    assert "mode content" in content.read_text()


def test_report_embeds_fetched_remote_posters(tmp_path):
    """A remote poster the home fetched is embedded (the page works offline); one never fetched
    stays a link; a missing file gives no image."""
    from helpers_images import drawn_poster, jpeg_bytes

    from reelvec.search.engine import Hit
    from reelvec.search.html import render_results

    cached = tmp_path / "p.jpg"
    cached.write_bytes(jpeg_bytes(drawn_poster()))
    hits = [Hit(1, "Fetched", 2000, (), 1.0, poster="https://img.example/a.jpg"),
            Hit(2, "Not fetched", 2001, (), 0.9, poster="https://img.example/b.jpg"),
            Hit(3, "Gone", 2002, (), 0.8, poster=str(tmp_path / "missing.jpg"))]
    page = render_results("t", None, hits, fetched={"https://img.example/a.jpg": str(cached)})
    assert page.count("data:image/jpeg;base64,") == 1 and 'src="https://img.example/b.jpg"' in page
    assert "img.example/a.jpg" not in page and page.count("no poster") == 1


def test_for_history(built):
    _, home, rep = built
    assert "sequence" in rep.stages
    with reelvec.open(home) as engine:
        hits = engine.for_history(["Alien", "Aliens", 106], k=5)
        ids = [h.tmdb_id for h in hits]
        assert len(hits) == 5 and not {348, 679, 106} & set(ids)
        assert "sequence model" in hits[0].explanation.note
        rated = engine.for_history([("Alien", 5.0), ("The Matrix", 4.0)], k=3, genres=["Science Fiction"])
        assert len(rated) == 3 and all("Science Fiction" in h.genres for h in rated)
        one = engine.for_history(["Amélie"], k=3)
        assert "one-movie history" in one[0].explanation.note and 194 not in [h.tmdb_id for h in one]
        cold = engine.for_history([], k=4, genres=["Comedy"])
        assert len(cold) == 4 and all("Comedy" in h.genres for h in cold)
        votes = [engine.store.retrieve(engine.collection, [reelvec.index.point_id(h.key)])[0].payload["vote_count"]
                 for h in cold]
        assert votes == sorted(votes, reverse=True) and "most popular" in cold[0].explanation.note
        with pytest.raises(UnknownMovieError) as e:
            engine.for_history(["Alien", "Zzyzx Quartet"])
        assert "Zzyzx" in str(e.value) and "closest" in str(e.value)
        with pytest.raises(UnknownMovieError):
            engine.for_history(["Qwxz Unknown", "Zzyzx Quartet"])
        seen = engine.for_history(["Alien", "Aliens"], k=16, exclude_seen=False)
        assert len(seen) == 16


def test_cli_next(built, capsys):
    _, home, _ = built
    assert main(["next", "Alien", "Aliens@4.5", "Predator", "-k", "3", "--store", str(home), "--json"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 3
    assert main(["next", "Alien@great", "--store", str(home)]) == 2


@pytest.mark.parametrize("flt", [{}, {"genres": ["Comedy", "Science Fiction"]}, {"years": (1980, 2005)}])
def test_the_ranking_does_not_depend_on_k(engine, monkeypatch, flt):
    """The candidates of a blended `similar` are the same for every k up to BLEND_POOL (here 4,
    so that 16 movies are more than one pool): the top 2 at k=2 are the first 2 at k=3 and k=4,
    for every movie, with and without filters, on both backends."""
    import reelvec.search.ranking as eng
    monkeypatch.setattr(eng, "BLEND_POOL", 4)
    monkeypatch.setattr(eng, "PEOPLE_POOL", 2)
    engine.store.answer = lambda collection, pid: None  # computed, not precomputed
    for e in engine.titles.entries:
        runs = [[h.key for h in engine.similar(e.tmdb_id, k=k, **flt)] for k in (2, 3, 4)]
        assert runs[0] == runs[1][:2] == runs[2][:2], (e.title, flt, runs)


def test_same_people_and_series_are_candidates(engine, monkeypatch):
    """A film that shares a lead actor (or a director, or a series) is fetched as a candidate by a
    prefetch of its own, whatever the nearest ones are: Aliens (Sigourney Weaver) for Alien."""
    import reelvec.search.ranking as eng
    monkeypatch.setattr(eng, "BLEND_POOL", 1)
    engine.store.answer = lambda collection, pid: None
    q = engine.store.retrieve(engine.collection, [engine.get_movie_index("Alien")])[0]
    assert "Sigourney Weaver" in eng._shared_keys(q.payload)["cast_any"]
    seen = []
    batch = engine.store.query_batch

    def spy(collection, specs):
        out = batch(collection, specs)
        seen.extend((s.filter.cast_any, [f.id for f in r]) for s, r in zip(specs, out))
        return out
    monkeypatch.setattr(engine.store, "query_batch", spy)
    engine.similar("Alien", k=1)
    aliens = engine.get_movie_index("Aliens")
    assert any(cast and aliens in ids for cast, ids in seen), seen


# ------------------------------------------------------------- both backends, the same answers
def _server_engine(home):
    """The home's collection in qdrant-client's local mode, with the home's model and encoders:
    what `reelvec.open(home, url=...)` gives once the collection is on a server."""
    m = json.loads((home / "manifest.json").read_text())
    return Engine(local_server_copy(home)[0], encoders_dir=str(home / m["encoders"]) if m.get("encoders") else None,
                  model_dir=str(home / m.get("model", "model")), text_max_tokens=m.get("text_max_tokens"),
                  text_encoder=m.get("text_encoder") or "minilm")


CONGRUENT = [  # every query kind of the Engine, with the options a website passes
    ("similar", ("Alien",), {}),
    ("similar", (603,), {"k": 8, "genres": ["Action"]}),
    ("similar", ("Alien",), {"mode": "content", "years": (1970, 2000)}),
    ("similar", ("The Matrix",), {"mode": "also-liked", "exclude_genres": ["Drama"]}),
    ("similar", ("Alien",), {"weights": {"text": 1.0, "image": 1.0}, "k": 5}),
    ("similar", ("Alien",), {"offset": 3, "k": 4, "exclude": [106], "languages": ["en"]}),
    ("similar", ("Alien",), {"exclude_series": True, "group_by": "series", "k": 6}),
    ("similar", ("Pretty Woman",), {"diversity": 0.2, "k": 6, "after": 1980}),
    ("search_text", ("a heist comedy in paris",), {"k": 5}),
    ("search_text", ("space",), {"k": 4, "genres": ["Romance"], "offset": 1}),
    ("search_image", ("POSTER",), {"k": 4}),
    ("recommend", ([603, "Alien"],), {"negative": ["Amélie"], "k": 5}),
    ("recommend", (["Alien"],), {"k": 5, "after": 1980}),
    ("for_history", (["Alien", "Aliens", 106],), {"k": 5}),
    ("for_history", ([("Alien", 5.0), ("The Matrix", 4.0)],), {"k": 3, "genres": ["Science Fiction"]}),
    ("for_history", ([],), {"k": 4, "genres": ["Comedy"]}),
]


def test_every_query_kind_answers_the_same_on_both_backends(built):
    """The published copy (embedded home) and the server backend give the same hits, scores
    and explanations for every query kind."""
    data, home, _ = built
    server = _server_engine(home)
    with reelvec.open(home) as local:
        for method, args, kw in CONGRUENT:
            args = tuple(str(data / "posters" / "348.jpg") if a == "POSTER" else a for a in args)
            a, b = getattr(local, method)(*args, **kw), getattr(server, method)(*args, **kw)
            assert [h.tmdb_id for h in a] == [h.tmdb_id for h in b], (method, args, kw)
            assert [h.score for h in a] == pytest.approx([h.score for h in b], abs=1e-4), (method, args, kw)
            assert [str(h.explanation) for h in a] == [str(h.explanation) for h in b], (method, args, kw)
            assert 0 < len(a) <= kw.get("k", 10), (method, args, kw)
        for q in ("Alien", 603, "Dune (1984)"):
            assert local.movie(q) == server.movie(q)
            assert local.query_info(q) == server.query_info(q)
    server.close()
