"""Franchises derived from the catalogue itself: films whose titles share a stem and mark a sequel.

"Terminator 2: Judgment Day", "The Godfather: Part II", "Star Trek IV: The Voyage Home",
"Ice Age: The Meltdown" and "Kill Bill: Vol. 2" each name a stem ("terminator", "godfather",
"star trek", "ice age", "kill bill") and a sequel marker (a trailing numeral or roman numeral,
"Part"/"Chapter"/"Vol."/"Episode" N, or a subtitle after a colon). Films sharing a stem form a
franchise when at least one of them carries a marker, they are not all one year, and they share a
genre; a numeral that opens a title ("2 Days in Paris", "3:10 to Yuma") is not a marker, and two
films with the same plain title ("Crash" 1996 and 2004) are remakes, not a franchise.

Used three ways: the `franchise` payload field (filterable in the Qdrant console), the "same
franchise" explanation, and `reelvec eval`'s franchise recall (pairs split dev/test by franchise,
so tuning never sees a test franchise). Pure functions, no I/O.
"""
from __future__ import annotations

import re
import zlib
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from reelvec import arrays
from reelvec.ingest.movie import Movie, strip_accents

_ROMAN = {"ii": 2, "iii": 3, "iv": 4, "v": 5, "vi": 6, "vii": 7, "viii": 8, "ix": 9, "x": 10, "xi": 11, "xii": 12}
_WORDS = {"two": 2, "three": 3, "four": 4, "five": 5, "six": 6, "seven": 7, "eight": 8, "nine": 9, "ten": 10,
          "eleven": 11, "twelve": 12, "thirteen": 13}
_PREFIXES = ("part", "chapter", "vol", "volume", "episode", "ch")
_SUPERSCRIPT = {ord(c): f" {d}" for c, d in zip("²³⁴⁵⁶⁷⁸⁹", "23456789")}
_AKA = re.compile(r"\s*\((?:a\.k\.a\.|aka)[^)]*\)|\s*\([^)]*\)\s*$", re.I)
_SPLIT = re.compile(r"\s*(?::|\s-\s|\s–\s)\s*")
_NUM = r"\d{1,2}|[ivx]{1,4}|" + "|".join(_WORDS)
_MARKER = re.compile(r"^(?P<stem>.*?)[\s,]+(?P<prefix>(?:" + "|".join(_PREFIXES) + r")\.?\s*)?(?P<n>" + _NUM + r")$")
_SUB_MARKER = re.compile(r"^(?P<prefix>(?:" + "|".join(_PREFIXES) + r")\.?\s*)?(?P<n>\d{1,2}|[ivx]{1,4})\b")
_JUNK = re.compile(r"[^0-9a-z&' ]+")
_LEAD = re.compile(r"^(?:the|a|an)\s+")


@dataclass(frozen=True)
class TitleParts:
    stem: str  # normalised head of the title, marker removed ("" when nothing is left)
    number: int | None  # the sequel number when the title has one (2 for "Rocky II")
    strong: bool  # the number is unambiguous: 2-9 / II-IX, or after "Part"/"Chapter"/"Vol."/"Episode"
    subtitle: bool  # the title has a part after a colon / dash


def _plain(title: str) -> str:
    t = _AKA.sub("", title or "")
    return t if t.isascii() else strip_accents(t.translate(_SUPERSCRIPT))


def _clean(s: str) -> str:
    s = _JUNK.sub(" ", s)
    return _LEAD.sub("", " ".join(s.split()))


def _number(m: re.Match) -> tuple[int | None, bool]:
    """(number, strong) of a marker match; a bare "X", "Seven" or "44" is a weak sign at most."""
    tok, prefixed = m.group("n"), bool(m.group("prefix"))
    n = int(tok) if tok.isdigit() else _ROMAN.get(tok) or _WORDS.get(tok)
    if n is None:
        return None, False
    strong = prefixed or (tok.isdigit() and 2 <= n <= 9) or (tok in _ROMAN and 2 <= n <= 9)
    if not prefixed and tok.isdigit() and n > 9:
        return None, False  # "Child 44", "Apollo 13": part of the name
    return n, strong


def title_parts(title: str) -> TitleParts:
    """Split a title into its franchise stem and sequel marker."""
    t = _plain(title).lower().strip()
    pieces = _SPLIT.split(t, maxsplit=1)
    head, sub = pieces[0], (pieces[1] if len(pieces) > 1 else "")
    number, strong = None, False
    m = _MARKER.match(head)
    if m and m.group("stem").strip():
        n, st = _number(m)
        if n is not None:
            head, number, strong = m.group("stem"), (n if n > 1 else None), st and n > 1
    s = _SUB_MARKER.match(sub) if sub and number is None else None
    if s:  # "The Godfather: Part II", "Kill Bill: Vol. 2", "Insidious: Chapter 2"
        n, st = _number(s)
        if n and n > 1 and (st or s.group("n") == sub):
            number, strong = n, st
    return TitleParts(_clean(head), number, strong, bool(sub))


