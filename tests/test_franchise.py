"""Franchise extraction, title similarity and the query blends (pure functions, tiny fixtures)."""
from __future__ import annotations

import numpy as np
import pytest

from reelvec.errors import SearchError
from reelvec.fusion.blend import LABELS, MODES, Blend, blends_from, placed_by, resolve_mode
from reelvec.ingest.franchise import (
    TitleSimilarity,
    find_franchises,
    franchise_of,
    franchise_pairs,
    title_parts,
    title_tokens,
)
from reelvec.ingest.movie import Movie


@pytest.mark.parametrize("title, stem, number, strong", [
    ("Rocky II", "rocky", 2, True),
    ("Rocky", "rocky", None, False),
    ("The Godfather: Part II", "godfather", 2, True),
    ("Back to the Future Part III", "back to the future", 3, True),
    ("Star Trek IV: The Voyage Home", "star trek", 4, True),
    ("Terminator 2: Judgment Day", "terminator", 2, True),
    ("Kill Bill: Vol. 2", "kill bill", 2, True),
    ("Kill Bill: Vol. 1", "kill bill", None, False),
    ("Harry Potter and the Deathly Hallows: Part 1", "harry potter and the deathly hallows", None, False),
    ("Friday the 13th Part VI: Jason Lives", "friday the 13th", 6, True),
    ("Insidious: Chapter 2", "insidious", 2, True),
    ("Star Wars: Episode II - Attack of the Clones", "star wars", 2, True),
    ("Alien³", "alien", 3, True),
    ("Ice Age: The Meltdown", "ice age", None, False),
    ("2 Days in Paris", "2 days in paris", None, False),  # a leading number is part of the name
    ("Apollo 13", "apollo 13", None, False),  # so is a large trailing one
    ("Child 44", "child 44", None, False),
    ("Ocean's Twelve", "ocean's", 12, False),  # a number word is only a weak sign
    ("Project X", "project", 10, False),
    ("Léon: The Professional (a.k.a. The Professional)", "leon", None, False),
])
def test_title_parts(title, stem, number, strong):
    p = title_parts(title)
    assert (p.stem, p.number, p.strong) == (stem, number, strong)


def _m(key, title, year, genres=("Action",), director=None, cast=(), keywords=()):
    return Movie(key=key, title=title, year=year, genres=tuple(genres), director=director, cast=tuple(cast),
                 keywords=tuple(keywords))


def _catalog():
    return [
        _m("1", "Rocky", 1976, ("Drama",)), _m("2", "Rocky II", 1979, ("Drama",)), _m("3", "Rocky III", 1982, ("Drama",)),
        _m("4", "The Godfather", 1972, ("Crime",)), _m("5", "The Godfather: Part II", 1974, ("Crime",)),
        _m("6", "Ice Age", 2002, ("Animation",), cast=("Ray Romano",)),
        _m("7", "Ice Age: The Meltdown", 2006, ("Animation",), cast=("Ray Romano",)),
        _m("8", "2 Days in Paris", 2007, ("Comedy",)), _m("9", "2 Days in New York", 2012, ("Comedy",)),
        _m("10", "Crash", 1996, ("Drama",)), _m("11", "Crash", 2004, ("Drama",)),  # remakes: no marker
        _m("12", "Blood", 2012, ("Horror",)), _m("13", "Blood: The Last Vampire", 2000, ("Horror",)),  # unconfirmed
        _m("14", "The Magnificent Seven", 1960, ("Western",)), _m("15", "The Magnificent Seven", 2016, ("Western",)),
        _m("16", "Hamlet", 1990, ("Drama",)), _m("17", "Hamlet 2", 2008, ("Comedy",)),  # no shared genre
        _m("18", "Ocean's Eleven", 2001, ("Crime",), director="Steven Soderbergh"),
        _m("19", "Ocean's Twelve", 2004, ("Crime",), director="Steven Soderbergh"),  # weak, confirmed by director
    ]


def test_find_franchises_keeps_sequels_and_rejects_look_alikes():
    ms = _catalog()
    got = {f.stem: [ms[r].key for r in f.rows] for f in find_franchises(ms)}
    assert got == {"rocky": ["1", "2", "3"], "godfather": ["4", "5"], "ice age": ["6", "7"],
                   "ocean's": ["18", "19"]}
    assert franchise_of(ms)[1] == "rocky" and 7 not in franchise_of(ms)


def test_franchise_pairs_are_adjacent_both_ways_and_split_by_franchise():
    ms = _catalog()
    fs = find_franchises(ms)
    pairs = franchise_pairs(fs)
    assert (0, 1) in pairs and (1, 0) in pairs and (1, 2) in pairs and (0, 2) not in pairs
    dev, test = franchise_pairs(fs, "dev"), franchise_pairs(fs, "test")
    assert sorted(dev + test) == sorted(pairs)
    for f in fs:  # every pair of one franchise lands in the same split
        rows = set(f.rows)
        assert all((a in rows) == (b in rows) for a, b in pairs if a in rows or b in rows)
        assert {f.split} == {"dev" if (f.rows[0], f.rows[1]) in dev else "test"}


