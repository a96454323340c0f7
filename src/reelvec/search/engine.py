"""The search API: `reelvec.open(...)` returns an `Engine`; `engine.similar(...)` is the first call.

Every query is an ordinary Qdrant query with the filters pushed down as payload conditions,
so k results come back whenever k exist. Hits carry an explanation: per-modality cosines and
what the two movies share.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reelvec.errors import SearchError, StoreError, UnknownMovieError
from reelvec.fusion.blend import (
    DEFAULT_MODE,
    Blend,
    resolve_mode,
)
from reelvec.fusion.textrank import TextRank
from reelvec.fusion.textrank import rank as rank_text
from reelvec.index.base import ALIAS, Found, PublishedReads, QuerySpec, SearchFilter, point_id
from reelvec.ingest.mapped import MAX_TITLE  # a longer "title" is not one (fuzzy matching it takes seconds)
from reelvec.locks import WRITER_LOCK
from reelvec.search.hits import VECTOR_NAMES, Explains, Explanation, Hit, _series_of
from reelvec.search.lists import ListOptions, shape
from reelvec.search.ranking import ANSWERS_K, ROW_SETS_KEPT, Ranking, _is_blended
from reelvec.search.titles import Resolved, TitleEntry, TitleIndex, split_year
from reelvec.search.writes import LiveEdits, key_shaped

ALIAS_CHECK_SECONDS = 1.0
FILTER_KEYS = frozenset({"genres", "genres_all", "exclude_genres", "years", "after", "before", "languages"})
MAX_EXCLUDE = 1000  # movies one query may exclude
MAX_UNKNOWN = 10  # unknown titles a history lists before it is refused
MAX_TEXT = 10_000  # characters of a `search_text` query
HISTORY_DECAY = 0.85  # recency weight per step back in a history (the fallback without a sequence model)
logger = logging.getLogger(__name__)


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


class Engine(Explains, Ranking, LiveEdits):
    """Search over one reelvec collection (found through its alias). Get one with `reelvec.open`.

    Which part answers what: queries and title resolution here (the store's `query`,
    `retrieve`, `recommend`; on an embedded home the published copy, `copy`, which reads an ANN
    index above 50,000 movies and scans exactly below), the blended `similar` in `Ranking` (search/ranking.py), live edits in
    `LiveEdits` (search/writes.py, the writable store under the home's lock), hits and their
    explanations in `Explains` (search/hits.py).

    Every query method returns a list of `Hit` (best first): TMDB id, title, year, genres, score
    and an `Explanation` (per-modality cosines and what the two movies share). Methods raise
    `UnknownMovieError` for titles/ids not in the index and `SearchError` for bad arguments.
    Encoders load on first use: `similar` and `recommend` never load a model.
    """

    def __init__(self, store, alias: str = ALIAS, encoders_dir: str | None = None, model_dir: str | None = None,
                 text_max_tokens: int | None = None, text_encoder: str = "minilm", jobs_dir: str | None = None,
                 writer: Callable[[], tuple[Any, bool]] | None = None, edits: str | Path | None = None,
                 lock: str | Path | None = None, posters: str | Path | None = None, wait: float = 0.0):
        self.store = store
        self._copy_of: tuple[Any, PublishedReads | None] = (None, None)  # (store, as a copy): see `copy`
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
        self._text_encoder_name = text_encoder  # the text encoder the build used (manifest)
        self._jobs_dir = jobs_dir  # the job ledger: how many points the live collection was verified with

    # ----------------------------------------------------------------------------- plumbing
    @property
    def copy(self) -> PublishedReads | None:
        """The published read copy answering this engine (columns, gathers, precomputed answers,
        ANN indexes of a large catalogue), or None: a server, whose reads go through the
        `VectorStore` calls alone."""
        if self._copy_of[0] is not self.store:
            self._copy_of = (self.store, self.store if isinstance(self.store, PublishedReads) else None)
        return self._copy_of[1]

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
                copy = self.copy  # a published copy a live edit changed
                if copy is not None and self._titles is not None and copy.generation(c) != self._titles_gen:
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
            copy = self.copy
            if attempt and copy is not None:
                copy.refresh(collection)
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
        it forks workers, which then share these pages); encoders still load on first use.
        A long-lived process over a large catalogue may follow it with ``gc.freeze()``, as the
        service does: a full garbage collection of a warm 300k-movie reader took 422 ms."""
        coll = self.collection
        _ = self.blends
        self._title_similarity()
        self.vocabulary()
        self.titles.warm()  # a large catalogue's fuzzy-title candidate index
        copy = self.copy
        if copy is not None:
            copy.warm(coll)
            if len(copy.columns(coll)["ids"]) <= ROW_SETS_KEPT:  # larger: kept as queries read them
                self._sets_of(copy.columns(coll)["ids"])

    @property
    def titles(self) -> TitleIndex:
        coll = self.collection
        if self._titles is None:
            copy = self.copy
            if copy is not None:  # a published copy keeps titles by column: no payload is read
                c = copy.columns(coll)
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
            self._titles_gen = copy.generation(coll) if copy is not None else None
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
            copy = self.copy
            if copy is not None:
                c = copy.columns(coll)
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

            if self._text_encoder_name != "minilm":  # the build's profile (`--text-profile fast`)
                self._text = create(EncoderSpec(self._text_encoder_name, artifact_dir=self._encoders_dir,
                                                max_tokens=self._text_max_tokens, light=True))
                return self._text
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
        """Point ids of movies to exclude: TMDB ids and keys as they are, titles only when exact
        (never a fuzzy lookup: a page may exclude a thousand); one not in the index is ignored
        (a film a live edit deleted must not break the pages that exclude it)."""
        from reelvec.ingest.movie import normalise_title

        movies = [movies] if isinstance(movies, (str, int, np.integer)) else list(movies or ())
        if len(movies) > MAX_EXCLUDE:
            raise SearchError(f"exclude has {len(movies):,} movies; give at most {MAX_EXCLUDE:,}")
        out, keys = [], {}
        for m in movies:
            if isinstance(m, (int, np.integer)) and not isinstance(m, bool) or isinstance(m, str) and m.strip().isdigit():
                out.append(point_id(f"tmdb:{int(m)}"))
            elif isinstance(m, str) and key_shaped(m):
                keys[point_id(m.strip())] = m  # a key ("own:sku-1"), or a title such as "Tron: Legacy"
            elif not isinstance(m, str):
                raise SearchError(f"exclude takes TMDB ids, keys or titles, got {m!r}")
        found = {f.id for f in self.store.retrieve(self.collection, list(keys), with_payload=False)} if keys else set()
        out += [pid for pid in keys if pid in found]
        titles = [m for m in movies if isinstance(m, str) and not m.strip().isdigit()
                  and point_id(m.strip()) not in found]
        for m in titles:
            title, year = split_year(m)
            out += [e.point_id for e in self.titles.by_norm.get(normalise_title(title), []) if year in (None, e.year)]
        return tuple(dict.fromkeys(out))

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
        flt = self._filter(filters)
        drop = set(self._point_ids(exclude))  # dropped after ranking: the pool (and its plot-word
        v = self.text_encoder.encode([text.strip()])[0]  # statistics) stays that of the request without them

        def ranked(n: int) -> list[Hit]:
            hits = self._text_ranked(text, v, n + len(drop), flt)
            return [h for h in hits if point_id(h.key) not in drop][:n]
        return shape(ranked, k, opts, _series_of, self._fused_rows)

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
                 "text_encoder": m.get("text_encoder") or "minilm",
                 "jobs_dir": str(home / m["jobs"]) if m.get("jobs") else None,
                 "edits": home / m.get("edits", "edits.jsonl"), "lock": home / WRITER_LOCK,
                 "posters": home / "posters", "wait": wait}
        server = url or os.environ.get("QDRANT_URL") or m.get("qdrant_url")
        if server or location:
            store = open_store(url=server, api_key=api_key, location=location if not server else None)
            return Engine(store, alias, writer=lambda: (store, False), **extra)
        folder = home / m.get("store", "store")
        # live edits take the embedded store's lock only while they write; a build that has just
        # swapped the alias may still hold the new collection for a moment: waited for as for the
        # home's writer lock (`write_wait`)
        engine = Engine(PublishedStore(folder), alias, **extra)
        engine._writer = lambda: (open_store(path=str(folder), wait=engine.write_wait), True)
        return engine
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
