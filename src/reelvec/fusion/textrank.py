"""How `search_text` ranks: the text cosine, plus the query's words found in a film's plot, plus a
mild popularity prior.

Why not the cosine alone: the MiniLM vector of a film with little text (a MovieLens-only entry has
a title and genres) is mostly its title, so a short query matched titles ("animated film about a
fish" -> "Wow! A Talking Fish!"). The plot-word term is BM25 over the words of a film's overview,
keywords and genres (never its title), with the document frequencies of the candidate pool (the
`pool` nearest films by text cosine, filters applied), so it needs no corpus-wide statistics and
costs O(pool) per query on any backend. Each term is normalised so a weight means the same thing
for every query: BM25 by the pool's best, votes by `votes_scale`. Tuned on the dev half of
bench/text_queries.tsv, reported on its test half (bench/text_search.py; bench/RESULTS.md).
"""
from __future__ import annotations

import math
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass

_WORD = re.compile(r"[^\W_]+")
STOPWORDS = frozenset(
    "a an the of and or to in on for with by from at as is are was were be been his her their its this that "
    "these those who whom whose which what when where while into about after before over under than then "
    "he she they it him them one two film movie story tale not no but also so very just can will would could "
    "must has have had do does did being around go goes come comes get gets".split())


@dataclass(frozen=True)
class TextRank:
    pool: int = 200  # candidates by text cosine; the ranking is the same for every k up to this
    plot: float = 0.4  # weight of the plot-word (BM25) term, 1 = the pool's best match
    popular: float = 0.3  # weight of log(1 + TMDB votes) / log(1 + votes_scale), capped at 1
    votes_scale: int = 10_000
    k1: float = 1.2  # BM25's term-frequency saturation
    b: float = 0.75  # BM25's length normalisation

    def __post_init__(self) -> None:
        if self.pool < 1 or self.plot < 0 or self.popular < 0 or self.votes_scale < 1:
            raise ValueError(f"bad TextRank {self}: pool and votes_scale >= 1, weights >= 0")


def _fold(w: str) -> str:
    return w[:-1] if len(w) > 3 and w.endswith("s") and not w.endswith(("ss", "is", "us")) else w


def spelt(text: str) -> dict[str, str]:
    """The words of `words(text)`, each with how the text spells it first ('toy' -> 'toys')."""
    out: dict[str, str] = {}
    for w in _WORD.findall(text.lower()):
        if len(w) >= 2 and w not in STOPWORDS:
            out.setdefault(_fold(w), w)
    return out


def words(text: str) -> list[str]:
    """Lower-case words without stop words or one-letter words, a plural 's' folded ('toys' -> 'toy')."""
    return [_fold(w) for w in _WORD.findall(text.lower()) if len(w) >= 2 and w not in STOPWORDS]


def plot_words(payload: dict) -> list[str]:
    """The words a film's plot term reads: overview, keywords and genres, never the title: a
    Wikipedia lead that opens with it ("Heat is a 1995 American crime film...") is read without
    it. (Title words the plot itself uses still count: a heist is what *Tower Heist* is about.)"""
    overview = payload.get("overview") or ""
    for name in (payload.get("title"), *(payload.get("aliases") or ())):
        if name and overview[:len(name)].lower() == name.lower():
            overview = overview[len(name):]
            break
    return words(" ".join([overview, " ".join(payload.get("keywords") or ()), " ".join(payload.get("genres") or ())]))


def bm25(query: Sequence[str], docs: Sequence[Sequence[str]], k1: float = 1.2, b: float = 0.75) -> list[float]:
    """BM25 of each doc (a list of words) for the query's words, document frequencies from `docs`."""
    terms = set(query)
    if not docs or not terms:
        return [0.0] * len(docs)
    counts = [Counter(w for w in d if w in terms) for d in docs]
    df = Counter(t for c in counts for t in c)
    n = len(docs)
    idf = {t: math.log(1 + (n - f + 0.5) / (f + 0.5)) for t, f in df.items()}
    avg = sum(len(d) for d in docs) / n or 1.0
    return [sum(idf[t] * f * (k1 + 1) / (f + k1 * (1 - b + b * len(d) / avg)) for t, f in c.items())
            for c, d in zip(counts, docs)]


def popularity(votes, scale: int) -> float:
    """log(1 + votes) / log(1 + scale), capped at 1; 0 without votes."""
    v = float(votes or 0)
    return min(1.0, math.log1p(max(v, 0.0)) / math.log1p(scale))


@dataclass(frozen=True)
class Ranked:
    index: int  # into the candidates given
    score: float
    matched: tuple[str, ...]  # the query's words found in the film's plot words


def rank(query: str, cosines: Sequence[float], payloads: Sequence[dict], how: TextRank = TextRank()) -> list[Ranked]:
    """Candidates (their text cosines and payloads) best first, by cosine + plot words + popularity.
    Ties keep the cosine order."""
    q = spelt(query)
    docs = [plot_words(p) for p in payloads]
    lexical = bm25(list(q), docs, how.k1, how.b) if how.plot else [0.0] * len(docs)
    best = max(lexical, default=0.0) or 1.0
    out = [Ranked(i, float(c) + how.plot * lex / best + how.popular * popularity(p.get("vote_count"), how.votes_scale),
                  tuple(q[w] for w in dict.fromkeys(d) if w in q))
           for i, (c, lex, p, d) in enumerate(zip(cosines, lexical, payloads, docs))]
    return sorted(out, key=lambda r: (-r.score, r.index))
