"""Title lookup: accent/case/punctuation-insensitive, year-aware ("Dune (1984)"), typo-tolerant
(rapidfuzz), resolved as people mean them: an exact title several films share is the best-known
of them (the others are reported as alternatives: "Heat" is Heat (1995), also Heat (1986));
other titles the sources give a film are aliases (Wikipedia's "Seven" is Se7en);
sequel numbers fold ("Alien 3" is Alien³, "Godfather 2" is The Godfather: Part II, "Mad Max 2"
is Mad Max 2: The Road Warrior). Unknown titles raise an error listing the closest candidates."""
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


_SUPER = str.maketrans({c: f" {d}" for c, d in zip("⁰¹²³⁴⁵⁶⁷⁸⁹", "0123456789")})


def fold(norm: str) -> str:
    """A normalised title with its sequel numbers in one spelling: superscripts and roman numerals
    as digits, "part"/"chapter" dropped ('godfather part ii' -> 'godfather 2', 'alien3' -> 'alien 3')."""
    t = re.sub(r"(?<=[a-z])(?=\d)", " ", norm.translate(_SUPER))
    out = []
    for tok in t.split():
        if tok in ("part", "chapter", "pt"):
            continue
        out.append(str(ROMAN[tok]) if tok in ROMAN and tok != "i" else tok)
    return " ".join(out)


@dataclass(frozen=True)
class Resolved:
    """What a query title resolved to, and the other films the same title names."""

    entry: TitleEntry
    alternatives: tuple[TitleEntry, ...] = ()
    how: str = "exact"  # exact | alias | best-known | folded | fuzzy | key | id


def _literal(title: str) -> str:
    """A title with case, accents and punctuation folded but its articles kept ("The Heat" is not "Heat")."""
    from reelvec.ingest.movie import strip_accents

    return re.sub(r"[^a-z0-9]+", " ", strip_accents(title).lower().replace("&", " and ")).strip()


