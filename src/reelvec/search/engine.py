"""The search API: `reelvec.open(...)` returns an `Engine`; `engine.similar(...)` is the first call.

Every query is an ordinary Qdrant query with the filters pushed down as payload conditions,
so k results come back whenever k exist. Hits carry an explanation: per-modality cosines and
what the two movies share.
"""
from __future__ import annotations

import contextlib
import dataclasses
import functools
import json
import logging
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from reelvec.errors import NoRoomError, SearchError, StoreError, UnknownMovieError
from reelvec.fusion.blend import (
    DEFAULT_MODE,
    HUB_K,
    LABELS,
    LEAD_CAST,
    Blend,
    blends_from,
    lead_people,
    placed_by,
    resolve_mode,
)
from reelvec.fusion.textrank import TextRank
from reelvec.fusion.textrank import rank as rank_text
from reelvec.index.base import ALIAS, Found, QuerySpec, SearchFilter, point_id
from reelvec.ingest.franchise import TitleSimilarity
from reelvec.ingest.mapped import MAX_TITLE  # a longer "title" is not one (fuzzy matching it takes seconds)
from reelvec.locks import WRITER_LOCK
from reelvec.search.lists import ListOptions, shape
from reelvec.search.titles import Resolved, TitleEntry, TitleIndex, split_year

VECTOR_NAMES = ("fused", "text", "image")
ALIAS_CHECK_SECONDS = 1.0
FILTER_KEYS = frozenset({"genres", "genres_all", "exclude_genres", "years", "after", "before", "languages"})
ROW_SETS_KEPT = 100_000  # movies whose genre/people sets a blended `similar` keeps between calls
ANSWERS_K = 10  # a build precomputes every movie's default `similar` up to this k (the default k)
BLEND_POOL = 100  # nearest candidates of a blended `similar`; its ranking is the same for every k up to this
PEOPLE_POOL = 30  # candidates from the same series / a shared director / a shared lead actor, each
MAX_EXCLUDE = 1000  # movies one query may exclude
MAX_UNKNOWN = 10  # unknown titles a history lists before it is refused
MAX_TEXT = 10_000  # characters of a `search_text` query
HISTORY_DECAY = 0.85  # recency weight per step back in a history (the fallback without a sequence model)
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Explanation:
    fused: float | None = None
    text: float | None = None
    image: float | None = None
    shared_genres: tuple[str, ...] = ()
    shared_keywords: tuple[str, ...] = ()
    shared_cast: tuple[str, ...] = ()
    same_director: str | None = None
    note: str | None = None
    placed_by: str | None = None  # the signal that contributed most: "same franchise", "similar plot", ...
    same_franchise: str | None = None  # the franchise both films belong to (payload `franchise`)
    same_series: str | None = None  # the series both belong to, as its sources name it (payload `series_name`)

    def __str__(self) -> str:
        parts = [self.placed_by] if self.placed_by else []
        cos = [f"{n} {v:.2f}" for n, v in (("fused", self.fused), ("text", self.text), ("poster", self.image))
               if v is not None]
        if cos:
            parts.append("cos " + ", ".join(cos))
        if self.same_series:
            parts.append(f"same series: {self.same_series}")
        elif self.same_franchise and self.placed_by != "same franchise":
            parts.append(f"franchise {self.same_franchise}")
        if self.same_director:
            parts.append(f"same director: {self.same_director}")
        if self.shared_cast:
            parts.append("cast " + ", ".join(self.shared_cast[:2]))
        if self.shared_genres:
            parts.append("genres " + ", ".join(self.shared_genres))
        if self.shared_keywords:
            parts.append("keywords " + ", ".join(self.shared_keywords[:3]))
        if self.note:
            parts.append(self.note)
        return "; ".join(parts)

    def to_dict(self) -> dict:
        return {k: (list(v) if isinstance(v, tuple) else v) for k, v in self.__dict__.items()}


@dataclass(frozen=True)
class Hit:
    tmdb_id: int | None
    title: str
    year: int | None
    genres: tuple[str, ...]
    score: float
    explanation: Explanation = field(default_factory=Explanation)
    key: str = ""
    poster: str | None = None
    series: str | None = None  # the series it belongs to, as its sources name it
    director: str | None = None
    overview: str | None = None  # trimmed (payload `overview`)
    tmdb_url: str | None = None
    imdb_url: str | None = None

    def to_dict(self) -> dict:
        return {"tmdb_id": self.tmdb_id, "title": self.title, "year": self.year, "genres": list(self.genres),
                "score": round(self.score, 6), "key": self.key, "poster": self.poster, "series": self.series,
                "director": self.director, "overview": self.overview, "tmdb_url": self.tmdb_url,
                "imdb_url": self.imdb_url, "why": str(self.explanation), "explanation": self.explanation.to_dict()}


def _series_of(hit: Hit) -> str | None:
    return hit.series


def _is_blended(blend: Blend) -> bool:
    """Does `similar` with this blend rescore candidates (rather than run one vector query)?"""
    return blend.vectors != ("fused",) or bool(blend.title or blend.genre or blend.people or blend.series
                                               or blend.hub)


SET_FIELDS = ("genres", "director", "directors", "cast", "series", "hub")  # what `_shared_sets` reads


def _shared_sets(fields: dict) -> tuple[frozenset, frozenset, str | None, float]:
    """(genres, directors and lead actors, series, hubness) of a movie's payload fields: what the
    genre, people and series signals of a blend compare, and its hub penalty."""
    hub = fields.get("hub")
    return (frozenset(fields.get("genres") or ()), lead_people(_directors(fields), fields.get("cast")),
            fields.get("series") or None, float(hub) if isinstance(hub, (int, float)) else 0.0)


def _agreement(q: tuple, c: tuple) -> tuple[float, float, float, float]:
    """(shares a genre, shares people, same series, the candidate's hubness) of query sets `q`
    and candidate sets `c` (`_shared_sets` both)."""
    return float(bool(q[0] & c[0])), float(bool(q[1] & c[1])), float(q[2] is not None and q[2] == c[2]), c[3]


def _directors(fields: dict) -> list[str]:
    return list(fields.get("directors") or ([fields["director"]] if fields.get("director") else []))


def _shared_keys(payload: dict) -> dict[str, tuple[str, ...]]:
    """The candidate prefetches of a query movie: filter fields -> values (its series, its
    directors, its lead actors); only those it has."""
    out = {"series": (payload["series"],) if payload.get("series") else (),
           "directors_any": tuple(_directors(payload)), "cast_any": tuple((payload.get("cast") or ())[:LEAD_CAST])}
    return {k: v for k, v in out.items() if v}


def _prefetch_filters(payload: dict, flt: SearchFilter) -> list[SearchFilter]:
    """`flt` narrowed to each of the query movie's `_shared_keys` (its series, directors, leads)."""
    keys = _shared_keys(payload)
    out = []
    if "series" in keys:
        out.append(dataclasses.replace(flt, series=keys["series"]))
    if "directors_any" in keys:
        out.append(dataclasses.replace(flt, directors_any=keys["directors_any"]))
    if "cast_any" in keys:
        out.append(dataclasses.replace(flt, cast_any=keys["cast_any"]))
    return out


def store_hubness(store, collection: str, ids: Sequence[str], fused: np.ndarray) -> np.ndarray:
    """The hubness (`fusion.blend.hubness`) of new or replaced points `ids` with fused vectors
    `fused`, against the films `collection` holds: the mean cosine of their `HUB_K` nearest
    (themselves left out). The films already there keep theirs until the next build."""
    if not len(ids):
        return np.zeros(0, np.float32)
    specs = [QuerySpec([float(x) for x in v], "fused", HUB_K, SearchFilter(exclude_ids=(pid,)),
                       with_payload=False) for pid, v in zip(ids, fused)]
    found = store.query_batch(collection, specs)
    return np.array([np.clip(np.mean([f.score for f in hits]), 0.0, 1.0) if hits else 0.0 for hits in found],
                    np.float32)