def test_title_tokens_fold_plurals_and_drop_numbers():
    assert title_tokens("Aliens") == title_tokens("Alien³") == ["alien"]
    assert title_tokens("The Lord of the Rings: Part II") == ["lord", "ring"]


def test_title_similarity():
    ts = TitleSimilarity(["Independence Day", "Independence Day: Resurgence", "Love Actually", "Love Story",
                          "The Matrix", "The Matrix Reloaded", "Toy Story", ""])
    s = ts.scores(0)
    assert s[1] == pytest.approx(1.0)  # the head matches entirely
    assert 0.3 < ts.scores(2)[3] < 0.6  # a shared common word: partial
    assert 0.5 < ts.scores(4)[5] < 1.0
    assert ts.scores(6)[3] < ts.scores(6)[6]
    assert not ts.scores(7).any()  # an empty title matches nothing
    assert np.all((0 <= s) & (s <= 1 + 1e-9))


def test_blend_formula_terms_and_validation():
    b = Blend(fused=1, text=0.5, image=0.2, title=1, title_floor=0.5, genre=0.3, people=0.1)
    t = b.terms(0.8, 0.6, 0.0, 0.75, 1.0, 0.0)
    assert t["title"] == pytest.approx(0.5)  # halfway up the ramp from 0.5 to 1.0
    assert b.score(0.8, 0.6, 0.0, 0.75, 1.0, 0.0) == pytest.approx(0.8 + 0.3 + 0.5 + 0.3)
    assert b.title_term(0.4) == 0.0 and b.title_term(1.0) == 1.0
    assert b.vectors == ("fused", "text", "image") and Blend().vectors == ("fused",)
    for bad in (dict(text=-1), dict(title_floor=1.0), dict(fused=float("nan")), dict(fused=0)):
        with pytest.raises(SearchError):
            Blend(**bad)
    assert Blend.from_dict(b.to_dict()) == b
    with pytest.raises(SearchError, match="unknown blend field"):
        Blend.from_dict({"fused": 1, "typo": 2})


def test_missing_poster_counts_as_a_typical_one():
    b = Blend(fused=1.0, image=0.5, image_fill=0.6)
    assert b.score(0.5, 0.0, float("nan"), 0.0, 0.0, 0.0) == pytest.approx(0.5 + 0.3)
    assert b.score(0.5, 0.0, 0.8, 0.0, 0.0, 0.0) == pytest.approx(0.5 + 0.4)


def test_title_continuing_the_query_scores_prefix():
    from reelvec.ingest.franchise import PREFIX

    ts = TitleSimilarity(["The Matrix", "The Matrix Reloaded", "Beyond the Matrix"])
    s = ts.scores(0)
    assert s[1] == pytest.approx(PREFIX) and s[2] < PREFIX and ts.scores(1)[0] < PREFIX  # one way only


def test_placed_by_labels():
    assert placed_by({"fused": 0.9, "text": 0.2, "title": 0.0, "genre": 0.3}) == LABELS["fused"]
    assert placed_by({"fused": 0.3, "title": 0.6}) == "same franchise"
    assert placed_by({"text": 0.5, "fused": 0.1}) == "similar plot"
    assert placed_by({"people": 0.2, "fused": 0.0}) == "same director or cast"
    assert placed_by({"genre": 0.3}) == "same genre" and placed_by({}) == ""
    # against what the signal typically gives: a high fused cosine everyone has does not stand out
    typical = {"fused": 0.85, "title": 0.0, "people": 0.0, "text": 0.3}
    assert placed_by({"fused": 0.9, "title": 0.4, "text": 0.3}, typical) == "same franchise"
    assert placed_by({"fused": 0.95, "people": 0.05, "text": 0.3}, typical) == "liked by the same people"
    assert placed_by({"fused": 0.8, "text": 0.2, "genre": 0.1}, typical) == "same genre"


def test_modes_saved_with_a_model_override_the_built_in_ones():
    saved = {"blends": {"similar": {"fused": 1.0, "text": 0.9}}}
    blends = blends_from(saved)
    assert blends["similar"] == Blend(fused=1.0, text=0.9) and blends["content"] == MODES["content"]
    assert resolve_mode(None, blends) == blends["similar"]
    with pytest.raises(SearchError, match="unknown mode 'fancy'"):
        resolve_mode("fancy", blends)


