"""Merge the per-source movies into one catalog.

Join rule: on TMDB id where both sides know it (TMDB <-> MovieLens links), else on
(normalised title, year within ±1) — how Wikipedia entries find their film.

Which source wins per field (first listed that has a value):

=================  ===========================================
title, year        TMDB > MovieLens > Wikipedia
genres             TMDB > MovieLens > Wikipedia
overview, tagline,  TMDB (only source)
keywords, companies,
stats, dates
imdb_id,           MovieLens links (only source)
movielens_id
cast, director,    Wikipedia (only source)
plot
poster             local poster file > Wikipedia thumbnail URL
=================  ===========================================

A *conflict* is a field that two sources both fill with different values; the winner above is
kept and the disagreement is counted per field in the report.
"""
from __future__ import annotations

import dataclasses
import re
from collections import Counter, defaultdict
from dataclasses import dataclass, field

from reelvec.ingest.movie import MAPPED, MOVIELENS, POSTERS, TMDB, WIKIPEDIA, Movie, normalise_title

PRIORITY = {MAPPED: -1, TMDB: 0, MOVIELENS: 1, WIKIPEDIA: 2}  # your own file wins where it says something
MERGED_FIELDS = tuple(
    f.name for f in dataclasses.fields(Movie) if f.name not in ("key", "sources", "provenance")
)
_IGNORE_CONFLICT = {"plot", "poster"}
_NOT_A_FILM = re.compile(r"\b(?:television|TV) (?:miniseries|series|special|episode)|\bminiseries\b|\bvideo game\b",
                         re.I)


@dataclass
class MergeReport:
    movies: int = 0
    merged_tmdb_movielens: int = 0
    merged_movielens_by_title: int = 0  # MovieLens rows without a TMDB link, joined on (title, year±1)
    merged_wikipedia: int = 0
    merged_wikipedia_by_spelling: int = 0  # of those, joined by another spelling of the title (an alias)
    merged_mapped: int = 0  # rows of one's own files joined to a movie of another source (key or title+year)
    only: Counter = field(default_factory=Counter)  # movies known to one source only, by source
    by_sources: Counter = field(default_factory=Counter)  # "tmdb+movielens+wikipedia" -> n
    conflicts: Counter = field(default_factory=Counter)  # field -> number of disagreements
    with_poster_file: int = 0
    with_poster_url: int = 0

    def as_dict(self) -> dict:
        return {
            "movies": self.movies,
            "merged_tmdb_movielens": self.merged_tmdb_movielens,
            "merged_movielens_by_title": self.merged_movielens_by_title,
            "merged_wikipedia": self.merged_wikipedia,
            "merged_wikipedia_by_spelling": self.merged_wikipedia_by_spelling,
            "merged_mapped": self.merged_mapped,
            "only_in_one_source": dict(self.only),
            "by_sources": dict(self.by_sources),
            "conflicts_resolved": dict(self.conflicts),
            "with_poster_file": self.with_poster_file,
            "with_poster_url": self.with_poster_url,
        }


def _same(a, b) -> bool:
    if isinstance(a, tuple) and isinstance(b, tuple):
        return set(a) == set(b)
    if isinstance(a, str) and isinstance(b, str):
        return normalise_title(a) == normalise_title(b)
    return a == b


def combine(base: Movie, other: Movie, report: MergeReport | None = None) -> Movie:
    """Fold `other` into `base` by the per-field priority rule; pure."""
    prov = dict(base.provenance)
    values = {}
    for name in MERGED_FIELDS:
        a, b = getattr(base, name), getattr(other, name)
        if b in (None, (), ""):
            continue
        if a in (None, (), ""):
            values[name] = b
            prov[name] = other.source_of(name) or (other.sources[0] if other.sources else "?")
            continue
        if name in ("tmdb_id", "movielens_id", "imdb_id"):
            continue
        src_a = prov.get(name, base.sources[0] if base.sources else "?")
        src_b = other.source_of(name) or (other.sources[0] if other.sources else "?")
        if not _same(a, b):
            if report is not None and name not in _IGNORE_CONFLICT:
                report.conflicts[name] += 1
            if PRIORITY.get(src_b, 9) < PRIORITY.get(src_a, 9):
                values[name] = b
                prov[name] = src_b
    sources = tuple(sorted(set(base.sources) | set(other.sources), key=lambda s: PRIORITY.get(s, 9)))
    return dataclasses.replace(base, sources=sources, provenance=tuple(sorted(prov.items())), **values)


