"""Live edits (the `LiveEdits` mixin of `Engine`): movies encoded and fused as a build would, written
to the home's writable store under its writer lock, with an intent log, the edit ledger and the
published copy's next generation, so an edit is never lost or half-applied (tests/test_commit.py)."""
from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from reelvec.errors import NoRoomError, SearchError, UnknownMovieError
from reelvec.fusion.blend import (
    HUB_K,
)
from reelvec.index.base import QuerySpec, SearchFilter, point_id

logger = logging.getLogger("reelvec.search.engine")


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



def key_shaped(movie: str) -> bool:
    """Could `movie` be a key ("tmdb:603", "own:sku-1")? A title such as "Tron: Legacy" can be too."""
    head, sep, tail = movie.strip().partition(":")
    return bool(sep) and " " not in head and bool(tail)


class LiveEdits:
    """upsert / delete / editing (a mixin of `Engine`)."""

    store: Any
    copy: Any  # Engine.copy: the published read copy, or None
    _collection: str | None
    _titles: Any
    _vocab: Any
    _tsim: Any

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
        from reelvec.locks import LockedError

        log = EditLog(self._edits) if self._edits is not None and (upserts or deletes) else None
        txn = log.append(upserts=upserts, deletes=deletes, titles=titles) if log is not None else None
        try:
            self._apply(store, collection, write, len(upserts), len(deletes))
        except (NoRoomError, LockedError):  # refused before anything changed: the intent will never apply
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
        if self.copy is not None:
            self.copy.refresh(collection)
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
        copy = self.copy
        franchise = franchises_with(movies, copy.columns(collection) if copy is not None else None)
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
        if not key_shaped(m):
            return None
        pid = point_id(m)
        return pid if self.store.retrieve(self.collection, [pid], with_payload=False) else None

