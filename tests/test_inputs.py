"""Mistakes at the API get a ReelvecError that says what is wrong (and what was meant), never a
bare TypeError, a wrong answer or a long wait."""
import time

import pytest

import reelvec
from reelvec.errors import SearchError, UnknownMovieError
from reelvec.search.titles import TitleEntry, TitleIndex, numbers, to_roman


@pytest.fixture(scope="module")
def engine(built_home):
    with reelvec.open(built_home[1]) as e:
        yield e


def index(*titles):
    return TitleIndex([TitleEntry(f"p{i}", t, y, i, v) for i, (t, y, v) in enumerate(titles)])


def test_fuzzy_titles_need_the_whole_title_and_its_numbers():
    idx = index(("The Godfather", 1972, 9000), ("The Godfather: Part II", 1974, 5000), ("Z", 1969, 50),
                ("Rocky", 1976, 3000), ("Rocky II", 1979, 900), ("The Matrix", 1999, 9000),
                ("The Matrix Reloaded", 2003, 5000))
    assert idx.lookup("Godfather 2").title == "The Godfather: Part II"
    assert idx.lookup("rocky 2").title == "Rocky II" and idx.lookup("Rocky").title == "Rocky"
    assert idx.lookup("the matrx").title == "The Matrix"
    with pytest.raises(UnknownMovieError) as e:
        idx.lookup("zzzzqqq")
    assert "closest" in str(e.value) and e.value.candidates
    assert numbers("the godfather part ii") == {2} and to_roman("rocky 2") == "rocky ii"


def test_filters_are_checked(engine):
    with pytest.raises(SearchError, match="did you mean 'genres'"):
        engine.similar("Alien", genre="Horror")
    with pytest.raises(SearchError, match="pair of integers"):
        engine.similar("Alien", years=("a", "b"))
    with pytest.raises(SearchError, match="must be a year"):
        engine.similar("Alien", after="1990")
    with pytest.raises(SearchError, match="did you mean Comedy"):
        engine.similar("Alien", genres=["Comedyy"])
    with pytest.raises(SearchError, match="unknown language"):
        engine.search_text("space", languages=["english"])
    assert engine.similar("Alien", genres=["Western"]) == []  # a real genre no movie here has: no hits, no error
    assert engine.similar("Alien", languages="de") == []
    assert len(engine.similar("Alien", k=2, genres="Science Fiction")) == 2  # one name is a list of one


def test_movie_arguments_are_checked(engine):
    assert [h.tmdb_id for h in engine.recommend("Alien", k=3)] == [h.tmdb_id for h in engine.recommend(["Alien"], k=3)]
    with pytest.raises(SearchError, match="rating"):
        engine.for_history([("Alien", "x"), "Aliens"])
    with pytest.raises(SearchError, match="list of movies"):
        engine.for_history("Alien")
    t = time.perf_counter()
    with pytest.raises(SearchError, match="not a title"):
        engine.similar("x" * 1_000_000)
    assert time.perf_counter() - t < 1.0


def test_images_are_capped_before_decoding(engine, tmp_path):
    with pytest.raises(SearchError, match="not a poster"):
        engine.search_image("/dev/zero")
    (tmp_path / "empty.jpg").write_bytes(b"")
    with pytest.raises(SearchError, match="empty file"):
        engine.search_image(tmp_path / "empty.jpg")
