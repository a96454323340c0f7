import json

import pandas as pd
import pytest

from reelvec.ingest.movie import Movie
from reelvec.ingest.prep import (
    build_description,
    clean,
    extract_cast,
    extract_names,
    list_to_text,
    preprocess,
    process_description,
)


def test_extract_names_from_json_text_and_lists():
    assert extract_names('[{"id": 28, "name": "Action"}, {"id": 12, "name": "Adventure"}]') == ["Action", "Adventure"]
    assert extract_names([{"name": "A"}, {"name": "A"}, {"name": None}, {"x": 1}]) == ["A"]
    assert extract_names(["x", "y"]) == ["x", "y"]
    assert extract_names(None) == [] and extract_names(float("nan")) == [] and extract_names("") == []
    assert extract_names("[]") == []
    assert extract_names('[{"iso_639_1": "en"}]', key="iso_639_1") == ["en"]


def test_extract_names_rejects_broken_json_and_never_evals():
    with pytest.raises(json.JSONDecodeError):
        extract_names("[{'name': 'Action'}]")  # python literal, not JSON
    with pytest.raises(json.JSONDecodeError):
        extract_names("__import__('os').system('true')")


def test_extract_cast_orders_and_filters_noise():
    credits = json.dumps([{"name": "Bob", "order": 1}, {"name": "Ann", "order": 0}])
    assert extract_cast(credits) == ["Ann", "Bob"]
    assert extract_cast(["Sigourney Weaver", "", "and", "  Tom  Skerritt ", "Sigourney Weaver"]) == [
        "Sigourney Weaver", "Tom Skerritt"]
    assert extract_cast("Keanu Reeves, Carrie-Anne Moss") == ["Keanu Reeves", "Carrie-Anne Moss"]
    assert extract_cast(None) == []
    assert extract_cast(["a1", "b2", "c3"], limit=2) == ["a1", "b2"]


def test_clean_text():
    assert clean("  A <b>bold</b>&amp;  brave[1] tale\u00a0 ") == "A bold & brave tale"
    assert clean('"Quoted."') == "Quoted."
    assert clean(None) == "" and clean(float("nan")) == ""


def test_process_description_strips_specials_keeps_accents():
    assert process_description("Amélie — a *tale*!! of 2 cities; #1") == "Amélie a tale of 2 cities 1"
    assert process_description("") == ""


def test_list_to_text():
    assert list_to_text(["Action", " Sci-Fi ", None, ""]) == "Action, Sci-Fi"
    assert list_to_text(None) == "" and list_to_text([]) == ""
    assert list_to_text(["a", "b"], sep=" | ") == "a | b"


def test_preprocess_imputes_zeros_with_flags():
    df = pd.DataFrame({
        "budget": ["100", "0", "300", "abc"], "revenue": [0, 0, 10, 20], "runtime": [90, None, 0, 120],
        "homepage": [None, "http://x", None, None], "release_date": ["2000-01-02", "", "bad", "1999-12-31"],
        "vote_count": ["1", "2", "3", "4"],
    })
    out = preprocess(df)
    assert out["budget"].tolist() == [100.0, 200.0, 300.0, 200.0]  # mean of the known 100 and 300
    assert out["budget_imputed"].tolist() == [False, True, False, True]
    assert out["revenue"].tolist() == [15.0, 15.0, 10.0, 20.0]
    assert out["runtime_imputed"].tolist() == [False, True, True, False]
    assert out["homepage"].tolist() == ["", "http://x", "", ""]
    assert out["release_date"].iloc[0] == pd.Timestamp("2000-01-02")
    assert pd.isna(out["release_date"].iloc[1]) and pd.isna(out["release_date"].iloc[2])
    assert out["vote_count"].dtype.kind in "if"
    assert df["budget"].tolist()[1] == "0"  # input untouched


def test_preprocess_all_missing_column_fills_zero():
    out = preprocess(pd.DataFrame({"budget": [0, 0]}))
    assert out["budget"].tolist() == [0.0, 0.0] and out["budget_imputed"].all()


def test_build_description_puts_tags_before_long_plot():
    m = Movie(key="tmdb:1", title="Alien", tagline="In space no one can hear you scream.",
              genres=("Horror", "Science Fiction"), keywords=("alien", "spaceship"),
              overview="A crew meets a creature.", plot="Alien is a 1979 film. " * 50,
              director="Ridley Scott", cast=("Sigourney Weaver",), companies=("Fox",))
    d = build_description(m)
    assert d.startswith("Alien. In space no one can hear you scream. Genres Horror Science Fiction. Keywords alien spaceship")
    assert d.index("Genres") < d.index("A crew meets") < d.index("Director Ridley Scott") < d.index("Alien is a 1979")
    assert "Cast Sigourney Weaver" in d
    assert build_description(Movie(key="k", title="Bare")) == "Bare"