def _same_film(m: Movie, index: dict[str, list[str]], by_key: dict[str, Movie], taken: set) -> str | None:
    """The TMDB movie with m's normalised title and the closest year within one, not yet linked."""
    best, best_gap = None, 99
    for key in index.get(normalise_title(m.title), ()):
        c = by_key[key]
        if c.tmdb_id in taken or c.year is None or m.year is None:
            continue
        gap = abs(c.year - m.year)
        if gap <= 1 and gap < best_gap:
            best, best_gap = key, gap
    return best


SPELLING_RATIO = 80  # rapidfuzz ratio of two spellings of one title ("seven" / "se7en" = 80)


_FILLER = frozenset({"the", "a", "an", "3d", "3", "d", "movie", "vol", "volume", "part", "chapter", "episode", "s", "in"})


def _word_for_word(a: str, b: str) -> bool:
    """Is each word of either title (fillers aside) a spelling of a word of the other (rapidfuzz
    ratio >= 70: "se7en" / "seven"), so that "In America" is not "Ciao America"?"""
    from rapidfuzz import fuzz

    wa, wb = a.split(), b.split()
    if len(wa) == 1 or len(wb) == 1:
        return True
    def covered(xs, ys):
        return all(x in _FILLER or any(fuzz.ratio(x, y) >= 70 for y in ys) for x in xs)
    return covered(wa, wb) and covered(wb, wa)


def _spelt_otherwise(wikipedia: list[Movie], joined: set[int], by_key: dict[str, Movie],
                     taken: set[str]) -> list[tuple[int, str]]:
    """Wikipedia entries no title matched, joined to the one film of the same year that no
    Wikipedia entry joined, whose title is another spelling of theirs (ratio >= `SPELLING_RATIO`,
    both 4+ characters) and that shares a genre with them: (entry, film key), best first. The
    entry's title becomes an alias of the film."""
    from rapidfuzz import fuzz, process

    by_year: dict[int, list[str]] = defaultdict(list)
    for key, m in by_key.items():
        if m.year is not None and key not in taken and WIKIPEDIA not in m.sources:
            by_year[m.year].append(key)
    found = []
    for i, w in enumerate(wikipedia):
        if i in joined or w.year is None or len(normalise_title(w.title)) < 4:
            continue
        keys = by_year.get(w.year, [])
        names = [normalise_title(by_key[k].title) for k in keys]
        hits = process.extract(normalise_title(w.title), names, scorer=fuzz.ratio, score_cutoff=SPELLING_RATIO,
                               limit=2)
        hits = [h for h in hits if len(h[0]) >= 4 and set(by_key[keys[h[2]]].genres) & set(w.genres)
                and _word_for_word(normalise_title(w.title), h[0])]
        if len(hits) == 1 or (len(hits) > 1 and hits[0][1] > hits[1][1]):
            found.append((-hits[0][1], i, keys[hits[0][2]]))
    out, used = [], set()
    for _, i, key in sorted(found):
        if key not in used:
            used.add(key)
            out.append((i, key))
    return out


