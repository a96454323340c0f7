"""Which rows of one generation of a published copy pass a `SearchFilter` (`RowFilter`).

A filter splits in two. Its *clauses* (genres, years, languages, a vector the point must have)
are what a catalogue's queries share: their mask over every row is made once per generation
(`base`), and with a vector `using`, also the packed bitmap an ANN index reads (`allowed`), so
a query on a million rows makes no pass over them. Its *query's own* parts (the movie itself
and the ids or series it leaves out, the series, people or ids it narrows to) name few rows:
they are looked up in postings (`dropped`, `select`), never made into a mask per query.

A year range is compared on an int16 column (a fifth of the time of int64 at a million rows).
"""
from __future__ import annotations

import dataclasses
import threading

import numpy as np

from reelvec import arrays
from reelvec.errors import StoreError
from reelvec.index.base import SearchFilter, filter_clauses

MASKS_KEPT = 256  # clause masks kept per generation (N bytes each; + N per vector not every row has, + N/8 for
MASK_BYTES = 256 << 20  # the index's bitmap); and at most this many bytes of them (about 200 filters at 1M rows)
NO_YEAR = np.iinfo(np.int16).min  # a row without a year: a range never matches it (as in Qdrant)


def _clause_key(flt: SearchFilter) -> tuple:
    return (flt.genres_any, flt.genres_all, flt.exclude_genres, flt.year_min, flt.year_max, flt.languages,
            flt.has_vector)


def _clauses_only(flt: SearchFilter) -> SearchFilter:
    return dataclasses.replace(flt, exclude_ids=(), only_ids=None, series=(), directors_any=(), cast_any=(),
                               exclude_series=())


@dataclasses.dataclass
class Allowed:
    """The rows a filter's clauses pass among those with vector `using` (`ok`, never modified),
    how many, and (made on first use) their bitmap over an ANN index's labels."""

    ok: np.ndarray
    passing: int
    bits: tuple | None = None  # (labels it was made for, packed bits, how many labels pass)

    def bitmap(self, labels: np.ndarray, covered: int) -> tuple[np.ndarray, int]:
        """(little-endian packed bits over `labels`, how many pass) for an index whose label i
        is row ``labels[i]`` (rows 0..covered-1 when every row has the vector)."""
        got = self.bits
        if got is None or got[0] is not labels:
            from reelvec import ann

            on = self.ok[:covered] if len(labels) == covered else self.ok[labels]
            got = self.bits = (labels, ann.pack(on), int(np.count_nonzero(on)))  # the bit order faiss reads
        return got[1], got[2]


