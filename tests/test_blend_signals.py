"""The blend's series, hubness and title-agreement terms, and the checks a film buff makes
(`fusion.faithful`), on tiny hand-made inputs."""
import numpy as np
import pytest

from reelvec.fusion.blend import Blend, hubness, placed_by
from reelvec.fusion.faithful import Checks, checks_of, lookalikes, most_lists
from reelvec.ingest.movie import Movie


def test_series_term_and_hub_penalty():
    b = Blend(fused=1.0, series=0.6, hub=1.0)
    t = b.terms([0.5, 0.5], [0.2, 0.2], [np.nan, np.nan], [0.0, 0.0], [1, 1], [0, 0], [1, 0], [0.9, 0.4])
    assert t["series"].tolist() == [0.6, 0.0]
    assert t["hub"].tolist() == [-0.9, -0.4]
    s = b.score([0.5, 0.5], [0.2, 0.2], [np.nan, np.nan], [0.0, 0.0], [1, 1], [0, 0], [1, 0], [0.9, 0.4])
    assert s.tolist() == pytest.approx([0.5 + 0.6 - 0.9, 0.5 - 0.4])
    # hubness is clipped to [0, 1] and a missing one costs nothing; a negative term never explains a hit
    assert b.terms(0.5, 0.0, 0.0, 0.0, 0, 0, 0, 7.0)["hub"] == -1.0
    assert b.terms(0.5, 0.0, 0.0, 0.0, 0, 0, 0, np.nan)["hub"] == 0.0
    assert placed_by({"fused": 0.5, "hub": -0.9, "series": 0.6}) == "same series"


def test_a_title_counts_only_with_agreement_beyond_it():
    b = Blend(fused=1.0, title=1.0, title_floor=0.5, title_plot=0.4)
    # title similarity 1.0 for all four: no agreement / same series / shared people / similar plot
    t = b.terms([0.1] * 4, [0.1, 0.1, 0.1, 0.5], [0.6] * 4, [1.0] * 4, [0] * 4, [0, 0, 1, 0], [0, 1, 0, 0])
    assert t["title"].tolist() == [0.0, 1.0, 1.0, 1.0]
    # title_plot = 0 (the default) keeps the old rule: the title alone counts
    assert Blend(fused=1.0, title=1.0, title_floor=0.5).terms(0.1, 0.1, 0.6, 1.0, 0, 0)["title"] == 1.0


def test_blend_fields_are_checked_and_round_trip():
    b = Blend(fused=1.0, series=0.6, hub=0.75, title_plot=0.4)
    assert Blend.from_dict(b.to_dict()) == b
    with pytest.raises(Exception, match="hub"):
        Blend(hub=-1.0)


def test_hubness_is_the_mean_cosine_of_the_nearest():
    E = np.array([[1.0, 0.0], [1.0, 0.0], [0.0, 1.0], [0.6, 0.8]], np.float32)
    h = hubness(E, k=2)
    # row 0: nearest are row 1 (1.0) and row 3 (0.6)
    assert h[0] == pytest.approx(0.8)
    assert h[2] == pytest.approx((0.8 + 0.0) / 2)
    assert hubness(E[:1]).tolist() == [0.0]  # one film has no neighbours
    assert (hubness(np.full((3, 2), np.nan)) == 0).all()


def _movie(key, title, genres=("Drama",), series=None, directors=(), cast=(), votes=0):
    return Movie(key=key, title=title, year=2000, genres=tuple(genres), series=series, directors=tuple(directors),
                 director=directors[0] if directors else None, cast=tuple(cast), vote_count=votes)


def test_checks_from_the_sources_words():
    import reelvec.fusion.faithful as F
    from reelvec.ingest.series import series_split

    # a series in the test split and one in dev, found by name
    names = [f"s{i}" for i in range(40)]
    test_name = next(n for n in names if series_split(n) == "test")
    dev_name = next(n for n in names if series_split(n) == "dev")
    movies = [_movie("a", "Casino Royale", series=test_name, directors=("Martin Campbell",), votes=10),
              _movie("b", "Skyfall", series=test_name, votes=5),
              _movie("c", "Casino Royale Again", series=test_name),
              _movie("d", "Other", series=dev_name, directors=("Martin Campbell",)),
              _movie("e", "Other Two", series=dev_name)]
    text = np.eye(5, dtype=np.float32)
    c = checks_of(movies, text, "test")
    assert set(c.series) == {0, 1, 2} and c.series[0] == {1, 2}
    assert c.series_disjoint[0] == {1}  # Skyfall shares no title word with Casino Royale
    assert set(checks_of(movies, text, "dev").series) == {3, 4}
    assert c.director == {0: frozenset({3}), 3: frozenset({0})}
    assert c.hub_rows[:2] == [0, 1]  # most-voted first
    top = {r: [x for x in range(5) if x != r] for r in range(5)}
    m = c.measure(top)
    assert m["SeriesR@10"] == [1.0, 1.0, 1.0] and m["DirectorR@10"] == [1.0, 1.0]
    assert most_lists(top, [0, 1, 2]) == 3  # films 3 and 4 are in all three lists
    # hub share: with 5 films every slot is one of the 20 most frequent
    assert set(m["HubShare"]) == {1.0}
    monkey = Checks(hub_rows=[0, 1], series={0: frozenset({1})})
    assert monkey.measure({0: [2, 3], 1: [2, 4]})["SeriesR@10"] == [0.0]
    assert F.HUB_TOP == 20


def test_title_lookalikes_need_nothing_but_a_word():
    movies = [_movie("toy", "Toy Story", genres=("Animation", "Family"), cast=("Tom Hanks",)),
              _movie("thetoy", "The Toy", genres=("Comedy",), cast=("Richard Pryor",)),
              _movie("toy2", "Toy Story 2", genres=("Animation", "Family"), cast=("Tom Hanks",)),
              _movie("toyplot", "Toy Soldiers", genres=("Action",))]
    text = np.array([[1, 0, 0], [0, 1, 0], [1, 0, 0], [0.9, 0.1, 0]], np.float32)
    words = [frozenset({"toy", "story"}), frozenset({"toy"}), frozenset({"toy", "story"}), frozenset({"toy", "soldier"})]
    got = lookalikes(movies, text, words, [0, 1, 2, 3])
    # The Toy is a lookalike of Toy Story; Toy Story 2 shares the cast; Toy Soldiers has a similar plot
    assert got[0] == {1} and got[2] == {1}
    assert 1 in got and 0 in got[1]