def merge_sources(
    tmdb: list[Movie],
    movielens: list[Movie],
    wikipedia: list[Movie],
    posters: dict[int, str] | None = None,
    mapped: list[Movie] | None = None,
) -> tuple[list[Movie], MergeReport]:
    """Pure merge of three sources' movies, movies from mapped files of one's own (joined by key,
    i.e. TMDB id, else by title and year ±1 like Wikipedia) and a tmdb_id -> local poster map."""
    report = MergeReport()
    by_key: dict[str, Movie] = {m.key: m for m in tmdb}
    tmdb_by_title: dict[str, list[str]] = defaultdict(list)
    for m in tmdb:
        tmdb_by_title[normalise_title(m.title)].append(m.key)
    linked = {m.tmdb_id for m in movielens if m.tmdb_id is not None}
    for m in movielens:
        if m.tmdb_id is None:  # links.csv has no TMDB id for it: join on (title, year±1) like Wikipedia
            match = _same_film(m, tmdb_by_title, by_key, linked)
            if match is not None:
                by_key[match] = combine(by_key[match], m, report)
                linked.add(by_key[match].tmdb_id)
                report.merged_movielens_by_title += 1
                continue
        if m.key in by_key:
            prev = by_key[m.key]
            if MOVIELENS in prev.sources:
                # two movieIds share one tmdbId (links.csv has one such pair): keep the first
                report.conflicts["movielens_id"] += 1
                continue
            by_key[m.key] = combine(prev, m, report)
            report.merged_tmdb_movielens += 1
        else:
            by_key[m.key] = m

    index: dict[str, list[str]] = defaultdict(list)
    for key, m in by_key.items():
        index[normalise_title(m.title)].append(key)
        if m.original_title and normalise_title(m.original_title) != normalise_title(m.title):
            index[normalise_title(m.original_title)].append(key)
    # each Wikipedia entry joins the film of its title and year (±1); where several entries want
    # one film, the one whose lead describes a film (not a TV miniseries or a video game) and
    # whose year is closest wins, whatever the order of the files
    cands = []
    for i, w in enumerate(wikipedia):
        not_film = int(bool(w.plot and _NOT_A_FILM.search(w.plot[:200])))
        for key in index.get(normalise_title(w.title), ()):
            c = by_key[key]
            if c.year is None or w.year is None or abs(c.year - w.year) > 1:
                continue
            cands.append((not_film, abs(c.year - w.year), i, key))
    wiki_taken: set[str] = set()
    joined: set[int] = set()
    for _, _, i, key in sorted(cands):
        if i in joined or key in wiki_taken:
            continue
        joined.add(i)
        wiki_taken.add(key)
        by_key[key] = combine(by_key[key], wikipedia[i], report)
        report.merged_wikipedia += 1
    for i, key in _spelt_otherwise(wikipedia, joined, by_key, wiki_taken):
        joined.add(i)
        wiki_taken.add(key)
        m = combine(by_key[key], wikipedia[i], report)
        by_key[key] = dataclasses.replace(m, aliases=tuple(dict.fromkeys(m.aliases + (wikipedia[i].title,))))
        report.merged_wikipedia += 1
        report.merged_wikipedia_by_spelling += 1
    for i, w in enumerate(wikipedia):
        if i not in joined:
            by_key.setdefault(w.key, w)

    for m in mapped or ():
        if m.key in by_key:
            by_key[m.key] = combine(by_key[m.key], m, report)
            report.merged_mapped += 1
            continue
        match = None
        if m.year is not None:
            cands = [key for key in index.get(normalise_title(m.title), ())
                     if by_key[key].year is not None and abs(by_key[key].year - m.year) <= 1]
            match = min(cands, key=lambda key: abs(by_key[key].year - m.year)) if cands else None
        if match is not None and MAPPED not in by_key[match].sources:
            by_key[match] = combine(by_key[match], m, report)
            report.merged_mapped += 1
        else:
            by_key.setdefault(m.key, m)

    out = []
    for m in by_key.values():
        if posters and m.tmdb_id in posters:
            prov = dict(m.provenance)
            prov["poster"] = POSTERS
            m = dataclasses.replace(m, poster=posters[m.tmdb_id], provenance=tuple(sorted(prov.items())))
        if m.poster and m.poster.startswith(("http://", "https://")):
            report.with_poster_url += 1
        elif m.poster:
            report.with_poster_file += 1
        if len(m.sources) == 1:
            report.only[m.sources[0]] += 1
        report.by_sources["+".join(m.sources)] += 1
        out.append(m)
    out.sort(key=lambda m: (m.tmdb_id is None, m.tmdb_id or 0, m.key))
    report.movies = len(out)
    return out, report