def _years_differ(ms: Sequence[Movie]) -> bool:
    return len({m.year for m in ms if m.year}) > 1


@dataclass(frozen=True)
class Franchise:
    stem: str
    rows: tuple[int, ...]  # catalogue rows, oldest first

    @property
    def split(self) -> str:
        """'dev' or 'test', stable per franchise (crc32 of the stem)."""
        return "test" if zlib.crc32(self.stem.encode()) % 2 else "dev"


def find_franchises(movies: Sequence[Movie]) -> list[Franchise]:
    """Franchises among `movies` (see the module doc), each with its members' rows oldest first."""
    by_stem: dict[str, list[int]] = defaultdict(list)
    parts = [title_parts(m.title) for m in movies]
    for r, p in enumerate(parts):
        if len(p.stem) >= 3 and not p.stem.isdigit():
            by_stem[p.stem].append(r)
    out = []
    for stem, rows in by_stem.items():
        if len(rows) < 2:
            continue
        genres = [set(movies[r].genres) for r in rows]
        anchor = max(range(len(rows)), key=lambda i: sum(1 for g in genres if g & genres[i]))
        rows = [r for r, g in zip(rows, genres) if not g or not genres[anchor] or g & genres[anchor]]
        ms = [movies[r] for r in rows]
        if len(rows) < 2 or not _years_differ(ms) or not any(parts[r].number or parts[r].subtitle for r in rows):
            continue
        if not any(parts[r].strong for r in rows) and not _confirmed(ms):
            continue  # weak signs alone ("Blood: The Last Vampire" vs "Blood", "The Magnificent Seven") need a second
        out.append(Franchise(stem, tuple(sorted(rows, key=lambda r: (movies[r].year or 0, r)))))
    return sorted(out, key=lambda f: f.stem)


def _confirmed(ms: Sequence[Movie]) -> bool:
    """A second sign that same-stem films with subtitles belong together: a shared director or
    lead actor, or TMDB's 'sequel' keyword on one of them."""
    directors = [m.director for m in ms if m.director]
    if len(directors) != len(set(directors)):
        return True
    leads = [set(m.cast[:3]) for m in ms]
    if any(leads[i] & leads[j] for i in range(len(ms)) for j in range(i + 1, len(ms))):
        return True
    return any("sequel" in m.keywords for m in ms)


def franchise_of(movies: Sequence[Movie]) -> dict[int, str]:
    """row -> franchise stem, for the rows in a franchise."""
    return {r: f.stem for f in find_franchises(movies) for r in f.rows}


def franchise_pairs(franchises: Sequence[Franchise], split: str | None = None) -> list[tuple[int, int]]:
    """(film, next film of its franchise) pairs in both directions, optionally one split only."""
    out = []
    for f in franchises:
        if split and f.split != split:
            continue
        for a, b in zip(f.rows, f.rows[1:]):
            out += [(a, b), (b, a)]
    return out


# ------------------------------------------------------------------------- title similarity
_STOP = frozenset({"the", "a", "an", "of", "and", "in", "to", "on", "for", "with", "at", "by", "from", "or", "vs",
                   "part", "chapter", "vol", "volume", "episode", "movie", "film"} | set(_ROMAN) |
                  {str(i) for i in range(1, 10)})
_WORD = re.compile(r"[a-z0-9]+")


def title_tokens(title: str) -> list[str]:
    """Content words of a title: accent/case-free, plurals folded ("Aliens" ~ "Alien"), sequel
    numbers and stop words dropped."""
    t = _plain(title).lower()
    out = []
    for w in _WORD.findall(t):
        if len(w) > 3 and w.endswith("s") and not w.endswith("ss"):
            w = w[:-1]
        if w not in _STOP:
            out.append(w)
    return out


PREFIX = 0.85  # similarity of a title that continues the query's whole title
COMMON_FLOOR = 5000  # a title word in more titles than this (and than 1% of them) brings none of its own


class _Split:
    """Space-joined word strings, split when a row is read."""

    def __init__(self, joined: Sequence[str]):
        self.joined = joined

    def __getitem__(self, i: int) -> list[str]:
        return (self.joined[i] or "").split()

    def __len__(self) -> int:
        return len(self.joined)


def title_words(title: str) -> tuple[list[str], list[str]]:
    """(words of the whole title, words of its head): what `TitleSimilarity` compares."""
    return title_tokens(title), title_tokens(title_parts(title).stem)