class TitleIndex:
    def __init__(self, entries: list[TitleEntry], norms: list[str] | None = None,
                 aliases: dict[str, tuple[str, ...]] | None = None):
        """`norms`: `normalise_title` of each entry's title, when already known (a published copy
        keeps them: computing them takes ~0.15 s of a cold CLI call for 11k titles). `aliases`:
        point id -> the other titles the sources give that film (Wikipedia's "Seven" for
        "Se7en"), which find it as its own title does."""
        self.entries = entries
        self.aliases = {pid: tuple(a) for pid, a in (aliases or {}).items() if a}
        self.by_norm: dict[str, list[TitleEntry]] = defaultdict(list)
        for e, norm in zip(entries, norms if norms is not None else (normalise_title(e.title) for e in entries)):
            self.by_norm[norm].append(e)
        by_point = {e.point_id: e for e in entries} if self.aliases else {}
        for pid, names in self.aliases.items():
            e = by_point.get(pid)
            for name in names if e is not None else ():
                norm = normalise_title(name)
                if norm and e not in self.by_norm[norm]:
                    self.by_norm[norm].append(e)
        self.norms = list(self.by_norm)
        self._by_point: dict[str, TitleEntry] | None = None
        self.by_fold: dict[str, list[TitleEntry]] = defaultdict(list)
        for norm, es in self.by_norm.items():
            self.by_fold[fold(norm)] += es

    def entry(self, point_id: str) -> TitleEntry | None:
        """The entry of a point id (None when it has none)."""
        if self._by_point is None:
            self._by_point = {e.point_id: e for e in self.entries}
        return self._by_point.get(point_id)

    @staticmethod
    def _label(e: TitleEntry) -> str:
        return f"{e.title} ({e.year})" if e.year else e.title

    def lookup(self, query: str) -> TitleEntry:
        return self.resolve(query).entry

    @staticmethod
    def _by_year(entries: list[TitleEntry], year: int | None) -> list[TitleEntry]:
        if year is None:
            return entries
        near = sorted([e for e in entries if e.year is not None and abs(e.year - year) <= 1],
                      key=lambda e: abs(e.year - year))
        return near[:1] if near and (len(near) == 1 or near[0].year == year) else near

    def _best_known(self, entries: list[TitleEntry], how: str, title: str = "") -> Resolved:
        """The best-known of films sharing a title, the others as alternatives (best-known first):
        a title (or alias) spelt as asked ("Heat", not "The Heat") first, then the most votes, then
        the latest."""
        asked = _literal(title)
        spelt = lambda e: asked in {_literal(e.title), *map(_literal, self.aliases.get(e.point_id, ()))}
        ranked = sorted(entries, key=lambda e: (not spelt(e), -e.votes, -(e.year or 0)))
        if how == "exact" and title and normalise_title(ranked[0].title) != normalise_title(title):
            how = "alias"
        return Resolved(ranked[0], tuple(ranked[1:]), how if len(ranked) == 1 else "best-known")

    def resolve(self, query: str) -> Resolved:
        """`query` -> the movie people mean by it (see the module doc), and the alternatives."""
        from rapidfuzz import fuzz, process

        title, year = split_year(query)
        norm = normalise_title(title)
        if not norm:
            if title.strip():  # "七人の侍": nothing a Latin-script title index could match
                raise UnknownMovieError(f"no movie titled {query!r}: titles are matched by their Latin-script "
                                        "spelling (letters and digits), and this one has none; try the English "
                                        "title or the TMDB id")
            raise UnknownMovieError(f"empty title {query!r}")
        exact = self._by_year(self.by_norm.get(norm, []), year)
        if exact:
            return self._best_known(exact, "exact", title)
        folded = fold(norm)
        same = self._by_year(self.by_fold.get(folded, []), year)
        if same:
            return self._best_known(same, "folded")
        if numbers(folded):  # "Mad Max 2": the one title that continues it with a subtitle
            longer = [e for f, es in self.by_fold.items() if f.startswith(folded + " ") for e in es]
            longer = self._by_year(longer, year)
            if len({normalise_title(e.title) for e in longer}) == 1:
                return self._best_known(longer, "folded")
        want = numbers(norm)
        best: dict[str, tuple[float, float]] = {}  # candidate title -> (full ratio, WRatio), best variant
        for variant in {norm, to_roman(norm)}:  # "rocky 2" also as "rocky ii"
            for name, score, _ in process.extract(variant, self.norms, scorer=fuzz.WRatio, limit=12):
                r = (fuzz.ratio(variant, name), score)
                best[name] = max(best.get(name, r), r)
        cands: list[tuple[float, float, TitleEntry]] = []
        for name, (ratio, score) in best.items():
            for e in self.by_norm[name]:
                if year is None or (e.year is not None and abs(e.year - year) <= 1):
                    cands.append((ratio, score, e))
        cands.sort(key=lambda t: (-t[0], -t[1], -t[2].votes))
        # a match must look like the whole query (not a fragment of it: "zzzzqqq" is not "Z") and
        # carry the query's numbers ("Godfather 2" is not "The Godfather", but "Part II" is)
        ok = [c for c in cands if c[1] >= 86 and c[0] >= MIN_RATIO and want <= numbers(normalise_title(c[2].title))]
        if ok and (len(ok) == 1 or ok[0][0] - ok[1][0] >= 5
                   or normalise_title(ok[1][2].title) == normalise_title(ok[0][2].title)
                   and ok[0][2].votes >= 5 * max(ok[1][2].votes, 1)):
            return Resolved(ok[0][2], how="fuzzy")
        listed = ", ".join(f"{self._label(e)}" for _, _, e in cands[:6]) or "none"
        raise UnknownMovieError(f"no movie titled {query!r}; closest: {listed}",
                                [(e.title, e.year) for _, _, e in cands[:6]])


ROMAN = {"i": 1, "ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10}
MIN_RATIO = 60  # full-string similarity (0-100) a fuzzy match needs


def to_roman(norm: str) -> str:
    """'rocky 2' -> 'rocky ii' (sequel numbers are usually written in roman numerals)."""
    back = {v: k for k, v in ROMAN.items()}
    return " ".join(back.get(int(t), t) if t.isdigit() and int(t) in back else t for t in norm.split())


def numbers(norm: str) -> set[int]:
    """The numbers in a normalised title, roman numerals included ('part ii' -> {2})."""
    out = set()
    for tok in norm.split():
        if tok.isdigit():
            out.add(int(tok))
        elif tok in ROMAN:
            out.add(ROMAN[tok])
    return out
