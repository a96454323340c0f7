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
        self._grams: TrigramIndex | None = None  # built at the first fuzzy lookup of a large catalogue
        self._folds: list[str] | None = None  # sorted fold keys (prefix search)

    def warm(self) -> None:
        """Build now what a large catalogue's first fuzzy lookup would (1M titles: ~7 s)."""
        if len(self.norms) > FULL_SCAN and self._grams is None:
            self._grams = TrigramIndex(self.norms)
        if self._folds is None:
            self._folds = sorted(self.by_fold)

    def _candidates(self, variant: str) -> list[str]:
        """The titles a fuzzy lookup scores: all of them in a small catalogue, else the
        `FUZZY_POOL` sharing most letter trigrams with the query (`TrigramIndex`)."""
        if len(self.norms) <= FULL_SCAN:
            return self.norms
        if self._grams is None:
            self._grams = TrigramIndex(self.norms)
        return [self.norms[i] for i in self._grams.top(variant, FUZZY_POOL)]

    def _continuing(self, folded: str) -> list[TitleEntry]:
        """Entries whose folded title continues `folded` with more words ("mad max 2" -> "mad max
        2 the road warrior"), by binary search over the sorted fold keys."""
        import bisect

        if self._folds is None:
            self._folds = sorted(self.by_fold)
        out, prefix = [], folded + " "
        i = bisect.bisect_left(self._folds, prefix)
        while i < len(self._folds) and self._folds[i].startswith(prefix):
            out += self.by_fold[self._folds[i]]
            i += 1
        return out

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
            longer = self._by_year(self._continuing(folded), year)
            if len({normalise_title(e.title) for e in longer}) == 1:
                return self._best_known(longer, "folded")
        want = numbers(norm)
        best: dict[str, tuple[float, float]] = {}  # candidate title -> (full ratio, WRatio), best variant
        for variant in {norm, to_roman(norm)}:  # "rocky 2" also as "rocky ii"
            for name, score, _ in process.extract(variant, self._candidates(variant), scorer=fuzz.WRatio, limit=12):
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


FULL_SCAN = 20_000  # titles a fuzzy lookup scores one by one (11k: ~10 ms); above, trigram candidates first
FUZZY_POOL = 400  # trigram candidates a large catalogue's fuzzy lookup scores
COMMON_GRAM = 0.01  # trigrams in more than this share of titles (and COMMON_FLOOR) are skipped when rarer ones
COMMON_FLOOR = 5000  # exist: their postings are most of a lookup's work (1M titles: 5% -> 15 ms, 1% -> 10 ms)


class TrigramIndex:
    """Byte trigrams of titles -> the titles holding them, as sorted arrays (a CSR posting list,
    built with numpy in one pass), so a fuzzy lookup scores a few hundred likely titles instead
    of every one (1M titles: rapidfuzz over all took 1.7-3.5 s a lookup). Candidates: the titles
    sharing most of the query's trigrams; very common trigrams are skipped when rarer ones exist."""

    def __init__(self, names: list[str]):
        import numpy as np

        codes, rows = _codes(names)
        key = (codes << 24) | rows
        key.sort(kind="stable")  # by trigram, then title (timsort: np.unique's quicksort took 20x longer here)
        if len(key):
            key = key[np.concatenate([[True], key[1:] != key[:-1]])]  # each (trigram, title) once
        self.rows = (key & 0xFFFFFF).astype(np.int32)
        grams = key >> 24
        first = np.flatnonzero(np.concatenate([[True], grams[1:] != grams[:-1]])) if len(key) else np.zeros(0, np.int64)
        self.grams = grams[first]
        self.starts = np.append(first, len(key)).astype(np.int64)
        self.n = len(names)

    def top(self, query: str, limit: int):
        import numpy as np

        if not len(self.grams):
            return np.zeros(0, np.int64)
        want = np.unique(_codes([query])[0])
        at = np.searchsorted(self.grams, want)
        at = at[(at < len(self.grams)) & (self.grams[np.minimum(at, len(self.grams) - 1)] == want)]
        if not len(at):
            return np.zeros(0, np.int64)
        sizes = self.starts[at + 1] - self.starts[at]
        rare = at[sizes <= max(COMMON_GRAM * self.n, COMMON_FLOOR)]
        if not len(rare):
            rare = at[np.argsort(sizes)[:3]]
        hits = np.concatenate([self.rows[self.starts[g]:self.starts[g + 1]] for g in rare])
        counts = np.bincount(hits)
        found = np.flatnonzero(counts)
        if len(found) > limit:
            found = found[np.argpartition(-counts[found], limit - 1)[:limit]]
        return found[np.argsort(-counts[found], kind="stable")]


def _codes(names: list[str]):
    """(trigram code, title row) of every byte trigram of each padded title ("  name ")."""
    import numpy as np

    enc = [f"  {n} ".encode() for n in names]
    lens = np.fromiter(map(len, enc), np.int64, len(enc))
    buf = np.frombuffer(b"".join(enc), np.uint8).astype(np.int64)
    ends = np.cumsum(lens)
    row = np.repeat(np.arange(len(enc), dtype=np.int64), lens)[:-2]
    pos = np.arange(len(buf) - 2)
    ok = pos + 2 < ends[row]  # the trigram lies inside one title
    codes = (buf[:-2] << 16) | (buf[1:-1] << 8) | buf[2:]
    return codes[ok], row[ok]


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
