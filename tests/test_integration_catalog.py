"""The whole of ../shared/data through the catalog (slow; runs in CI)."""
import pytest

from reelvec.ingest.catalog import build_catalog

pytestmark = pytest.mark.slow


@pytest.fixture(scope="module")
def full(shared_data):
    return build_catalog(shared_data)


def test_reconciliation_numbers(full):
    cat, report = full
    by = {s.source: s for s in report.sources}
    assert by["tmdb"].rows_read == 4803 and by["movielens"].rows_read == 9742
    assert by["wikipedia"].rows_read == 36273
    for s in report.sources:
        assert s.rows_read == s.accepted + s.quarantined
    assert report.merge.merged_tmdb_movielens == 3536  # README: 3,536 TMDB5000 movies in MovieLens
    assert report.merge.merged_wikipedia >= 3413  # at least the exact (title, year) matches
    assert report.merge.with_poster_file == 5052
    assert len(cat) == report.merge.movies


def test_known_movies(full):
    cat, _ = full
    avatar = cat.by_tmdb(19995)
    assert avatar.genres == ("Action", "Adventure", "Fantasy", "Science Fiction")
    assert avatar.keywords[:4] == ("culture clash", "future", "space war", "space colony")
    assert avatar.imdb_id == "tt0499549" and avatar.year == 2009
    assert avatar.director == "James Cameron"
    alien = cat.by_tmdb(348)
    assert alien.director == "Ridley Scott" and "Sigourney Weaver" in alien.cast
    assert alien.poster.endswith("348.jpg")
    toy = cat.by_tmdb(862)
    assert toy.movielens_id == 1 and "Animation" in toy.genres