def test_title_similarity_round_trips_through_arrays():
    """A published copy saves the built similarity; a reader loading it scores exactly the same."""
    import numpy as np

    from reelvec.ingest.franchise import TitleSimilarity, title_words
    titles = ["The Matrix", "The Matrix Reloaded", "Alien", "Aliens", "Alien: Resurrection", "Toy Story",
              "Toy Story 2", "Love Actually", "Love Story", "", "Independence Day", "Independence Day: Resurgence"]
    built = TitleSimilarity(titles)
    arrays = built.to_arrays()
    np.savez_compressed("/dev/null", **arrays)  # plain arrays: no pickle needed
    loaded = TitleSimilarity.from_arrays(arrays, [" ".join(title_words(t)[0]) for t in titles])
    for r in range(len(titles)):
        assert np.allclose(built.scores(r), loaded.scores(r))
    assert loaded.scores(0)[1] >= 0.85 and loaded.scores(10)[11] == pytest.approx(1.0)


def _dense_scores(ts, row: int):
    """A reference for `TitleSimilarity.scores`: numpy over every title, from the saved arrays
    (the IDF-weighted cosines over whole titles and over heads, the larger, and the prefix rule)."""
    import numpy as np

    from reelvec.ingest.franchise import PREFIX
    a = ts.to_arrays()
    out = np.zeros(ts.n)
    for part in ("full", "head"):
        row_ptr, ids, norms, word_ptr, by_word = (a[f"{part}_{x}"] for x in ts.PARTS)
        dots = np.zeros(ts.n)
        for w in ids[row_ptr[row]:row_ptr[row + 1]]:
            dots[by_word[word_ptr[w]:word_ptr[w + 1]]] += a["idf2"][w]
        out = np.maximum(out, dots / (norms[row] * norms))
    vocab = a["vocab"].tolist()
    q = ts._seq[row]
    if q:
        w = vocab.index(q[0])
        for c in a["full_by_word"][a["full_word_ptr"][w]:a["full_word_ptr"][w + 1]]:
            if len(ts._seq[c]) > len(q) and ts._seq[c][:len(q)] == q:
                out[c] = max(out[c], PREFIX)
    return out


def test_similar_rows_are_the_nonzero_scores_exactly():
    """`similar_rows` (plain Python over shared words, what a query uses) gives the very numbers
    of the dense computation over every title (added and divided in the same order), built or
    loaded from arrays, and `scores` is their dense form."""
    import numpy as np

    from reelvec.ingest.franchise import TitleSimilarity, title_words
    titles = ["The Matrix", "The Matrix Reloaded", "Beyond the Matrix", "Alien", "Aliens", "Alien: Resurrection",
              "Love Actually", "Love Story", "", "Man of Steel", "The Man Who Knew Too Much", "Iron Man 2", "Iron Man",
              "Independence Day", "Independence Day: Resurgence", "Day of the Dead", "Night of the Living Dead"]
    built = TitleSimilarity(titles)
    loaded = TitleSimilarity.from_arrays(built.to_arrays(), [" ".join(title_words(t)[0]) for t in titles])
    for ts in (built, loaded):
        for r in range(len(titles)):
            dense = np.zeros(len(titles))
            for c, v in ts.similar_rows(r).items():
                dense[c] = v
            assert np.array_equal(dense, _dense_scores(ts, r)), titles[r]
            assert np.array_equal(ts.scores(r), dense)
            assert all(v > 0 for v in ts.similar_rows(r).values())
    assert built.similar_rows(0)[1] >= 0.85 and 8 not in built.similar_rows(0)


@pytest.mark.parametrize("common_floor", [5000, 4])
def test_a_floor_leaves_out_only_titles_at_or_below_it(monkeypatch, common_floor):
    """`similar_arrays(row, above)` (what a blend with `title_floor` asks): every title above the
    floor with the similarity `above=0` gives it, fewer titles listed (the query's frequent
    words bring none of their own), also beside words too common to bring any (`common_df`)."""
    from reelvec.ingest import franchise

    monkeypatch.setattr(franchise, "COMMON_FLOOR", common_floor)
    rng = np.random.default_rng(3)
    vocab = [f"w{i}" for i in range(60)]
    p = 1 / np.arange(1, 61) ** 1.1
    titles = [" ".join(rng.choice(vocab, size=int(rng.integers(1, 5)), p=p / p.sum())) for _ in range(400)]
    titles += [t + ": " + str(rng.choice(vocab)) for t in titles[:100]]  # heads and subtitles
    ts = franchise.TitleSimilarity(titles)
    fewer = 0
    for above in (0.3, 0.5, 0.7):
        for r in range(len(titles)):
            rows, sims = ts.similar_arrays(r)
            got_rows, got_sims = ts.similar_arrays(r, above=above)
            want = {c: v for c, v in zip(rows.tolist(), sims.tolist()) if v > above}
            got = {c: v for c, v in zip(got_rows.tolist(), got_sims.tolist()) if v > above}
            assert got.keys() == want.keys(), (titles[r], above)
            assert np.allclose([got[c] for c in want], list(want.values()), rtol=1e-12, atol=0)
            assert set(got_rows.tolist()) <= set(rows.tolist()) and np.all(np.diff(got_rows) > 0)
            fewer += len(rows) - len(got_rows)
    assert fewer > 0, "the floor walked every posting"
