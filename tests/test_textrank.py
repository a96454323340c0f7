"""search_text's ranking (fusion/textrank.py): plot words, never title words; a popularity prior."""
import math

import pytest

from reelvec.fusion.textrank import TextRank, bm25, plot_words, popularity, rank, spelt, words


def test_words_fold_plurals_and_drop_stop_words():
    assert words("The Toys of a Lonely Robot") == ["toy", "lonely", "robot"]
    assert words("Paris, a virus and the boss") == ["paris", "virus", "boss"]  # -is/-us/-ss keep their s
    assert spelt("Toys and toy") == {"toy": "toys"}  # the first spelling names the word


def test_plot_words_never_read_the_title():
    p = {"title": "Wow! A Talking Fish!", "genres": ["Comedy"], "keywords": ["magic"], "overview": "A man wins."}
    assert "fish" not in plot_words(p) and {"comedy", "magic", "man", "win"} <= set(plot_words(p))
    lead = {"title": "Heat", "aliases": ["Hitze"], "overview": "Heat is a 1995 crime film. A detective hunts a thief."}
    assert plot_words(lead) == ["1995", "crime", "detective", "hunt", "thief"]  # a lead that opens with the title
    heist = {"title": "Tower Heist", "overview": "Workers plan a heist on the swindler who robbed them."}
    assert "heist" in plot_words(heist)  # the plot's own words count, even when the title shares one


def test_bm25_prefers_the_rarer_word_and_shorter_docs():
    docs = [["ocean", "son"], ["ocean", "clownfish"], ["ocean"], ["son", "father", "ocean", "city", "war", "king"]]
    s = bm25(["clownfish", "ocean"], docs)
    assert s.index(max(s)) == 1  # the rare word weighs most
    s = bm25(["son"], docs)
    assert s[0] > s[3] > 0 == s[1] == s[2]  # the same count in a shorter doc counts more
    assert bm25([], docs) == [0.0] * 4 and bm25(["x"], []) == []


def test_popularity_is_capped_log_votes():
    assert popularity(None, 10_000) == 0 == popularity(0, 10_000)
    assert popularity(10_000, 10_000) == 1 == popularity(50_000, 10_000)
    assert popularity(100, 10_000) == pytest.approx(math.log1p(100) / math.log1p(10_000))


def test_rank_lets_a_plot_beat_a_title_lookalike():
    lookalike = {"title": "Wow! A Talking Fish!", "genres": ["Comedy"], "vote_count": 3}
    nemo = {"title": "Finding Nemo", "genres": ["Animation"], "vote_count": 6000,
            "overview": "A clownfish father crosses the ocean to find his son."}
    cos = [0.62, 0.50]  # the lookalike is nearer by cosine (its vector is mostly its title)
    first = rank("a clownfish father looking for his son", cos, [lookalike, nemo])[0]
    assert first.index == 1 and first.matched == ("clownfish", "father", "son")
    assert rank("a clownfish father", cos, [lookalike, nemo], TextRank(plot=0, popular=0))[0].index == 0
    r = rank("a clownfish", cos, [lookalike, nemo], TextRank(plot=0.3, popular=0.3))
    assert [x.score for x in sorted(r, key=lambda x: x.index)] == pytest.approx(
        [0.62 + 0.3 * popularity(3, 10_000), 0.50 + 0.3 + 0.3 * popularity(6000, 10_000)])


def test_rank_keeps_cosine_order_on_ties_and_checks_its_config():
    same = [{"title": "A"}, {"title": "B"}, {"title": "C"}]
    assert [r.index for r in rank("nothing matches", [0.5, 0.5, 0.5], same)] == [0, 1, 2]
    with pytest.raises(ValueError, match="TextRank"):
        TextRank(pool=0)
