import json

import pytest
from conftest import TMDB_HEADER, tmdb_row, write_tmdb

from reelvec.errors import IngestError
from reelvec.ingest.movie import Movie, canonical_genre, normalise_title
from reelvec.ingest.movielens import load_ratings, parse_movielens_title, read_links, read_movielens
from reelvec.ingest.quarantine import SourceReport
from reelvec.ingest.tmdb import read_tmdb
from reelvec.ingest.wikipedia import director_from_extract, read_wikipedia


@pytest.mark.parametrize("a,b", [("Matrix, The", "The Matrix"), ("The Matrix!", "the matrix"),
                                 ("Amélie", "Amelie"), ("Fast & Furious", "Fast and Furious")])
def test_normalise_title_equivalences(a, b):
    assert normalise_title(a) == normalise_title(b)


def test_canonical_genres():
    assert canonical_genre("Sci-Fi") == canonical_genre("science fiction") == "Science Fiction"
    assert canonical_genre("Children") == "Family"
    assert canonical_genre("(no genres listed)") == ""
    assert canonical_genre("war") == "War"


def test_movie_roundtrip_dict():
    m = Movie(key="tmdb:1", title="X", tmdb_id=1, genres=("A",), provenance=(("title", "tmdb"),))
    assert Movie.from_dict(json.loads(json.dumps(m.to_dict()))) == m
    assert m.source_of("title") == "tmdb"


def test_tmdb_good_rows_and_embedded_newline(tmp_path):
    p = write_tmdb(tmp_path / "t.csv", [tmdb_row(1, "One", overview="line one\nline two"), tmdb_row(2, "Two")])
    movies, rej, rep = read_tmdb(p)
    assert [m.tmdb_id for m in movies] == [1, 2] and not rej
    assert movies[0].overview == "line one line two"
    assert movies[0].revenue is None and movies[0].budget == 1000.0  # 0 = unknown
    assert movies[0].year == 1999 and movies[0].companies == ("Acme Films",)
    assert movies[0].countries == ("US",) and movies[0].spoken_languages == ("en",)
    assert rep.rows_read == 2 and rep.reconciles


def test_tmdb_missing_column_fails_fast_listing_found(tmp_path):
    header = [c for c in TMDB_HEADER if c != "genres"]
    p = write_tmdb(tmp_path / "t.csv", [tmdb_row(1, "One")], header=header)
    with pytest.raises(IngestError) as e:
        read_tmdb(p)
    assert "missing required column(s) genres" in str(e.value) and "columns found: budget" in str(e.value)
    assert "t.csv" in str(e.value)


def test_tmdb_bad_rows_are_quarantined_and_reconciled(tmp_path):
    rows = [
        tmdb_row(1, "Good"),
        tmdb_row(2, "Broken JSON", genres=("x",), keywords=("y",)) | {"genres": "[{'name': 'Action'}"},
        tmdb_row(3, "Bad date", date="1999-13-45"),
        tmdb_row("x4", "Bad id"),
        tmdb_row(1, "Good"),  # identical duplicate: merged silently
        tmdb_row(1, "Different"),  # same id, different content
        tmdb_row(5, "Bad number", popularity="lots"),
        tmdb_row(6, "Enc"),
    ]
    p = write_tmdb(tmp_path / "t.csv", rows)
    raw = p.read_bytes().replace(b"Enc", b"En\xff\xfe")  # invalid UTF-8
    p.write_bytes(raw)
    movies, rej, rep = read_tmdb(p)
    assert [m.tmdb_id for m in movies] == [1]
    reasons = [r.reason for r in rej]
    assert any(r.startswith("broken JSON in column genres") for r in reasons)
    assert any(r.startswith("unparseable release_date") for r in reasons)
    assert any(r.startswith("bad id") for r in reasons)
    assert any(r.startswith("duplicate id with different content") for r in reasons)
    assert any(r.startswith("non-numeric popularity") for r in reasons)
    assert any(r.startswith("invalid UTF-8") for r in reasons)
    assert rep.rows_read == 8 and rep.accepted == 2 and rep.quarantined == 6 and rep.duplicates_merged == 1
    assert rep.reconciles
    where = {r.reason.split(":")[0]: r.where for r in rej}
    assert where["unparseable release_date"] == "t.csv:4"
    assert all(r.source == "tmdb" and r.raw for r in rej)


def test_movielens_titles():
    assert parse_movielens_title("Matrix, The (1999)") == ("The Matrix", 1999)
    assert parse_movielens_title("Seven (a.k.a. Se7en) (1995)") == ("Seven", 1995)
    assert parse_movielens_title("City of Lost Children, The (Cité des enfants perdus, La) (1995)") == (
        "The City of Lost Children", 1995)
    assert parse_movielens_title("Untitled") == ("Untitled", None)
    assert parse_movielens_title("Babylon 5 (1994-1998)") == ("Babylon 5", 1994)


def test_movielens_reader_and_links(tiny_data):
    movies, rej, rep = read_movielens(tiny_data / "movielens")
    by = {m.movielens_id: m for m in movies}
    assert by[2571].key == "tmdb:603" and by[2571].imdb_id == "tt0133093"
    assert by[2571].genres == ("Action", "Science Fiction", "Thriller")
    assert by[5].key == "ml:5" and by[5].tmdb_id is None
    assert rep.reconciles and rep.rows_read == 3


def test_movielens_bad_link_row_is_quarantined(tmp_path):
    p = tmp_path / "links.csv"
    p.write_text("movieId,imdbId,tmdbId\n1,0114709,862\nx,1,2\n3,abc,4\n")
    rej, rep = [], SourceReport("movielens")
    links = read_links(p, rej, rep)
    assert links == {1: ("tt0114709", 862)} and rep.quarantined == 2
    assert rej[0].where == "links.csv:3"


def test_ratings_table_drops_and_counts_bad_rows(tiny_data):
    links = {1: ("tt0114709", 862), 2571: ("tt0133093", 603)}
    r = load_ratings(tiny_data / "movielens" / "ratings.csv", links)
    assert len(r) == 2 and r.attrs["rejected"] == 1
    assert r["tmdb_id"].tolist() == [862, 603]


def test_wikipedia_reader(tiny_data, tmp_path):
    (tiny_data / "wikipedia" / "movies-2000s.json").write_text("{not json")
    movies, rej, rep = read_wikipedia(tiny_data / "wikipedia")
    titles = {m.title for m in movies}
    assert titles == {"Alien", "Star Wars", "The Matrix"}
    alien = next(m for m in movies if m.title == "Alien")
    assert alien.director == "Ridley Scott" and alien.cast[0] == "Sigourney Weaver"
    assert alien.poster.startswith("https://")
    reasons = sorted(r.reason.split(":")[0] for r in rej)
    assert reasons == ["bad year", "unreadable JSON file"]
    assert rep.rows_read == 5 and rep.reconciles


def test_wikipedia_missing_folder(tmp_path):
    with pytest.raises(IngestError, match="no Wikipedia"):
        read_wikipedia(tmp_path)


def test_director_from_extract():
    assert director_from_extract("a film directed, written and produced by James Cameron and starring X") == "James Cameron"
    assert director_from_extract("produced by Someone Else") is None
    assert director_from_extract(None) is None