class TitleSimilarity:
    """IDF-weighted word overlap between titles, the larger of two cosines: over whole titles and
    over their heads (the title before a subtitle, sequel number removed), so "Independence Day"
    and "Independence Day: Resurgence" score 1.0 and "Love Actually" / "Love Story" little. A
    title that continues the query's whole title ("The Matrix" -> "The Matrix Reloaded") scores
    at least `PREFIX`: sequels named by a new word rather than a number.

    numpy only (it runs in the serving install); `scores(row)` is one query against every title."""

    def __init__(self, titles: Sequence[str], words: Sequence[tuple[Sequence[str], Sequence[str]]] | None = None):
        """`words`: `title_words` of each title, when already known (a published copy keeps them)."""
        self.n = len(titles)
        words = words if words is not None else [title_words(t) for t in titles]
        self._seq: Sequence = [list(w) for w, _ in words]
        full = [set(s) for s in self._seq]
        head = [set(h) for _, h in words]
        # arrays, not dicts of lists: a cold `reelvec similar` builds this for 11k titles
        vocab = {w: i for i, w in enumerate({w for d in full for w in d} | {w for d in head for w in d})}
        self._vocab = vocab
        full_pairs = self._postings(full, vocab)
        df = np.bincount(full_pairs[1], minlength=len(vocab))
        self._idf2 = np.where(df > 0, np.log((1 + self.n) / (1 + df)) + 1.0, 1.0) ** 2  # squared IDF per word id
        self._full = self._with_norms(full_pairs)
        self._head = self._with_norms(self._postings(head, vocab))

    PARTS = ("row_ptr", "ids", "norms", "word_ptr", "by_word")

    def to_arrays(self) -> dict[str, np.ndarray]:
        """Everything `scores` needs but the titles' word sequences, as arrays a published copy
        saves (``np.savez``, no pickle), so a reader skips building them (`from_arrays`)."""
        vocab = sorted(self._vocab, key=self._vocab.__getitem__)
        out = {"idf2": self._idf2, "vocab": np.array(vocab, dtype=str) if vocab else np.zeros(0, "U1")}
        for name, index in (("full", self._full), ("head", self._head)):
            out.update({f"{name}_{part}": a for part, a in zip(self.PARTS, index)})
        return out

    @classmethod
    def from_arrays(cls, arrays, title_words: Sequence[str]) -> TitleSimilarity:
        """The similarity `to_arrays` saved; `title_words`: each title's words, space-joined."""
        self = cls.__new__(cls)
        self.n = len(title_words)
        self._seq = _Split(title_words)
        self._vocab = {w: i for i, w in enumerate(arrays["vocab"].tolist())}
        self._idf2 = arrays["idf2"]
        self._full, self._head = (tuple(arrays[f"{name}_{part}"] for part in cls.PARTS) for name in ("full", "head"))
        if len(self._full[0]) != self.n + 1:
            raise ValueError(f"title arrays for {len(self._full[0]) - 1} titles, not {self.n}")
        return self

    def _postings(self, docs: list[set[str]], vocab: dict[str, int]):
        """(row of each (row, word) pair, word id of each pair)."""
        lens = np.fromiter((len(d) for d in docs), np.int64, len(docs))
        ids = np.fromiter((vocab[w] for d in docs for w in d), np.int64, int(lens.sum()))
        return np.repeat(np.arange(len(docs), dtype=np.int64), lens), ids

    def _with_norms(self, pairs):
        """-> (row pointer, word ids by row, norms, word pointer, rows by word): both directions."""
        rows, ids = pairs
        norms = np.sqrt(np.bincount(rows, weights=self._idf2[ids], minlength=self.n))
        row_ptr = np.concatenate([[0], np.cumsum(np.bincount(rows, minlength=self.n))])
        order = np.argsort(ids, kind="stable")
        word_ptr = np.concatenate([[0], np.cumsum(np.bincount(ids, minlength=len(self._vocab)))])
        return row_ptr, ids, np.maximum(norms, 1e-12), word_ptr, rows[order]

    def common_df(self) -> int:
        """Titles above which a word is common: its postings are not walked (1% of the titles,
        at least COMMON_FLOOR; no word of the 11k demo titles comes near)."""
        return max(COMMON_FLOOR, self.n // 100)

    def similar_rows(self, row: int) -> dict[int, float]:
        """{row: similarity} of the titles with a similarity above 0 to title `row` (`similar_arrays`)."""
        rows, sims = self.similar_arrays(row)
        return dict(zip(rows.tolist(), sims.tolist()))

    def similar_arrays(self, row: int, above: float = 0.0) -> tuple[np.ndarray, np.ndarray]:
        """(rows ascending, similarities) of the titles with a similarity above 0 to title `row`:
        the titles that share one of its words (59 on average of 11k), by numpy over their
        postings, the larger of the whole-title and head cosines. A common word (`common_df`)
        brings no titles of its own, but still counts, exactly, for the titles another word
        brought: only titles sharing nothing but common words are left out, so a lookup costs
        the postings of the rarer words, not a catalogue scan.

        `above`: only similarities above it are wanted (a blend's `title_floor`: its title term
        is 0 at or below it). A title sharing only words S of the query's has cosine at most
        sqrt(idf2(S)) / |query| (its own norm is at least sqrt(idf2(S))), so the query's most
        frequent words whose idf2 adds up to at most (above |query|)^2 bring no titles of their
        own either, with the common words (they still count for the titles the others bring):
        every similarity above `above` is the one `above=0` gives, fewer at or below it are listed."""
        cap = self.common_df()
        parts: list[tuple[np.ndarray, np.ndarray]] = []
        for row_ptr, ids, norms, word_ptr, by_word in (self._full, self._head):
            ws = ids[row_ptr[row]:row_ptr[row + 1]]
            df = word_ptr[ws + 1] - word_ptr[ws]
            weak = df > cap
            if above > 0 and len(ws):  # words that cannot lift a title above `above`, with the common ones
                order = np.argsort(self._idf2[ws], kind="stable")
                order = order[~weak[order]]
                held = float(self._idf2[ws[weak]].sum()) + np.cumsum(self._idf2[ws[order]])
                weak[order[held <= (above * norms[row]) ** 2 * (1 - 1e-9)]] = True
            rare, common = ws[~weak], ws[weak]
            if not len(rare):
                continue
            post = np.concatenate([by_word[word_ptr[w]:word_ptr[w + 1]] for w in rare.tolist()])
            cands, inv = arrays.unique_inverse(post)
            dot = np.bincount(inv, weights=np.repeat(self._idf2[rare], df[~weak]), minlength=len(cands))
            if len(common):  # the common words these titles have too
                lens = row_ptr[cands + 1] - row_ptr[cands]
                flat = ids[np.repeat(row_ptr[cands] - np.cumsum(lens) + lens, lens) + np.arange(int(lens.sum()))]
                extra = np.where(np.isin(flat, common), self._idf2[flat], 0.0)
                dot += np.bincount(np.repeat(np.arange(len(cands)), lens), weights=extra, minlength=len(cands))
            parts.append((cands, dot / (norms[row] * norms[cands])))
        if not parts:
            rows, sims = np.zeros(0, np.int64), np.zeros(0)
        elif len(parts) == 1:
            rows, sims = parts[0]
        else:  # the larger of the two cosines of each title: sorted by row, then cosine; the last of each row
            both, vals = np.concatenate([p[0] for p in parts]), np.concatenate([p[1] for p in parts])
            order = np.lexsort((vals, both))
            both, vals = both[order], vals[order]
            last = np.append(both[1:] != both[:-1], True)
            rows, sims = both[last], vals[last]
        q = self._seq[row]
        if q:  # titles that continue the whole title: they hold all its words, the rarest first
            row_ptr, ids, norms, word_ptr, by_word = self._full
            ws = sorted({self._vocab[w] for w in q}, key=lambda w: word_ptr[w + 1] - word_ptr[w])
            if word_ptr[ws[0] + 1] - word_ptr[ws[0]] <= cap:
                cands = by_word[word_ptr[ws[0]]:word_ptr[ws[0] + 1]]
                for w in ws[1:]:  # postings are ascending: look the few candidates up in the longer list
                    other = by_word[word_ptr[w]:word_ptr[w + 1]]
                    at = np.minimum(np.searchsorted(other, cands), max(len(other) - 1, 0))
                    cands = cands[other[at] == cands] if len(other) else cands[:0]
                cands = cands[(row_ptr[cands + 1] - row_ptr[cands] >= len(ws)) & (cands != row)]
                longer = [c for c in cands.tolist() if len(seq := self._seq[c]) > len(q) and seq[:len(q)] == q]
                if longer:
                    at = np.searchsorted(rows, longer)
                    have = (at < len(rows)) & (rows[np.minimum(at, len(rows) - 1)] == longer)
                    sims = sims.copy()
                    sims[at[have]] = np.maximum(sims[at[have]], PREFIX)
                    new = np.asarray(longer)[~have]
                    if len(new):
                        rows = np.concatenate([rows, new])
                        sims = np.concatenate([sims, np.full(len(new), PREFIX)])
                        order = np.argsort(rows, kind="stable")
                        rows, sims = rows[order], sims[order]
        return rows, sims

    def scores(self, row: int) -> np.ndarray:
        """Similarity of title `row` to every title, in [0, 1] (0 for titles sharing no word)."""
        out = np.zeros(self.n, np.float64)
        for c, sim in self.similar_rows(row).items():
            out[c] = sim
        return out