class RowFilter:
    """Filters over one generation's rows: `ids`, `dead`, `has` (vector -> which rows have it),
    the filterable columns `cols` and the live `row` of each point id."""

    def __init__(self, ids: list[str], dead: np.ndarray, has: dict[str, np.ndarray], cols: dict[str, list],
                 row: dict[str, int]):
        self.n = len(ids)
        self.dead, self.has, self.cols, self.row = dead, has, cols, row
        years = np.array([y if isinstance(y, int) and abs(y) < 32768 else NO_YEAR for y in cols["year"]], np.int64)
        self.year = years.astype(np.int16)
        self._genres: dict[str, np.ndarray] | None = None  # every genre's mask, built at once
        self._langs: dict[str, np.ndarray] = {}
        self._lookups: dict[str, dict] = {}  # field -> value -> rows (series, directors, cast)
        self._masks: dict[tuple, np.ndarray] = {}  # clause key -> mask
        self._allowed: dict[tuple, Allowed] = {}  # (clause key, vector) -> Allowed
        self._lock = threading.Lock()  # the caches are swapped whole; this keeps their size bounded
        self._held = 0  # bytes of the kept masks and bitmaps
        self._everyone = {name: bool(h.all()) for name, h in has.items()}  # vectors every row has

    def warm(self) -> None:
        """Build now what the first filtered queries would: every genre's mask and the series,
        directors and cast postings (one pass each; at a million movies a genre alone took 0.1 s)."""
        self._match("genres", None)
        for key in ("series", "directors", "cast"):
            self._match(key, None)

    # ------------------------------------------------------------------ the shared clauses
    def base(self, flt: SearchFilter | None) -> np.ndarray:
        """The live rows `flt`'s clauses pass (kept per filter: do not modify it)."""
        flt = flt or SearchFilter()
        key = _clause_key(flt)
        got = self._masks.get(key)
        if got is None:
            got = self._clauses_mask(_clauses_only(flt))
            got.flags.writeable = False
            with self._lock:
                self._room(self.n)
                self._masks[key] = got
        return got

    def _room(self, size: int) -> None:
        """Make room for `size` more bytes of kept masks (under the lock): past MASKS_KEPT filters or
        MASK_BYTES, every kept mask goes (a mask in use stays valid: it is only dropped from here)."""
        if len(self._masks) >= MASKS_KEPT or self._held + size > MASK_BYTES:
            self._masks.clear()
            self._allowed.clear()
            self._held = 0
        self._held += size

    def allowed(self, flt: SearchFilter | None, using: str) -> Allowed:
        """`base(flt)` among the rows with vector `using`, counted (kept per filter and vector)."""
        key = (_clause_key(flt or SearchFilter()), using)
        got = self._allowed.get(key)
        if got is None:
            base = self.base(flt)
            if self._everyone.get(using):  # every row has it (fused, text): the mask itself
                ok = base
            else:
                ok = base & self.has[using]
                ok.flags.writeable = False
            got = Allowed(ok, int(np.count_nonzero(ok)))
            with self._lock:
                self._room((0 if ok is base else self.n) + self.n // 8)  # + the bitmap it makes
                self._allowed[key] = got
        return got

    # ------------------------------------------------------------------ a query's own parts
    def dropped(self, flt: SearchFilter | None) -> np.ndarray:
        """The rows `flt` leaves out by id or by series (`exclude_ids`, `exclude_series`), ascending."""
        if flt is None or not (flt.exclude_ids or flt.exclude_series):
            return np.zeros(0, np.int64)
        gone = [self.postings("series", v) for v in flt.exclude_series]
        gone.append(np.fromiter((self.row[i] for i in flt.exclude_ids if i in self.row), np.int64))
        return arrays.unique(np.concatenate(gone))

    def narrows(self, flt: SearchFilter | None) -> bool:
        """Does `flt` name series, people or ids to keep (`select` answers it from postings)?"""
        return flt is not None and bool(flt.series or flt.directors_any or flt.cast_any or flt.only_ids is not None)

    def select(self, flt: SearchFilter | None) -> np.ndarray | None:
        """The rows that pass `flt`, ascending, when it names series, people or ids (what the
        prefetches of `similar` and title candidates ask): found from their postings, in time
        of the few rows they hold rather than a pass over every row. None for other filters."""
        if flt is None or not self.narrows(flt):
            return None
        sets = [arrays.unique(np.concatenate([self.postings(f, v) for v in values]))
                for f, values in (("series", flt.series), ("directors", flt.directors_any), ("cast", flt.cast_any))
                if values]
        if flt.only_ids is not None:
            sets.append(arrays.unique(np.fromiter((self.row[i] for i in flt.only_ids if i in self.row), np.int64)))
        rows = sets[0]
        for other in sets[1:]:
            rows = np.intersect1d(rows, other, assume_unique=True)
        return self.keep(flt, rows)

    def keep(self, flt: SearchFilter | None, rows: np.ndarray) -> np.ndarray:
        """Those of `rows` that `flt`'s clauses pass and its exclusions do not drop;
        what `select` found from postings, or a point's kept neighbours."""
        rows = rows[self.base(flt)[rows]]
        drop = self.dropped(flt)
        return rows[~np.isin(rows, drop)] if len(drop) else rows

    def postings(self, key: str, value) -> np.ndarray:
        """The rows whose `key` (series, directors, cast) holds `value`, ascending."""
        self._match(key, value)  # builds the field's inverted index once per generation
        index = self._lookups[key]
        rows = index.get(value, ())
        if not isinstance(rows, np.ndarray):
            rows = np.asarray(rows, np.int64)
            if value in index:
                index[value] = rows
        return rows

    def mask(self, flt: SearchFilter | None) -> np.ndarray:
        """The rows that pass `flt`, as a new boolean array (counts, scrolls, recall checks)."""
        rows = self.select(flt)
        if rows is not None:
            out = np.zeros(self.n, bool)
            out[rows] = True
            return out
        out = self.base(flt).copy()
        out[self.dropped(flt)] = False
        return out

    # ------------------------------------------------------------------ masks of the clauses
    def _match(self, key: str, value) -> np.ndarray:
        if key == "genres":
            if self._genres is None:  # every genre's mask in one pass over the column
                lists = [g or () for g in self.cols["genres"]]
                owner = np.repeat(np.arange(len(lists)), [len(g) for g in lists])
                names, codes = np.unique(np.array([x for g in lists for x in g], dtype=str), return_inverse=True)
                built = {}
                for i, name in enumerate(names.tolist()):
                    built[name] = np.zeros(len(lists), bool)
                    built[name][owner[codes == i]] = True
                self._genres = built  # one assignment: a thread never sees it half made
            got = self._genres.get(value)
            return got if got is not None else np.zeros(self.n, bool)
        if key == "original_language":
            if value not in self._langs:
                self._langs[value] = np.array([x == value for x in self.cols["original_language"]], bool)
            return self._langs[value]
        if key in ("series", "directors", "cast"):  # an inverted index per field, built once per generation
            index = self._lookups.get(key)
            if index is None:
                index = {}
                for r, v in enumerate(self.cols.get(key) or ()):
                    for x in (v if isinstance(v, list) else [v] if v else ()):
                        index.setdefault(x, []).append(r)
                self._lookups[key] = index  # whole, once built (threads share this view)
            m = np.zeros(self.n, bool)
            m[index.get(value, [])] = True
            return m
        raise StoreError(f"published copies cannot filter on {key!r}")

    def _clauses_mask(self, flt: SearchFilter) -> np.ndarray:
        ok = ~self.dead
        clauses = filter_clauses(flt)
        if clauses is None:
            return ok
        for negate, conds in ((False, clauses[0]), (True, clauses[1])):
            for c in conds:
                if c.kind == "any" and len(c.value) == 1:  # one value (a genre): its kept mask itself
                    m = self._match(c.key, c.value[0])
                elif c.kind == "any":
                    m = np.zeros(self.n, bool)
                    for v in c.value:
                        m |= self._match(c.key, v)
                elif c.kind == "value":
                    m = self._match(c.key, c.value)
                elif c.kind == "range":
                    lo, hi = c.value
                    lo = int(NO_YEAR) + 1 if lo is None else max(int(NO_YEAR) + 1, min(32767, lo))
                    hi = 32767 if hi is None else max(int(NO_YEAR), min(32767, hi))
                    m = self.year >= lo  # no year (NO_YEAR) is below every lo
                    np.logical_and(m, self.year <= hi, out=m)
                else:
                    m = self.has.get(c.value, np.zeros(self.n, bool))
                ok &= ~m if negate else m
        return ok
