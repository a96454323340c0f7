"""Title lookup: accent/case/punctuation-insensitive, year-aware ("Dune (1984)"), typo-tolerant
(rapidfuzz). Ambiguous or unknown titles raise an error listing the closest candidates."""
from __future__ import annotations

import re
from collections import defaultdict
from dataclasses import dataclass

from reelvec.errors import UnknownMovieError
from reelvec.ingest.movie import normalise_title

_YEAR = re.compile(r"^(?P<title>.*?)\s*[\(\[]?(?P<year>(?:18|19|20)\d{2})[\)\]]?\s*$")


@dataclass(frozen=True)
class TitleEntry:
    point_id: str
    title: str
    year: int | None
    tmdb_id: int | None
    votes: int


def split_year(query: str) -> tuple[str, int | None]:
    """'Dune (1984)' -> ('Dune', 1984); '2001: A Space Odyssey' keeps its number."""
    m = _YEAR.match(query.strip())
    if m and m.group("title").strip() and (query.strip().endswith(")") or query.strip().endswith("]")):
        return m.group("title").strip(), int(m.group("year"))
    return query.strip(), None


class TitleIndex:
    def __init__(self, entries: list[TitleEntry]):
        self.entries = entries
        self.by_norm: dict[str, list[TitleEntry]] = defaultdict(list)
        for e in entries:
            self.by_norm[normalise_title(e.title)].append(e)
        self.norms = list(self.by_norm)

    @staticmethod
    def _label(e: TitleEntry) -> str:
        return f"{e.title} ({e.year})" if e.year else e.title

    def lookup(self, query: str) -> TitleEntry:
        from rapidfuzz import fuzz, process

        title, year = split_year(query)
        norm = normalise_title(title)
        if not norm:
            raise UnknownMovieError(f"empty title {query!r}")
        exact = self.by_norm.get(norm, [])
        if year is not None:
            exact = sorted([e for e in exact if e.year is not None and abs(e.year - year) <= 1],
                           key=lambda e: abs(e.year - year))
            exact = exact[:1] if exact and (len(exact) == 1 or exact[0].year == year) else exact
        if len(exact) == 1:
            return exact[0]
        if len(exact) > 1:
            cands = sorted(exact, key=lambda e: e.year or 0)
            raise UnknownMovieError(
                f"{query!r} is ambiguous: " + ", ".join(self._label(e) for e in cands[:8])
                + "; add the year, e.g. " + repr(self._label(cands[-1])),
                [(e.title, e.year) for e in cands])
        matches = process.extract(norm, self.norms, scorer=fuzz.WRatio, limit=8)
        cands: list[tuple[float, TitleEntry]] = []
        for name, score, _ in matches:
            for e in self.by_norm[name]:
                if year is None or (e.year is not None and abs(e.year - year) <= 1):
                    cands.append((score, e))
        cands.sort(key=lambda t: (-t[0], -t[1].votes))
        if cands and cands[0][0] >= 86 and (len(cands) == 1 or cands[0][0] - cands[1][0] >= 4
                                             or normalise_title(cands[1][1].title) == normalise_title(cands[0][1].title)
                                             and cands[0][1].votes >= 5 * max(cands[1][1].votes, 1)):
            return cands[0][1]
        listed = ", ".join(f"{self._label(e)}" for _, e in cands[:6]) or "none"
        raise UnknownMovieError(f"no movie titled {query!r}; closest: {listed}",
                                [(e.title, e.year) for _, e in cands[:6]])
