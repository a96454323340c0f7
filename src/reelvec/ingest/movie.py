"""The catalog record. One `Movie` per film, whatever sources it came from.

A movie is keyed by its TMDB id when one is known (``tmdb:603``); films that only one id-less
source knows get a stable key of their own (``ml:<movieId>``, ``wiki:<page>``), so nothing is lost.
"""
from __future__ import annotations

import dataclasses
import re
import unicodedata
from dataclasses import dataclass, field
from typing import Any

# Source names, used in provenance.
TMDB = "tmdb"
MOVIELENS = "movielens"
WIKIPEDIA = "wikipedia"
POSTERS = "posters"
MAPPED = "mapped"  # a file of one's own, columns mapped with --map (reelvec.ingest.mapped)

# Canonical genre names: other sources' spellings map onto TMDB's vocabulary so that a filter
# on "Science Fiction" also finds MovieLens "Sci-Fi" and Wikipedia "Science fiction".
GENRE_ALIASES = {
    "sci-fi": "Science Fiction",
    "science fiction": "Science Fiction",
    "scifi": "Science Fiction",
    "children": "Family",
    "children's": "Family",
    "family": "Family",
    "film-noir": "Film Noir",
    "film noir": "Film Noir",
    "noir": "Film Noir",
    "musical": "Music",
    "music": "Music",
    "tv movie": "TV Movie",
    "romantic comedy": "Romance",
    "sports": "Sport",
    "sport": "Sport",
    "superhero": "Action",
    "imax": "",
    "(no genres listed)": "",
}


# TMDB's genre list: names a filter may use even where no movie of the collection has them.
KNOWN_GENRES = frozenset({
    "Action", "Adventure", "Animation", "Comedy", "Crime", "Documentary", "Drama", "Family", "Fantasy", "Film Noir",
    "Foreign", "History", "Horror", "Music", "Mystery", "Romance", "Science Fiction", "Sport", "TV Movie",
    "Thriller", "War", "Western",
})


def canonical_genre(name: str) -> str:
    """Map a genre spelling onto the shared vocabulary ('' means: not a genre, drop it)."""
    key = " ".join(str(name).strip().lower().split())
    if key in GENRE_ALIASES:
        return GENRE_ALIASES[key]
    return " ".join(w.capitalize() if w.islower() else w for w in key.split()) if key else ""


def canonical_genres(names) -> tuple[str, ...]:
    out: list[str] = []
    for n in names or ():
        g = canonical_genre(n)
        if g and g not in out:
            out.append(g)
    return tuple(out)


_TRAILING_ARTICLE = re.compile(r"^(?P<body>.*),\s*(?P<art>the|a|an|les|la|le|l'|el|il|die|der|das)$", re.I)
_LEADING_ARTICLE = re.compile(r"^(the|a|an)\s+")
_NON_ALNUM = re.compile(r"[^0-9a-z]+")


def strip_accents(text: str) -> str:
    return "".join(c for c in unicodedata.normalize("NFKD", text) if not unicodedata.combining(c))


def normalise_title(title: str) -> str:
    """Title key for joins and lookup: accent/case/punctuation-insensitive, articles ignored.

    'Matrix, The' == 'The Matrix' == 'the matrix!'; '&' counts as 'and'.
    """
    t = strip_accents(str(title)).strip()
    m = _TRAILING_ARTICLE.match(t)
    if m:
        t = f"{m.group('art')} {m.group('body')}"
    t = t.lower().replace("&", " and ")
    t = _NON_ALNUM.sub(" ", t).strip()
    t = _LEADING_ARTICLE.sub("", t)
    return t


@dataclass(frozen=True)
class Movie:
    """One film. Lists are tuples so the record is immutable; `provenance` says which source
    each filled field came from (field name -> source name)."""

    key: str
    title: str
    tmdb_id: int | None = None
    imdb_id: str | None = None  # 'tt' + 7+ digits
    movielens_id: int | None = None
    original_title: str | None = None
    aliases: tuple[str, ...] = ()  # other titles the sources give it (Wikipedia's "Seven" for TMDB's "Se7en")
    year: int | None = None
    release_date: str | None = None  # ISO date
    overview: str | None = None
    tagline: str | None = None
    plot: str | None = None  # Wikipedia lead paragraph
    genres: tuple[str, ...] = ()
    keywords: tuple[str, ...] = ()
    cast: tuple[str, ...] = ()  # billing order
    director: str | None = None  # the first director (what the seed's code and payloads call "director")
    directors: tuple[str, ...] = ()  # every director the lead names, co-directors included
    writers: tuple[str, ...] = ()
    series: str | None = None  # series id (normalised name), `reelvec.ingest.series`
    series_name: str | None = None  # how the lead (or the oldest member's title) spells it: "James Bond"
    relations: tuple[str, ...] = ()  # "sequel:<key>", "prequel:<key>", "remake:<key>": what the lead says
    companies: tuple[str, ...] = ()
    countries: tuple[str, ...] = ()
    spoken_languages: tuple[str, ...] = ()
    original_language: str | None = None
    runtime: float | None = None
    budget: float | None = None  # None = unknown (the source said 0)
    revenue: float | None = None
    popularity: float | None = None
    vote_average: float | None = None
    vote_count: int | None = None
    homepage: str | None = None
    poster: str | None = None  # local path or URL
    sources: tuple[str, ...] = ()
    provenance: tuple[tuple[str, str], ...] = field(default=(), compare=False)

    def source_of(self, field_name: str) -> str | None:
        return dict(self.provenance).get(field_name)

    def to_dict(self) -> dict[str, Any]:
        d = dataclasses.asdict(self)
        d["provenance"] = dict(self.provenance)
        return d

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> Movie:
        kw = dict(d)
        for f in dataclasses.fields(cls):
            if f.name in kw and isinstance(kw[f.name], list):
                kw[f.name] = tuple(kw[f.name])
        prov = kw.get("provenance") or {}
        kw["provenance"] = tuple(sorted(prov.items())) if isinstance(prov, dict) else tuple(map(tuple, prov))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in kw.items() if k in known})


# Which movies a job covers; the CLI's --scope. Here (not in catalog.py) so that building the
# argument parser imports nothing heavy.
SCOPES = {
    "linked": lambda m: m.tmdb_id is not None or m.movielens_id is not None or MAPPED in m.sources,
    "all": lambda m: True,
}