def _median(x: np.ndarray) -> float:
    """np.median of a small array without NaNs, at a fraction of its cost (np.median also
    imports numpy.ma on first use, ~15 ms of a cold CLI call)."""
    s = np.sort(x)
    n = len(s)
    return float((s[(n - 1) // 2] + s[n // 2]) / 2) if n else float("nan")


def _unit(v) -> np.ndarray:
    v = np.asarray(v, np.float32)
    return v / max(float(np.linalg.norm(v)), 1e-12)


def _cosines(q, vectors: Sequence) -> np.ndarray:
    """Cosine of `q` with each vector; NaN where either is missing."""
    out = np.full(len(vectors), np.nan)
    have = [i for i, v in enumerate(vectors) if v is not None and len(v)]
    if q is None or not len(q) or not have:
        return out
    M = np.asarray([vectors[i] for i in have], np.float32)
    qv = np.asarray(q, np.float32)
    out[have] = (M @ qv) / np.maximum(np.linalg.norm(M, axis=1) * float(np.linalg.norm(qv)), 1e-12)
    return out


def _cos(a, b) -> float | None:
    if a is None or b is None or len(a) == 0 or len(b) == 0:
        return None
    a, b = np.asarray(a, np.float32), np.asarray(b, np.float32)
    return float(a @ b / max(float(np.sqrt((a @ a) * (b @ b))), 1e-12))


def make_filter(genres=None, genres_all=None, exclude_genres=None, years=None, after=None, before=None,
                languages=None, exclude_ids=(), has_vector=None) -> SearchFilter:
    from reelvec.ingest.movie import canonical_genres

    y0, y1 = (years if years is not None else (None, None))
    if after is not None:
        y0 = after if y0 is None else max(y0, after)
    if before is not None:
        y1 = before if y1 is None else min(y1, before)
    if y0 is not None and y1 is not None and y0 > y1:
        raise SearchError(f"empty year range {y0}..{y1}")
    as_tuple = lambda v: tuple([v] if isinstance(v, str) else (v or ()))
    return SearchFilter(genres_any=canonical_genres(as_tuple(genres)), genres_all=canonical_genres(as_tuple(genres_all)),
                        exclude_genres=canonical_genres(as_tuple(exclude_genres)), year_min=y0, year_max=y1,
                        languages=as_tuple(languages), exclude_ids=tuple(exclude_ids), has_vector=has_vector)


class Engine:
    """Search over one reelvec collection (found through its alias). Get one with `reelvec.open`.

    Every query method returns a list of `Hit` (best first): TMDB id, title, year, genres, score
    and an `Explanation` (per-modality cosines and what the two movies share). Methods raise
    `UnknownMovieError` for titles/ids not in the index and `SearchError` for bad arguments.
    Encoders load on first use: `similar` and `recommend` never load a model.
    """

    def __init__(self, store, alias: str = ALIAS, encoders_dir: str | None = None, model_dir: str | None = None,
                 text_max_tokens: int | None = None, jobs_dir: str | None = None,
                 writer: Callable[[], tuple[Any, bool]] | None = None, edits: str | Path | None = None,
                 lock: str | Path | None = None, posters: str | Path | None = None, wait: float = 0.0):
        self.store = store
        self._writer = writer  # live edits: () -> (a writable VectorStore, close it afterwards?)
        self._edits = Path(edits) if edits else None  # the home's edit log, which later builds apply
        self._lock = Path(lock) if lock else None  # the home's writer lock, taken before the store is opened
        self._posters = Path(posters) if posters else None  # fetched posters (a crashed edit's recovery)
        self.write_wait = wait  # seconds a write waits for another writer before it is refused
        self.text_rank = TextRank()  # how `search_text` ranks (fusion/textrank.py)
        self._deleted: tuple[int, set[str]] | None = None  # (edits.jsonl mtime, deleted titles)
        self._fusion = None
        self._held = None  # the writable store `editing()` holds
        self._model_dir = model_dir
        self._seq = None
        self.alias = alias
        self._collection: str | None = None
        self._checked = 0.0
        self._titles: TitleIndex | None = None
        self._titles_gen: int | None = None
        self._vocab: tuple[str, dict[str, set[str]]] | None = None
        self._text = self._image = None
        self._blends: dict[str, Blend] | None = None
        self._tsim: tuple | None = None
        self._row_sets: tuple[tuple, dict[str, tuple]] = ((), {})  # see _sets_of
        self._encoders_dir = encoders_dir
        self._text_max_tokens = text_max_tokens  # queries are truncated like the indexed descriptions
        self._jobs_dir = jobs_dir  # the job ledger: how many points the live collection was verified with

    # ----------------------------------------------------------------------------- plumbing
    @property
    def collection(self) -> str:
        """The collection the alias points at. Re-checked at most every `ALIAS_CHECK_SECONDS`, so
        a long-lived engine follows a reindex or rollback to the new collection."""
        now = time.monotonic()
        if self._collection is None or now - self._checked > ALIAS_CHECK_SECONDS:
            c = self.store.resolve_alias(self.alias)
            if c is None:
                raise SearchError(f"no index: alias {self.alias!r} points nowhere; run `reelvec build` first")
            if c != self._collection:
                self._check_complete(c)
                self._collection, self._titles = c, None
            else:
                generation = getattr(self.store, "generation", None)  # a published copy a live edit changed
                if generation is not None and self._titles is not None and generation(c) != self._titles_gen:
                    self._titles = self._vocab = None
            self._checked = now
        return self._collection  # type: ignore[return-value]

    def _check_complete(self, collection: str) -> None:
        """Refuse a collection holding another number of points than its job verified or its
        last edit left (cheap: one small JSON file and a count), rather than answer from half an
        index. While an edit is under way (or died half way) the ledger holds the range of counts
        it can leave, and any count in it is fine."""
        if self._jobs_dir is None:
            return
        for attempt in range(4):  # a live edit publishes its points a moment before it updates the ledger
            refresh = getattr(self.store, "refresh", None)
            if attempt and refresh is not None:
                refresh(collection)
            n = self.store.count(collection)  # first the count, then the ledger (a writer updates it last)
            try:
                st = json.loads((Path(self._jobs_dir) / f"{collection}.json").read_text())
                total, pending = st.get("total"), st.get("pending")
            except (OSError, ValueError, AttributeError):
                return  # no ledger entry (a restored snapshot, an old build): nothing to compare with
            if not isinstance(total, int) or n == total:
                return
            if isinstance(pending, list) and len(pending) == 2 and pending[0] <= n <= pending[1]:
                return
            time.sleep(0.25)
        raise StoreError(f"collection {collection} holds {n} of the {total} points it was verified with; "
                         "run `reelvec build` to index it again")

    def warm(self) -> None:
        """Load now what the first queries would load: the alias, the title index and title
        similarity, the `similar` presets, the filter vocabulary and, on published copies, each
        movie's genre and people sets. A service calls it once before it answers (and before
        it forks workers, which then share these pages); encoders still load on first use."""
        coll = self.collection
        _ = self.blends
        self._title_similarity()
        self.vocabulary()
        self.titles.warm()  # a large catalogue's fuzzy-title candidate index
        columns = getattr(self.store, "columns", None)
        if columns is not None:
            self._sets_of(columns(coll)["ids"])

    @property
    def titles(self) -> TitleIndex:
        coll = self.collection
        if self._titles is None:
            columns = getattr(self.store, "columns", None)
            if columns is not None:  # a published copy keeps titles by column: no payload is read
                c = columns(coll)
                entries = [TitleEntry(pid, t or "", y, tid, int(v or 0)) for pid, t, y, tid, v in
                           zip(c["ids"], c["title"], c["year"], c["tmdb_id"], c["vote_count"])]
                norms = c["norm_title"]
                aliases = {pid: a for pid, a in zip(c["ids"], c.get("aliases") or ()) if a}
            else:
                entries, aliases = [], {}
                for f in self.store.scroll(coll, batch=2000):
                    entries.append(TitleEntry(f.id, f.payload.get("title", ""), f.payload.get("year"),
                                              f.payload.get("tmdb_id"), int(f.payload.get("vote_count") or 0)))
                    if f.payload.get("aliases"):
                        aliases[f.id] = tuple(f.payload["aliases"])
                norms = None
            self._titles = TitleIndex(entries, norms, aliases)
            generation = getattr(self.store, "generation", None)
            self._titles_gen = generation(coll) if generation is not None else None
        return self._titles

    def get_movie_index(self, movie: int | str) -> str:
        """The point id of a movie given by TMDB id, key (``own:sku-1``) or title (fuzzy, year-aware:
        ``"Dune (1984)"``).

        Raises:
            UnknownMovieError: no such movie, or an ambiguous title (the message lists candidates).
        """
        if isinstance(movie, (int, np.integer)) and not isinstance(movie, bool):
            pid = point_id(f"tmdb:{int(movie)}")
            if not self.store.retrieve(self.collection, [pid], with_payload=False):
                raise UnknownMovieError(f"no movie with TMDB id {movie} in the index")
            return pid
        if isinstance(movie, str) and movie.strip().isdigit() and not self._looks_like_title(movie):
            return self.get_movie_index(int(movie))
        if not isinstance(movie, str):
            raise SearchError(f"expected a TMDB id or a title, got {type(movie).__name__}")
        if len(movie) > MAX_TITLE:
            raise SearchError(f"a title of {len(movie)} characters is not a title (limit {MAX_TITLE})")
        return self._key_point(movie) or self.resolve(movie).entry.point_id

    def _title_point(self, movie) -> tuple[str, Resolved | None]:
        """(point id, how its title resolved) of a TMDB id, key or title; the resolution is None
        unless `movie` is a title."""
        movie = int(movie) if isinstance(movie, np.integer) else movie
        if isinstance(movie, str) and not movie.strip().isdigit() and len(movie) <= MAX_TITLE \
                and self._key_point(movie) is None:
            named = self.resolve(movie)
            return named.entry.point_id, named
        return self.get_movie_index(movie), None

    def query_info(self, movie: int | str) -> dict:
        """What a query movie resolved to, as a service answer names it: ``id`` (TMDB), ``key``,
        ``title``, ``year``, ``how`` (exact, alias, best-known, folded, fuzzy, key or id) and
        ``also`` (the other films an exact title shared by several names, best-known first).

        Raises:
            UnknownMovieError: as `resolve`.
        """
        pid, named = self._title_point(movie)
        p = self._record(pid).payload
        how = named.how if named is not None else ("id" if isinstance(movie, int) or str(movie).isdigit() else "key")
        also = [{"id": e.tmdb_id, "title": e.title, "year": e.year} for e in (named.alternatives if named else ())]
        return {"id": p.get("tmdb_id"), "key": p.get("key"), "title": p.get("title"), "year": p.get("year"),
                "how": how, "also": also}

    def resolve(self, title: str) -> Resolved:
        """What a title means: the movie (the best-known of several that share an exact title;
        sequel numbers folded: "Alien 3" is Alien³) and the other films it could name
        (``alternatives``, best-known first), and how it was found (``how``).

        Raises:
            UnknownMovieError: no movie looks like it (the message lists the closest), or it names
                a movie a live edit deleted (never answered by a lookalike).
        """
        from reelvec.ingest.movie import normalise_title

        got = self.titles.resolve(title)
        norm = normalise_title(split_year(title)[0])
        if got.how == "fuzzy" and norm in self._deleted_titles():
            raise UnknownMovieError(f"{title!r} was deleted from the index (a live edit); nothing else is meant by it")
        return got

    def _deleted_titles(self) -> set[str]:
        """Normalised titles of movies live edits deleted and did not add back (from edits.jsonl)."""
        if self._edits is None:
            return set()
        try:
            stamp = self._edits.stat().st_mtime_ns
        except OSError:
            return set()
        if self._deleted is None or self._deleted[0] != stamp:
            from reelvec.ingest.edits import EditLog
            from reelvec.ingest.movie import normalise_title

            gone: dict[str, str] = {}
            for e in EditLog(self._edits).read():
                if e.op == "delete" and e.title:
                    gone[e.key] = normalise_title(e.title)
                elif e.op == "upsert":
                    gone.pop(e.key, None)
            self._deleted = (stamp, set(gone.values()))
        return self._deleted[1]

    def movie(self, movie: int | str) -> dict:
        """The stored payload of one movie (title, year, genres, cast, director, ids, ...).

        Args:
            movie: a TMDB id, or a title (fuzzy and year-aware, e.g. ``"Dune (1984)"``).

        Raises:
            UnknownMovieError: no such movie, or an ambiguous title (the message lists candidates).
        """
        return self._record(self.get_movie_index(movie)).payload

    def vocabulary(self) -> dict[str, set[str]]:
        """The genres and original languages present in the collection (what filters can name)."""
        coll = self.collection
        if self._vocab is None or self._vocab[0] != coll:
            columns = getattr(self.store, "columns", None)
            if columns is not None:
                c = columns(coll)
                genres, langs = c["genres"], c["original_language"]
            else:
                rows = [f.payload for f in self.store.scroll(coll, batch=2000)]
                genres, langs = [p.get("genres") for p in rows], [p.get("original_language") for p in rows]
            self._vocab = (coll, {"genres": {g for gs in genres for g in (gs or ())},
                                  "languages": {x for x in langs if x}})
        return self._vocab[1]

    def _filter(self, filters: dict, exclude_ids=(), has_vector: str | None = None) -> SearchFilter:
        """Check the caller's filters (names, types, values known to the collection) -> SearchFilter."""
        import difflib

        from reelvec.ingest.movie import KNOWN_GENRES, canonical_genre

        unknown = set(filters) - FILTER_KEYS
        if unknown:
            hints = [f"{u!r} (did you mean {m[0]!r}?)" if (m := difflib.get_close_matches(u, FILTER_KEYS, 1)) else repr(u)
                     for u in sorted(unknown)]
            raise SearchError(f"unknown filter {', '.join(hints)}; filters are {', '.join(sorted(FILTER_KEYS))}")
        clean = {k: v for k, v in filters.items() if v is not None}
        for key in ("after", "before"):
            if key in clean and (isinstance(clean[key], bool) or not isinstance(clean[key], (int, np.integer))):
                raise SearchError(f"{key} must be a year (an integer), got {clean[key]!r}")
        if "years" in clean:
            y = clean["years"]
            if (not isinstance(y, (tuple, list)) or len(y) != 2
                    or any(v is not None and (isinstance(v, bool) or not isinstance(v, (int, np.integer))) for v in y)):
                raise SearchError(f"years must be a (from, to) pair of integers, got {y!r}")
        vocab = None
        for key, kind in (("genres", "genres"), ("genres_all", "genres"), ("exclude_genres", "genres"),
                          ("languages", "languages")):
            if key not in clean:
                continue
            vals = [clean[key]] if isinstance(clean[key], str) else clean[key]
            if not isinstance(vals, (list, tuple, set)) or not all(isinstance(v, str) for v in vals):
                raise SearchError(f"{key} must be a name or a list of names, got {clean[key]!r}")
            vocab = vocab or self.vocabulary()
            known = vocab[kind] | (KNOWN_GENRES if kind == "genres" else set())
            for v in vals:
                name = (canonical_genre(v) or v) if kind == "genres" else v
                if name not in known and not (kind == "languages" and len(name) == 2 and name.isalpha()
                                              and name.islower()):  # an ISO code no movie here has
                    close = difflib.get_close_matches(name, sorted(known), 3, 0.5)
                    raise SearchError(f"unknown {kind[:-1]} {v!r} in {key}" + (f"; did you mean {', '.join(close)}?"
                                      if close else f"; known: {', '.join(sorted(known)[:30])}"))
        return make_filter(exclude_ids=exclude_ids, has_vector=has_vector, **clean)

    def _looks_like_title(self, s: str) -> bool:
        return any(e.title == s.strip() for e in self.titles.by_norm.get(s.strip(), []))

    def _record(self, pid: str) -> Found:
        recs = self.store.retrieve(self.collection, [pid], with_vectors=True)
        if not recs:
            raise UnknownMovieError(f"point {pid} is not in the index")
        return recs[0]

    @staticmethod
    def _check_k(k: int) -> None:
        if not isinstance(k, (int, np.integer)) or k <= 0:
            raise SearchError(f"k must be a positive integer, got {k!r}")

    @property
    def text_encoder(self):
        """MiniLM for query texts: the ONNX graph a build exported (no torch import, same vectors
        as fp32), else the fastest path measured on this machine."""
        if self._text is None:
            from reelvec.encoders import EncoderSpec, create
            from reelvec.encoders.text_onnx import find_artifact

            exported = self._encoders_dir is not None and find_artifact(Path(self._encoders_dir)) is not None
            self._text = create(EncoderSpec("minilm", precision="onnx" if exported else "auto",
                                            artifact_dir=self._encoders_dir, max_tokens=self._text_max_tokens))
        return self._text

    @property
    def image_encoder(self):
        if self._image is None:
            from reelvec.encoders import EncoderSpec, create

            self._image = create(EncoderSpec("mobilenet_v2", artifact_dir=self._encoders_dir, light=True))
        return self._image

    # ------------------------------------------------------------------------------- queries
    def similar(self, movie: int | str, k: int = 10, weights: dict[str, float] | None = None,
                mode: str | None = None, *, offset: int = 0, exclude: Sequence[int | str] = (),
                exclude_series: bool = False, group_by: str | None = None, diversity: float = 0.0,
                **filters) -> list[Hit]:
        """Movies like this one.

        Args:
            movie: a TMDB id or a title (fuzzy, year-aware).
            k: how many hits (a positive integer).
            mode: which notion of "similar" (`reelvec.fusion.blend.MODES`): ``"similar"`` (default:
                same franchise, genre and creators first, blended with what the same people liked),
                ``"also-liked"`` (the co-liked embedding alone) or ``"content"`` (no ratings signal).
                The blends are saved with the model (config.json) and are the same on every backend.
            weights: re-weight modalities by hand instead, e.g. ``{"text": 1, "image": 0.3}`` over
                ``fused``/``text``/``image`` cosines (overrides `mode`).
            offset: skip this many hits (a page: ``offset=10, k=10`` is hits 11-20 of ``k=20``).
            exclude: movies (TMDB ids, keys or titles) never to return; pushed down to Qdrant.
            exclude_series: leave out the films of the query's own series (a "more like this"
                row beside a "the series" row); pushed down to Qdrant.
            group_by: ``"series"``: one hit per series, its best (Qdrant's groups, size 1).
            diversity: 0 (default) to 1: reorder by maximal marginal relevance over the fused
                vectors (Qdrant's MMR), so near-duplicates do not fill the list.
            **filters: ``genres`` (any of), ``genres_all``, ``exclude_genres``, ``years=(from, to)``,
                ``after``, ``before`` (years, inclusive), ``languages`` (original language codes);
                pushed down to Qdrant, so `k` hits come back whenever `k` movies pass them.

        Returns:
            Up to `k` hits, best first, never the query movie itself. Grouping and diversity
            reorder the best `reelvec.search.lists.LIST_POOL` (100), so pages of one request agree.

        Raises:
            UnknownMovieError: the movie is not in the index (or the title is ambiguous).
            SearchError: bad `k`, weights or filters.
        """
        self._check_k(k)
        opts = ListOptions(offset, group_by, diversity)
        if not isinstance(exclude_series, bool):
            raise SearchError(f"exclude_series must be true or false, got {exclude_series!r}")
        pid = self.get_movie_index(movie)
        q = self._record(pid)
        flt = self._filter(filters, exclude_ids=(pid, *self._point_ids(exclude)))
        if exclude_series and q.payload.get("series"):
            flt = dataclasses.replace(flt, exclude_series=(q.payload["series"],))
        return shape(lambda n: self._similar_to(q, n, weights, mode, flt), k, opts, _series_of, self._fused_rows)

    def _point_ids(self, movies) -> tuple[str, ...]:
        movies = [movies] if isinstance(movies, (str, int, np.integer)) else list(movies or ())
        if len(movies) > MAX_EXCLUDE:
            raise SearchError(f"exclude has {len(movies):,} movies; give at most {MAX_EXCLUDE:,}")
        return tuple(self.get_movie_index(m) for m in movies)

    def _fused_rows(self, hits: Sequence[Hit]) -> np.ndarray:
        """The fused vectors of hits (for diversity), in order."""
        ids = [point_id(h.key) for h in hits]
        recs = {f.id: f for f in self.store.retrieve(self.collection, ids, with_vectors=True)}
        return np.array([recs[i].vec["fused"] for i in ids], np.float32)

    def _similar_to(self, q: Found, k: int, weights, mode, flt: SearchFilter) -> list[Hit]:
        pid = q.id
        if weights:
            return self._weighted(q, weights, k, flt)
        blend = resolve_mode(mode, self.blends)
        if _is_blended(blend):
            if (mode or DEFAULT_MODE) == DEFAULT_MODE and k <= ANSWERS_K and flt == SearchFilter(exclude_ids=(pid,)):
                hits = self._answered(q, blend, k)  # precomputed by the build for this generation
                if hits is not None:
                    return hits
            found, shown, why = self._blend_rank(q, blend, k, flt)
            return self._hits(found, q, shown, why)
        hits = self.store.query(self.collection, QuerySpec(q.vec["fused"], "fused", k, flt, with_vectors=True,
                                                           near_id=q.id))
        return self._hits(hits, q)

    @property
    def blends(self) -> dict[str, Blend]:
        """The `similar` presets: those saved with the build's model (config.json), else the built-in ones."""
        if self._blends is None:
            meta = None
            if self._model_dir is not None:
                try:
                    meta = json.loads((Path(self._model_dir) / "config.json").read_text())
                except (OSError, ValueError) as exc:
                    logger.debug("no blends in %s (%s): using the built-in presets", self._model_dir, exc)
            self._blends = blends_from(meta if isinstance(meta, dict) else None)
        return self._blends

    def _title_similarity(self) -> tuple[TitleSimilarity, dict[str, int], list[str]]:
        titles = self.titles
        if self._tsim is None or self._tsim[0] is not titles:
            ids = [e.point_id for e in titles.entries]
            words = None
            tsim = None
            columns = getattr(self.store, "columns", None)
            if columns is not None:  # a published copy keeps the title words (same order as its titles)
                c = columns(self.collection)
                if c.get("title_words") is not None and list(c["ids"]) == ids:
                    arrays = getattr(self.store, "title_arrays", None)  # and the similarity, built
                    saved = arrays(self.collection) if arrays is not None else None
                    try:
                        tsim = TitleSimilarity.from_arrays(saved, c["title_words"]) if saved else None
                    except (KeyError, ValueError) as exc:
                        logger.debug("title arrays unusable (%s); building them", exc)
                    if tsim is None:
                        words = [(w.split(), h.split()) for w, h in zip(c["title_words"], c["head_words"])]
            tsim = tsim or TitleSimilarity([e.title for e in titles.entries], words)
            self._tsim = (titles, tsim, {i: r for r, i in enumerate(ids)}, ids)
        return self._tsim[1], self._tsim[2], self._tsim[3]

    @staticmethod
    @functools.lru_cache(maxsize=16)
    def _answers_meta(blend: Blend) -> dict:
        """What precomputed answers must have been computed with to stand for a computed one."""
        return {"answers": 2, "mode": DEFAULT_MODE, "blend": blend.to_dict(), "k": ANSWERS_K, "pool": BLEND_POOL}

    def _answered(self, q: Found, blend: Blend, k: int) -> list[Hit] | None:
        """The default `similar` of `q` from the answers a build precomputed for the generation
        being read (the same hits, scores and explanations as computing them), or None."""
        answer = getattr(self.store, "answer", None)
        got = answer(self.collection, q.id) if answer is not None else None
        if got is None or got[1] != self._answers_meta(blend):
            return None
        a = got[0]
        ids = a["ids"][:k]
        shown = {pid: {n: a[n][j] for n in VECTOR_NAMES} for j, pid in enumerate(ids)}
        why = {pid: a["placed_by"][j] for j, pid in enumerate(ids)}
        return self._hits([Found(pid, s, {}, None) for pid, s in zip(ids, a["score"])], q, shown, why)

    def has_similar_answers(self) -> bool:
        """Does the generation being read keep precomputed default `similar` answers that match
        the current preset?"""
        meta = getattr(self.store, "answer_meta", None)
        return meta is not None and meta(self.collection) == self._answers_meta(resolve_mode(None, self.blends))

    def similar_answers(self, progress: bool = False) -> tuple[str, int, dict[str, dict], dict] | None:
        """Every movie's default `similar` (k = `ANSWERS_K`, no filters), computed as a query would
        compute it, for a build to keep with the published copy (`index.publish.save_answers`):
        (collection, generation, {point id: hits}, meta). None when the store keeps no copies or
        the default mode is not a blend (a plain vector query, fast already)."""
        generation = getattr(self.store, "generation", None)
        columns = getattr(self.store, "columns", None)
        blend = resolve_mode(None, self.blends)
        if generation is None or columns is None or not _is_blended(blend):
            return None
        from tqdm import tqdm

        coll = self.collection
        gen = generation(coll)
        self.warm()
        out = {}
        for pid in tqdm(list(columns(coll)["ids"]), desc="answers", unit="movie", disable=not progress):
            q = self._record(pid)
            found, shown, why = self._blend_rank(q, blend, ANSWERS_K, self._filter({}, exclude_ids=(pid,)))
            out[pid] = {"ids": [f.id for f in found], "score": [f.score for f in found],
                        "placed_by": [why.get(f.id) for f in found],
                        **{n: [shown[f.id][n] for f in found] for n in VECTOR_NAMES}}
        return coll, gen, out, self._answers_meta(blend)

    def _blend_rank(self, q: Found, blend: Blend, k: int,
                    flt: SearchFilter) -> tuple[list[Found], dict[str, dict], dict[str, str | None]]:
        """Candidates from each vector the blend reads (and from similar titles), rescored with the
        blend's formula on their stored vectors and payloads -> (the best k, best first; their
        cosines; the signal that placed each), what `_hits` makes hits of."""
        # The candidates do not depend on k (up to BLEND_POOL), so the first 10 of k=50 are the top
        # 10 of k=10: the heaviest vector's `pool` nearest, the films of the same series, with a
        # director or lead actor in common (`PEOPLE_POOL` each, nearest first) and similar titles.
        # The other vectors only rescore them (measured on validation: a prefetch per vector
        # found the same top 10 for franchise pairs and co-liked NDCG, at twice the cost)
        pool = max(BLEND_POOL, k)
        names = sorted((n for n in blend.vectors if n in q.vec), key=lambda n: -getattr(blend, n))[:1]
        specs = [QuerySpec(q.vec[n], n, pool, flt, with_payload=False, near_id=q.id) for n in names]
        if "fused" in q.vec:
            specs += [QuerySpec(q.vec["fused"], "fused", PEOPLE_POOL, f, with_payload=False)
                      for f in _prefetch_filters(q.payload, flt)]
        cands = {f.id for hits in (self.store.query_batch(self.collection, specs) if specs else []) for f in hits}
        cands.discard(q.id)
        similar_titles, row_of = dict[int, float](), dict[str, int]()
        if blend.title > 0:
            tsim, row_of, ids = self._title_similarity()
            r = row_of.get(q.id)
            if r is not None:
                similar_titles = tsim.similar_rows(r)
                above = sorted((c for c, v in similar_titles.items() if v > blend.title_floor),
                               key=lambda c: (-similar_titles[c], c))[:pool]
                extra = tuple(ids[i] for i in above if ids[i] not in cands and ids[i] != q.id)
                if extra:
                    spec = QuerySpec(q.vec["fused"], "fused", len(extra), dataclasses.replace(flt, only_ids=extra),
                                     with_payload=False)
                    cands.update(f.id for f in self.store.query(self.collection, spec))
        if not cands:
            return [], {}, {}
        cand_ids = sorted(cands)  # rows below are in id order: ties break by id
        gather = getattr(self.store, "vectors_of", None)  # a published copy: one gather per vector
        if gather is not None:
            mats, present = gather(self.collection, cand_ids, [n for n in VECTOR_NAMES if n in q.vec])
            # all three cosines, also for the explanations; NaN where a point has no such vector
            cos = {n: np.where(present[n], M @ _unit(q.vec[n]), np.nan) for n, M in mats.items()}
        else:
            found = self.store.retrieve(self.collection, cand_ids, with_vectors=True, with_payload=False)
            cand_ids = [f.id for f in found]
            cos = {n: _cosines(q.vec.get(n), [f.vec.get(n) for f in found]) for n in VECTOR_NAMES}
        n_c = len(cand_ids)
        cos = {n: cos.get(n, np.full(n_c, np.nan)) for n in VECTOR_NAMES}
        title = np.array([similar_titles.get(row_of.get(i, -1), 0.0) for i in cand_ids])
        # genre, people, series and hubness come from payloads: a published copy keeps them as
        # columns; otherwise read payloads best-bound first until no unread candidate could still
        # reach the top k (its bound: its partial score plus every set bonus)
        q_sets = _shared_sets(q.payload)
        sets = self._sets_of(cand_ids)
        genre, people, series, hub = (np.zeros(n_c) for _ in range(4))

        def scored() -> tuple[dict[str, np.ndarray], np.ndarray]:
            t = blend.terms(cos["fused"], cos["text"], cos["image"], title, genre, people, series, hub)
            return t, np.sum(list(t.values()), axis=0)
        if sets is not None:
            for i, row in enumerate(sets):
                genre[i], people[i], series[i], hub[i] = _agreement(q_sets, row)
            read = np.arange(n_c)
        else:
            # the bound of an unread candidate: its score with no set bonus and an ungated title
            # (gating and hubness only lower a score) plus every set bonus
            zero = np.zeros(n_c)
            partial = np.sum(list(dataclasses.replace(blend, title_plot=0.0).terms(
                cos["fused"], cos["text"], cos["image"], title, zero, zero, zero, zero).values()), axis=0)
            read = np.sort(np.array(self._read_bonuses(cand_ids, partial, blend, k, q_sets,
                                                       (genre, people, series, hub), lambda: scored()[1]), np.int64))
        terms, score = scored()
        order = read[np.argsort(-score[read], kind="stable")][:k]
        typical = {n: _median(t[read]) for n, t in terms.items()}
        ids = [cand_ids[i] for i in order]
        cos_of = {n: [None if x != x else x for x in c[order].tolist()] for n, c in cos.items()}  # NaN -> None
        term_of = {n: t[order].tolist() for n, t in terms.items()}
        shown = {pid: {n: cos_of[n][j] for n in VECTOR_NAMES} for j, pid in enumerate(ids)}
        why = {pid: placed_by({n: term_of[n][j] for n in terms}, typical) or None for j, pid in enumerate(ids)}
        return [Found(pid, s, {}, None) for pid, s in zip(ids, score[order].tolist())], shown, why

    def _sets_of(self, ids: Sequence[str]) -> list[tuple] | None:
        """`_shared_sets` of each point from the store's columns (kept per point until the collection
        or its generation changes); None when the store keeps no such columns."""
        fields = getattr(self.store, "fields_of", None)
        if fields is None:
            return None
        coll = self.collection
        generation = getattr(self.store, "generation", None)
        stamp = (coll, generation(coll) if generation is not None else None)
        if self._row_sets[0] != stamp:
            self._row_sets = (stamp, {})
        cache = self._row_sets[1]
        missing = [i for i in ids if i not in cache]
        if missing:
            cols = fields(coll, missing, SET_FIELDS)
            if cols is None:
                return None
            if len(cache) > ROW_SETS_KEPT:
                cache.clear()
            cache.update((i, _shared_sets(f)) for i, f in zip(missing, cols))
        return [cache[i] for i in ids]

    def _read_bonuses(self, ids: list[str], partial: np.ndarray, blend: Blend, k: int, q_sets: tuple,
                      out: tuple[np.ndarray, ...], full_score: Callable[[], np.ndarray]) -> list[int]:
        """Fill the genre/people/series bonuses and hubness (`out`, in that order) from payloads,
        best bound (`partial`) first, stopping once the k-th best full score (`full_score()`,
        the blend over `out` as filled so far) beats every unread candidate's bound; returns the
        rows read."""
        bound = np.argsort(-partial, kind="stable")
        bonus = blend.upper_bound()
        genre, people, series, hub = out
        read: list[int] = []
        for s in range(0, len(bound), 2 * k):
            batch = bound[s:s + 2 * k]
            for i, f in zip(batch, self.store.retrieve(self.collection, [ids[i] for i in batch])):
                genre[i], people[i], series[i], hub[i] = _agreement(q_sets, _shared_sets(f.payload))
                read.append(int(i))
            full = full_score()[np.array(read)]
            nxt = s + 2 * k
            if len(read) >= k and (nxt >= len(bound) or np.sort(full)[-k] >= partial[bound[nxt]] + bonus):
                break
        return read

    def _weighted(self, q: Found, weights: dict[str, float], k: int, flt: SearchFilter) -> list[Hit]:
        unknown = set(weights) - set(VECTOR_NAMES)
        if unknown:
            raise SearchError(f"unknown weight(s) {sorted(unknown)}; use {', '.join(VECTOR_NAMES)}")
        if any((not isinstance(w, (int, float))) or w < 0 or not np.isfinite(w) for w in weights.values()):
            raise SearchError(f"weights must be finite and >= 0, got {weights}")
        active = {n: float(w) for n, w in weights.items() if w > 0 and n in q.vec}
        if not active:
            raise SearchError(f"no usable modality in weights {weights} for this movie "
                              f"(it has vectors: {', '.join(sorted(q.vec))})")
        if len(active) == 1:
            (name, _), = active.items()
            spec = QuerySpec(q.vec[name], name, k, flt, with_vectors=True)
            return self._hits(self.store.query(self.collection, spec), q)
        pool = max(50, k * 5)
        cands: dict[str, Found] = {}
        for name in active:
            for f in self.store.query(self.collection, QuerySpec(q.vec[name], name, pool, flt)):
                cands.setdefault(f.id, f)
        full = {f.id: f for f in self.store.retrieve(self.collection, list(cands), with_vectors=True)}
        total = sum(active.values())
        scored = []
        for cid, f in full.items():
            s = sum(w * (_cos(q.vec[n], f.vec.get(n)) or 0.0) for n, w in active.items()) / total
            scored.append(Found(cid, s, f.payload, f.vectors))
        scored.sort(key=lambda f: -f.score)
        return self._hits(scored[:k], q)

    def search_text(self, text: str, k: int = 10, *, offset: int = 0, exclude: Sequence[int | str] = (),
                    group_by: str | None = None, diversity: float = 0.0, **filters) -> list[Hit]:
        """Movies whose descriptions match a free text ("a heist comedy in paris").

        Args:
            text: what to look for (encoded with the build's MiniLM text encoder).
            k: how many hits.
            offset, exclude, group_by, diversity: pages, exclusions, one hit per series and
                maximal marginal relevance, as in `similar`.
            **filters: ``genres`` (any of), ``genres_all``, ``exclude_genres``, ``years=(from, to)``,
                ``after``, ``before`` (years, inclusive), ``languages`` (original language codes);
                pushed down to Qdrant, so `k` hits come back whenever `k` movies pass them.

        Returns:
            Up to `k` hits: the `text_rank.pool` (200) nearest films by text cosine, ranked by that
            cosine plus the query's words in their plots (BM25 over overview, keywords and genres,
            never the title) plus a mild popularity prior (`reelvec.fusion.textrank`); the same
            order for every `k` up to the pool. A hit's `score` is that sum, its explanation the
            cosine and the plot words matched.

        Raises:
            SearchError: empty or over-long text, bad `k`/filters.
        """
        self._check_k(k)
        if not isinstance(text, str) or not text.strip():
            raise SearchError("empty search text")
        if len(text) > MAX_TEXT:
            raise SearchError(f"search text of {len(text):,} characters; give at most {MAX_TEXT:,} (the text encoder "
                              "reads only its first word pieces anyway)")
        try:
            text.encode("utf-8")
        except UnicodeEncodeError as exc:
            raise SearchError(f"the search text is not valid Unicode ({exc.reason} at character {exc.start})") from exc
        opts = ListOptions(offset, group_by, diversity)
        flt = self._filter(filters, exclude_ids=self._point_ids(exclude))
        v = self.text_encoder.encode([text.strip()])[0]
        return shape(lambda n: self._text_ranked(text, v, n, flt), k, opts, _series_of, self._fused_rows)

    def _text_ranked(self, text: str, v: np.ndarray, k: int, flt: SearchFilter) -> list[Hit]:
        how = self.text_rank
        pool = self.store.query(self.collection, QuerySpec(v.tolist(), "text", max(how.pool, k), flt))
        ranked = rank_text(text, [f.score for f in pool], [f.payload for f in pool], how)[:k]
        found = [dataclasses.replace(pool[r.index], score=r.score) for r in ranked]
        hits = self._hits(found, Found("", 0.0, {}), cosines={pool[r.index].id: {"text": pool[r.index].score}
                                                              for r in ranked})
        return [dataclasses.replace(h, explanation=dataclasses.replace(
                    h.explanation, note="plot words: " + ", ".join(r.matched[:4]) if r.matched else None))
                for h, r in zip(hits, ranked)]

    def search_image(self, image: str | Path | bytes, k: int = 10, **filters) -> list[Hit]:
        """Movies whose posters look like an image.

        Args:
            image: a file path or the image bytes (JPEG/PNG/...; validated before decoding).
            k: how many hits.
            **filters: ``genres`` (any of), ``genres_all``, ``exclude_genres``, ``years=(from, to)``,
                ``after``, ``before`` (years, inclusive), ``languages`` (original language codes);
                pushed down to Qdrant, so `k` hits come back whenever `k` movies pass them.

        Returns:
            Up to `k` hits with a poster, ranked by poster cosine.

        Raises:
            SearchError: unreadable image, bad `k` or filters.
        """
        from reelvec.ingest.images import BadImageError, load_poster

        self._check_k(k)
        try:
            img = load_poster(image)
        except BadImageError as exc:
            raise SearchError(f"cannot use image {image if not isinstance(image, bytes) else '(bytes)'}: {exc}") from exc
        v = self.image_encoder.encode([img])[0]
        spec = QuerySpec(v, "image", k, self._filter(filters, has_vector="image"), with_vectors=True)
        hits = self.store.query(self.collection, spec)
        return self._hits(hits, Found("", 0.0, {}, {"image": v.tolist()}))

    def recommend(self, positive: Sequence[int | str], negative: Sequence[int | str] = (), k: int = 10,
                  **filters) -> list[Hit]:
        """Movies like all of `positive` and unlike `negative` (Qdrant's recommend API, best score
        strategy, on the fused vectors).

        Args:
            positive: TMDB ids or titles (at least one).
            negative: TMDB ids or titles to steer away from.
            k: how many hits.
            **filters: ``genres`` (any of), ``genres_all``, ``exclude_genres``, ``years=(from, to)``,
                ``after``, ``before`` (years, inclusive), ``languages`` (original language codes);
                pushed down to Qdrant, so `k` hits come back whenever `k` movies pass them.

        Returns:
            Up to `k` hits, none of them a movie given in `positive` or `negative`. One positive
            and no negative is `similar(positive[0], k)` (the default blend).

        Raises:
            UnknownMovieError: a movie is not in the index.
            SearchError: no positive movie, bad `k` or filters.
        """
        self._check_k(k)
        positive = [positive] if isinstance(positive, (str, int, np.integer)) else list(positive or ())
        negative = [negative] if isinstance(negative, (str, int, np.integer)) else list(negative or ())
        if not positive:
            raise SearchError("recommend needs at least one positive movie")
        if len(positive) == 1 and not negative:  # one movie: what `similar` answers (its blend, not best score)
            return self.similar(positive[0], k=k, **filters)
        pos = [self._record(self.get_movie_index(m)) for m in positive]
        neg = [self._record(self.get_movie_index(m)) for m in negative]
        flt = self._filter(filters, exclude_ids=tuple(r.id for r in pos + neg))
        hits = self.store.recommend(self.collection, [r.vec["fused"] for r in pos],
                                    [r.vec["fused"] for r in neg], "fused", k, flt)
        return self._hits(hits, pos[0])

    # ---------------------------------------------------------------------------- live edits
    def _fusion_runtime(self):
        if self._fusion is None:
            if self._model_dir is None:
                raise SearchError("this engine has no fusion model (it was opened on a bare store folder or a URL "
                                  "alone); open the home folder a build wrote, e.g. reelvec.open('.reelvec')")
            from reelvec.fusion.runtime import FusionRuntime

            self._fusion = FusionRuntime.load(self._model_dir)
        return self._fusion

    def _movie_vectors(self, movies: Sequence, posters=None) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
        """(text, image, has_image, fused) of movies, computed as a build does."""
        from reelvec.ingest.prep import build_description
        from reelvec.search.live import image_rows, poster_file, weights_digest

        rt = self._fusion_runtime()
        if weights_digest(self.text_encoder.version) != weights_digest(rt.text_version):
            raise SearchError(f"the text encoder here ({self.text_encoder.version}) is not the one the fusion model was "
                              f"trained on ({rt.text_version}); run `reelvec build` to rebuild with it")
        text = self.text_encoder.encode([build_description(m) for m in movies])
        paths = [poster_file(m, posters) for m in movies]
        if any(p is not None for p in paths):
            if weights_digest(self.image_encoder.version) != weights_digest(rt.image_version):
                raise SearchError(f"the poster encoder here ({self.image_encoder.version}) is not the one the fusion "
                                  f"model was trained on ({rt.image_version}); run `reelvec build` to rebuild with it")
            image, has = image_rows(paths, self.image_encoder)
        else:
            image = np.full((len(movies), rt.state["proj.image.0.weight"].shape[1]), np.nan, np.float32)
            has = np.zeros(len(movies), bool)
        return text, image, has, rt.embed_movies(movies, text, image, has)

    def vector_of(self, movie: int | str, vector: str = "fused") -> np.ndarray:
        """The stored vector of an indexed movie (TMDB id, key or title): what `similar` starts from.
        (`embed("Alien")` embeds the *text* "Alien"; this reads the film.)

        Raises:
            UnknownMovieError: no such movie. SearchError: an unknown vector name, or a movie
                without that vector (no usable poster for ``"image"``).
        """
        if vector not in VECTOR_NAMES:
            raise SearchError(f"unknown vector {vector!r}; vectors are {', '.join(VECTOR_NAMES)}")
        rec = self._record(self.get_movie_index(movie))
        if vector not in rec.vec:
            raise SearchError(f"{rec.payload.get('title', movie)!r} has no {vector} vector (no usable poster)")
        return np.asarray(rec.vec[vector], np.float32)

    def embed(self, item, vector: str = "fused") -> np.ndarray:
        """The vector reelvec would store or search with, without writing anything. A ``str`` is a
        text, never a title lookup: `vector_of("Alien")` is the indexed film's vector.

        Args:
            item: a movie (a `Movie`, or a dict of reelvec fields with at least ``title``), a text
                (``str``), an image (a `pathlib.Path` or the file's bytes), or a list of one kind
                (then the result has one row per item).
            vector: ``"fused"`` (movies and texts; a text counts as a movie with only that title),
                ``"text"`` or ``"image"`` (an image, or a movie's poster).

        Returns:
            A float32 vector (a 2-D array for a list); unit length, except the image vector of a
            movie without a usable poster, which is NaN.

        Raises:
            SearchError: an unknown vector name, a mix of kinds, or an item it cannot embed.
        """
        from reelvec.ingest.images import BadImageError, load_poster
        from reelvec.search.live import as_movies

        if vector not in VECTOR_NAMES:
            raise SearchError(f"unknown vector {vector!r}; vectors are {', '.join(VECTOR_NAMES)}")
        many = isinstance(item, list)
        items = item if many else [item]
        if not items:
            raise SearchError("nothing to embed: an empty list")
        kind = lambda x: "image" if isinstance(x, (bytes, Path)) else "text" if isinstance(x, str) else "movie"
        kinds = {kind(x) for x in items}
        if len(kinds) > 1:
            raise SearchError(f"embed takes one kind of item at a time, got {', '.join(sorted(kinds))}")
        (what,) = kinds
        if what == "image":
            if vector != "image":
                raise SearchError(f"an image has only an image vector (asked for {vector!r}); embed a movie with "
                                  "that poster for a fused vector")
            try:
                out = self.image_encoder.encode([load_poster(x) for x in items])
            except BadImageError as exc:
                raise SearchError(f"cannot embed image: {exc}") from exc
        elif what == "text" and vector == "text":
            if not all(x.strip() for x in items):
                raise SearchError("cannot embed an empty text")
            out = self.text_encoder.encode([x.strip() for x in items])
        else:
            movies = as_movies([{"title": x} for x in items] if what == "text" else items, unique=False)
            text, image, _, fused = self._movie_vectors(movies)
            out = {"fused": fused, "text": text, "image": image}[vector]
        out = np.asarray(out, np.float32)
        return out if many else out[0]

    @contextlib.contextmanager
    def editing(self, wait: float | None = None):
        """Hold the home's writer lock across several `upsert`/`delete` calls: the lock is taken
        and the embedded store's shard loaded once (about 0.4 s for 11k movies) instead of once
        per call. Another writer (`reelvec add`, a build's swap) meanwhile waits up to its own
        ``--wait`` and is then refused with a StoreError naming this process; readers are never
        blocked. This engine itself waits up to `wait` seconds (default `write_wait`, 0) for a
        writer that holds the lock now.

            with engine.editing():
                for batch in batches:
                    engine.upsert(batch)
        """
        with self._holding(wait):
            yield self

    @contextlib.contextmanager
    def _holding(self, wait: float | None = None):
        """The writable store, opened (and released afterwards) unless `editing()` holds it
        already: first the writer lock, then the store, then any edit a crashed writer left
        half done is finished, then the caller writes."""
        if self._held is not None:  # already held (a nested call): the outer one releases it
            yield self._held
            return
        if self._writer is None:
            raise SearchError("this engine cannot write: it was opened on a bare store folder; open the home "
                              "folder a build wrote (reelvec.open('.reelvec')) or a server URL")
        from reelvec.locks import file_lock

        lock = (file_lock(self._lock, self.write_wait if wait is None else wait, "a live edit")
                if self._lock is not None else contextlib.nullcontext())
        with lock:
            store, own = self._writer()
            self._held = store
            try:
                self._collection = None  # the alias may have moved while this writer waited
                self._recover(store)
                yield store
            finally:
                self._held = None
                if own:
                    store.close()

    def _recover(self, store) -> None:
        """Finish the edits a writer logged but did not commit (killed, or out of space, half
        way): each is applied again (upserts and deletes are idempotent) and then committed."""
        from reelvec.ingest.edits import EditLog

        if self._edits is None:
            return
        log = EditLog(self._edits)
        pending = log.pending()
        if not pending:
            return
        coll = self.collection
        posters = None
        if self._posters is not None and self._posters.is_dir():
            from reelvec.encoders.pipeline import fetched_posters

            posters = fetched_posters(self._posters)
        for txn, edits in pending:
            ups = list({e.key: e.movie for e in edits if e.op == "upsert" and e.movie is not None}.values())
            dels = [point_id(e.key) for e in edits if e.op == "delete"]
            dels = [f.id for f in store.retrieve(coll, dels, with_payload=False)] if dels else []
            points = self._points(ups, coll, posters) if ups else []

            def write(st, points=points, dels=dels):
                if points:
                    st.upsert(coll, points)
                if dels:
                    st.delete(coll, dels)
            self._apply(store, coll, write, len(ups), len(dels))
            log.commit([txn])
        logger.warning("finished %d edit(s) that a writer logged in %s but did not commit (it stopped half way)",
                       len(pending), self._edits)

    def _write(self, store, collection: str, write: Callable[[Any], None], upserts=(), deletes=(),
               titles: dict | None = None) -> None:
        """One edit's commit, in an order a kill at any point can finish: the intent goes to the
        edit log (fsynced), the ledger learns the range of counts the edit may leave, then the
        store and its published copy are written, then the ledger gets the exact count, then the
        edit is marked committed in the log."""
        from reelvec.ingest.edits import EditLog

        log = EditLog(self._edits) if self._edits is not None and (upserts or deletes) else None
        txn = log.append(upserts=upserts, deletes=deletes, titles=titles) if log is not None else None
        try:
            self._apply(store, collection, write, len(upserts), len(deletes))
        except NoRoomError:  # refused before anything changed: the intent will never apply
            if log is not None and txn is not None:
                log.abort(txn)
            raise
        if log is not None and txn is not None:
            log.commit([txn])

    def _apply(self, store, collection: str, write: Callable[[Any], None], adds: int, deletes: int) -> None:
        """The middle of a commit (a new edit's or a recovered one's): the ledger learns the counts
        the write may leave, the store and its copy are written, the ledger gets the exact count."""
        self._expect(store, collection, adds, deletes)
        write(store)
        self._after_edit(store, collection)

    def _ledger(self, collection: str):
        if self._jobs_dir is None:
            return None, None
        from reelvec.index.jobs import JobLedger

        ledger = JobLedger(self._jobs_dir)
        return ledger, ledger.load(collection)

    def _expect(self, store, collection: str, adds: int, deletes: int) -> None:
        """Before a write: the ledger records the counts it can leave (so a reader never refuses
        the collection for an edit under way or one that died half way)."""
        ledger, st = self._ledger(collection)
        if st is not None:
            n = store.count(collection)
            st.pending = [n - deletes, n + adds]
            ledger.save(st)

    def _after_edit(self, store, collection: str) -> None:
        """The job ledger learns the new point count and this engine's title index and copy
        are refreshed at once."""
        ledger, st = self._ledger(collection)
        if st is not None:
            st.total, st.pending = store.count(collection), None
            ledger.save(st)
        refresh = getattr(self.store, "refresh", None)
        if refresh is not None:
            refresh(collection)
        self._titles = self._vocab = self._tsim = None

    def _points(self, movies: Sequence, collection: str, posters: dict[str, str] | None = None) -> list:
        """Points of `movies` for `collection`, encoded and fused as a build would."""
        from reelvec.encoders.pipeline import Features
        from reelvec.index.build import make_points
        from reelvec.search.live import franchises_with

        text, image, has, fused = self._movie_vectors(movies, posters)
        norms = np.linalg.norm(fused, axis=1) if len(fused) else np.ones(0)
        if not np.isfinite(fused).all() or (np.abs(norms - 1.0) > 1e-3).any():
            raise SearchError("the fusion model gave a vector that is not a finite unit vector; nothing was written "
                              "(the model files are damaged: `reelvec build --retrain` trains them again)")
        image_version = self.image_encoder.version if has.any() else ""
        feats = Features([m.key for m in movies], text, image, has, self.text_encoder.version, image_version)
        columns = getattr(self.store, "columns", None)
        franchise = franchises_with(movies, columns(collection) if columns is not None else None)
        hub = store_hubness(self.store, collection, [point_id(m.key) for m in movies], fused)
        return make_points(movies, feats, fused, self._fusion_runtime().version, franchise=franchise, hub=hub)

    def upsert(self, movies, posters: dict[str, str] | None = None, *, record: bool = True) -> list[str]:
        """Add or replace movies in the live collection, encoded as a build would encode them.

        Args:
            movies: a movie or a list: `Movie` objects, or dicts of reelvec fields (``title``
                required; ``id`` or ``tmdb_id`` makes it replaceable later; ``overview``,
                ``genres``, ``year``, ``director``, ``cast``, ``keywords``, ``poster`` (a local
                file) ...). A movie with the key of one already indexed replaces it whole.
            posters: poster URL -> local file, for posters fetched beforehand (`reelvec add` does).
            record: append the edit to the home's ``edits.jsonl`` (False: a build replaying it).

        Returns:
            The movie keys written (``tmdb:<id>``, or ``own:<id>``, or ``own:<title>:<year>``).

        Every open engine on the same home sees the edit within a second (embedded store: the
        published copy gains a generation; a server: at once, titles on its next refresh), and
        the edit is appended to the home's ``edits.jsonl``, which every later `reelvec build` /
        `reindex` applies, so it survives rebuilds.

        Raises:
            SearchError: a movie without a title or with a bad field (named), or an engine that
                cannot write (opened on a bare store folder).
            StoreError: another writer holds the home (named in the message) for longer than
                `write_wait` seconds, or the disk has no room (nothing is written then).
        """
        from reelvec.search.live import as_movies

        movies = as_movies(movies)
        if not movies:
            return []
        with self._holding() as store:
            coll = self.collection  # resolved under the writer lock: a reindex cannot swap it meanwhile
            points = self._points(movies, coll, posters)
            self._write(store, coll, lambda st: st.upsert(coll, points), upserts=movies if record else ())
        logger.info("upserted %d movie(s) into %s", len(movies), coll)
        return [m.key for m in movies]

    def delete(self, movies, *, record: bool = True) -> list[str]:
        """Remove movies from the live collection (and from every later build's catalogue).

        Args:
            movies: a TMDB id, a movie key (``own:sku-1``), an exact title (``"Dune (1984)"``),
                or a list of them. Titles must match exactly (up to case and punctuation): a
                fuzzy match never deletes.
            record: append the edit to the home's ``edits.jsonl`` (False: a build replaying it).

        Returns:
            The keys of the movies deleted.

        Raises:
            UnknownMovieError: a movie is not in the index, or a title is not exact or ambiguous
                (nothing is deleted then).
        """
        from reelvec.ingest.movie import normalise_title
        from reelvec.search.titles import split_year

        items = [movies] if isinstance(movies, (str, int, np.integer)) else list(movies)
        with self._holding() as store:
            pids = []
            for m in items:
                pid, named = self._title_point(m)
                if named is not None:  # a title
                    if named.alternatives:  # a query may mean the best-known; a delete must mean one film
                        films = ", ".join(self.titles._label(e) for e in (named.entry, *named.alternatives))
                        raise UnknownMovieError(f"{m!r} names {1 + len(named.alternatives)} films ({films}); give "
                                                "the year or the key, so nothing was deleted",
                                                [(e.title, e.year) for e in (named.entry, *named.alternatives)])
                    got = named.entry
                    if normalise_title(got.title) != normalise_title(split_year(str(m))[0]):
                        raise UnknownMovieError(f"{m!r} is not an exact title (closest: {got.title!r}"
                                                f"{f' ({got.year})' if got.year else ''}); delete takes exact "
                                                "titles, TMDB ids or keys, so nothing was deleted")
                pids.append(pid)
            coll = self.collection
            found = self.store.retrieve(coll, pids)
            keys = [f.payload.get("key", f.id) for f in found]
            titles = {f.payload.get("key", f.id): f.payload.get("title") for f in found}
            self._write(store, coll, lambda st: st.delete(coll, pids), deletes=keys if record else (),
                        titles=titles)
        logger.info("deleted %d movie(s) from %s", len(keys), coll)
        return keys

    def _key_point(self, movie: str) -> str | None:
        """The point id of a movie key (``tmdb:603``, ``own:sku-1``) when such a point exists."""
        m = movie.strip()
        if ":" not in m or " " in m.split(":", 1)[0] or not m.split(":", 1)[1]:
            return None
        pid = point_id(m)
        return pid if self.store.retrieve(self.collection, [pid], with_payload=False) else None

    # ------------------------------------------------------------------------------- history
    def _sequence_model(self):
        """The watch-history model, or None while there is none (a build trains it after the index
        is live; an engine opened on a bare store folder has no model folder)."""
        if self._seq is None and self._model_dir is not None:
            from reelvec.errors import FusionError
            from reelvec.fusion.sequence_runtime import SequenceRuntime

            folder = Path(self._model_dir) / "sequence"
            try:
                try:
                    self._seq = SequenceRuntime.load(folder)  # numpy: no torch import (4-5 s cold)
                except FusionError as exc:
                    if "GRUs only" not in str(exc):
                        raise
                    from reelvec.fusion.sequence import SequenceModel

                    self._seq = SequenceModel.load(folder)
            except (FusionError, ImportError) as exc:  # ImportError: a serving install has no torch
                logger.info("no sequence model yet (%s); histories use the recency-weighted mean", exc)
                return None
        return self._seq

    def for_history(self, history: Sequence, k: int = 10, exclude_seen: bool = True, **filters) -> list[Hit]:
        """What to watch next after a watch history.

        Args:
            history: movies watched, oldest first: TMDB ids or titles, or (movie, rating) pairs
                (rating 0.5-5; a bare movie counts as 4.5).
            k: how many hits.
            exclude_seen: leave the history's movies out of the results.
            **filters: ``genres`` (any of), ``genres_all``, ``exclude_genres``, ``years=(from, to)``,
                ``after``, ``before`` (years, inclusive), ``languages`` (original language codes);
                pushed down to Qdrant, so `k` hits come back whenever `k` movies pass them.

        Returns:
            Up to `k` hits. Empty history: the most popular movies within the filters; one movie:
            movies like it; more: the sequence model's prediction of the next liked movie. Each
            hit's explanation says which.

        Raises:
            UnknownMovieError: movies of the history are not in the index (all are listed, with
                their closest matches).
            SearchError: bad `k` or filters. Without a sequence model (an engine opened on a bare
                store folder, or a build still training it) histories use the recency-weighted
                mean of their movies, and the explanation says so.
        """
        self._check_k(k)
        if isinstance(history, (str, int)):
            raise SearchError("history must be a list of movies, oldest first (a single title is a list of one)")
        items = [(h if isinstance(h, tuple) else (h, 4.5)) for h in history]
        resolved, unknown = [], []
        for movie, rating in items:
            if isinstance(rating, bool) or not isinstance(rating, (int, float)) or not 0.5 <= rating <= 5:
                raise SearchError(f"rating of {movie!r} must be a number from 0.5 to 5, got {rating!r}")
            try:
                resolved.append((self.get_movie_index(movie), float(rating)))
            except UnknownMovieError as exc:
                unknown.append(str(exc))
                if len(unknown) >= MAX_UNKNOWN:  # each costs a fuzzy lookup: a history of junk stops here
                    unknown.append(f"(stopped after {MAX_UNKNOWN} unknown movies)")
                    break
        if unknown:
            raise UnknownMovieError("unknown movies in the history: " + " | ".join(unknown))
        seen = tuple(pid for pid, _ in resolved) if exclude_seen else ()
        flt = self._filter(filters, exclude_ids=seen)
        if not resolved:
            return self._popular(k, flt)
        if len(resolved) == 1:
            q = self._record(resolved[0][0])
            hits = self.store.query(self.collection, QuerySpec(q.vec["fused"], "fused", k, flt, with_vectors=True))
            return [dataclasses.replace(h, explanation=dataclasses.replace(
                h.explanation, note="one-movie history: movies like it")) for h in self._hits(hits, q)]
        recs = {f.id: f for f in self.store.retrieve(self.collection, [p for p, _ in resolved], with_vectors=True)}
        vectors = np.array([recs[p].vec["fused"] for p, _ in resolved], np.float32)
        seq = self._sequence_model()
        if seq is not None:
            v = seq.predict_vectors(vectors, [r for _, r in resolved])
            note = f"next after {len(resolved)} movies (sequence model); compared with the last one"
        else:  # the best baseline of `reelvec eval-history`: recent movies count more
            w = (HISTORY_DECAY ** np.arange(len(vectors))[::-1])[:, None]
            v = (vectors / np.maximum(np.linalg.norm(vectors, axis=1, keepdims=True), 1e-12) * w).sum(0)
            note = f"next after {len(resolved)} movies (recency-weighted mean: no sequence model yet)"
        hits = self.store.query(self.collection, QuerySpec(v, "fused", k, flt, with_vectors=True))
        last = recs[resolved[-1][0]]
        return [dataclasses.replace(h, explanation=dataclasses.replace(h.explanation, note=note))
                for h in self._hits(hits, last)]

    def _popular(self, k: int, flt: SearchFilter) -> list[Hit]:
        """Cold user: the most-voted movies that pass the filters (the filter runs in Qdrant)."""
        matching = list(self.store.scroll(self.collection, batch=2000, flt=flt))
        matching.sort(key=lambda f: -(f.payload.get("vote_count") or 0))
        top = [Found(f.id, float(f.payload.get("vote_count") or 0), f.payload) for f in matching[:k]]
        return [dataclasses.replace(h, explanation=Explanation(note="empty history: most popular within the filters"))
                for h in self._hits(top, Found("", 0.0, {}, {}))]

    # ------------------------------------------------------------------------- explanations
    def _hits(self, found: Sequence[Found], query: Found,
              cosines: dict[str, dict[str, float | None]] | None = None,
              placed: dict[str, str | None] | None = None) -> list[Hit]:
        """Hits with explanations; `cosines` (id -> vector name -> cosine) saves reading vectors
        back, `placed` (id -> the signal that placed it) fills `placed_by`."""
        if not found:
            return []
        cosines = cosines or {}
        full = {f.id: f for f in found if f.vectors is not None}  # vectors already read (weighted search)
        missing = [f.id for f in found if f.vectors is None and f.id not in cosines]
        if missing:
            full.update((f.id, f) for f in self.store.retrieve(self.collection, missing, with_vectors=True))
        bare = [f.id for f in found if f.id in cosines and not f.payload]
        if bare:
            full.update((f.id, f) for f in self.store.retrieve(self.collection, bare))
        qp = query.payload
        qv = {n: np.asarray(v, np.float32) for n, v in (query.vectors or {}).items()}
        qd, qf, qs = set(_directors(qp)), qp.get("franchise"), qp.get("series")
        q_genres, q_keywords, q_cast = set(qp.get("genres", [])), set(qp.get("keywords", [])), set(qp.get("cast", []))
        out = []
        for f in found:
            rec = full.get(f.id, f)
            p, v = rec.payload, rec.vectors or {}
            known = cosines.get(f.id)
            cos = known if known is not None else {n: _cos(qv.get(n), v.get(n)) for n in VECTOR_NAMES}
            expl = Explanation(
                fused=cos.get("fused"), text=cos.get("text"), image=cos.get("image"),
                shared_genres=tuple(g for g in p.get("genres", []) if g in q_genres),
                shared_keywords=tuple(x for x in p.get("keywords", []) if x in q_keywords),
                shared_cast=tuple(x for x in p.get("cast", []) if x in q_cast),
                same_director=", ".join(d for d in _directors(p) if d in qd) or None,
                same_franchise=qf if qf and qf == p.get("franchise") else None,
                same_series=(p.get("series_name") or qs) if qs and qs == p.get("series") else None,
                placed_by=placed.get(f.id) if placed else None)
            if expl.placed_by == LABELS["title"] and not expl.same_franchise:
                expl = dataclasses.replace(expl, placed_by="similar title")
            out.append(Hit(p.get("tmdb_id"), p.get("title", "?"), p.get("year"), tuple(p.get("genres", [])),
                           float(f.score), expl, p.get("key", ""), p.get("poster"),
                           p.get("series_name") or p.get("series"), p.get("director"), p.get("overview"),
                           p.get("tmdb_url"), p.get("imdb_url")))
        return out

    def close(self) -> None:
        """Release the store (the embedded store's lock, a server connection)."""
        self.store.close()

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.close()


def open_engine(path: str | Path | None = None, url: str | None = None, api_key: str | None = None,
                location: str | None = None, alias: str = ALIAS, wait: float = 0.0) -> Engine:
    """Open an `Engine` (this is `reelvec.open`).

    Args:
        path: a home folder written by `reelvec build` (default ``.reelvec``; its ``manifest.json``
            says where the store, model and encoder artifacts are), or a bare embedded store folder.
            The embedded store is opened read-only through its published copies: no lock, no file
            written, any number of readers beside one writer, and the engine follows the alias
            when a reindex or rollback moves it.
        url: a Qdrant server URL instead (``http://localhost:6333``); the collection is found by alias.
            With `path` too, the home's model and encoders come along (live edits need them).
        api_key: the server's API key (default ``$QDRANT_API_KEY``); never written to disk.
        location: qdrant-client's local mode (``":memory:"``), used by tests.
        alias: the collection alias to search (default ``movies``).
        wait: seconds a live edit waits for another writer of the home (a `reelvec add`, a
            build's swap) before it is refused (default 0: refused at once, naming the holder).

    Returns:
        An `Engine`; use it as a context manager or call `close()`.

    Raises:
        SearchError: there is no index at `path` (run ``reelvec build`` first).
        StoreError: the store cannot be opened (locked, unreachable server, refused key).
    """
    import os

    from reelvec.index import open_store
    from reelvec.index.published import PublishedStore

    api_key = api_key or os.environ.get("QDRANT_API_KEY")
    home = Path(path or ".reelvec")
    manifest = home / "manifest.json"
    if manifest.exists() and (path is not None or not (url or location)):
        try:
            m = json.loads(manifest.read_text())
            if not isinstance(m, dict):
                raise ValueError("not a JSON object")
        except (OSError, ValueError) as exc:
            raise SearchError(f"{manifest} is unreadable ({exc}); rerun `reelvec build --store {home}`") from exc
        extra: dict[str, Any] = {"encoders_dir": str(home / m["encoders"]) if m.get("encoders") else None,
                 "model_dir": str(home / m.get("model", "model")), "text_max_tokens": m.get("text_max_tokens"),
                 "jobs_dir": str(home / m["jobs"]) if m.get("jobs") else None,
                 "edits": home / m.get("edits", "edits.jsonl"), "lock": home / WRITER_LOCK,
                 "posters": home / "posters", "wait": wait}
        server = url or os.environ.get("QDRANT_URL") or m.get("qdrant_url")
        if server or location:
            store = open_store(url=server, api_key=api_key, location=location if not server else None)
            return Engine(store, alias, writer=lambda: (store, False), **extra)
        folder = home / m.get("store", "store")
        # live edits take the embedded store's lock only while they write
        return Engine(PublishedStore(folder), alias, writer=lambda: (open_store(path=str(folder)), True), **extra)
    if url or location:  # a path without a build's manifest: the server alone
        store = open_store(url=url, api_key=api_key, location=location)
        return Engine(store, alias, writer=lambda: (store, False))
    if (home / "aliases.json").exists() or (home / "collections").is_dir():
        return Engine(PublishedStore(home), alias)
    raise SearchError(f"no reelvec index at {home}: run `reelvec build --store {home}` first")


class Recommendation_Search:
    """Compatibility layer over `Engine` with the seed's names."""

    def __init__(self, path: str | Path | None = None, **kwargs):
        self.engine = open_engine(path, **kwargs)

    def get_movie_index(self, title: str) -> str:
        return self.engine.get_movie_index(title)

    def get_recommendations(self, title: int | str, k: int = 10, **filters) -> list[Hit]:
        return self.engine.similar(title, k=k, **filters)


def get_recommendations(title: int | str, k: int = 10, path: str | Path | None = None, **filters) -> list[Hit]:
    with open_engine(path) as engine:
        return engine.similar(title, k=k, **filters)
