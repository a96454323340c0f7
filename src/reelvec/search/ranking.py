"""How a blended `similar` ranks (the `Ranking` mixin of `Engine`): the candidate union (the fused
vector's nearest, the same series, a shared director or lead actor, similar titles), each scored
by the preset's formula (`reelvec.fusion.blend`) over stored vectors and payloads, precomputed
answers where the build made them, and hand-set modality weights. Every candidate comes from the
store through `store.query` / `store.query_batch` with the filters pushed down."""
from __future__ import annotations

import dataclasses
import functools
import json
import logging
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from reelvec.errors import SearchError
from reelvec.fusion.blend import (
    DEFAULT_MODE,
    LEAD_CAST,
    Blend,
    blends_from,
    lead_people,
    placed_by,
    resolve_mode,
)
from reelvec.index.base import Found, QuerySpec, SearchFilter
from reelvec.ingest.franchise import TitleSimilarity
from reelvec.search.hits import VECTOR_NAMES, Hit, _cos, _directors

ROW_SETS_KEPT = 100_000  # movies whose genre/people sets a blended `similar` keeps between calls
ANSWERS_MAX = 50_000  # a build precomputes the default `similar` of at most this many films (the most voted)
ANSWERS_K = 10  # a build precomputes every movie's default `similar` up to this k (the default k)
BLEND_POOL = 100  # nearest candidates of a blended `similar`; its ranking is the same for every k up to this
PEOPLE_POOL = 30  # candidates from the same series / a shared director / a shared lead actor, each
logger = logging.getLogger("reelvec.search.engine")


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


class Ranking:
    """The blended and weighted `similar` rankings (a mixin of `Engine`)."""

    store: Any
    copy: Any  # Engine.copy: the published read copy, or None
    _blends: dict[str, Blend] | None
    _tsim: Any

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
            copy = self.copy
            if copy is not None:  # a published copy keeps the title words (same order as its titles)
                c = copy.columns(self.collection)
                if c.get("title_words") is not None and list(c["ids"]) == ids:
                    saved = copy.title_arrays(self.collection)  # and the similarity, built
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
        copy = self.copy
        got = copy.answer(self.collection, q.id) if copy is not None else None
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
        copy = self.copy
        return copy is not None and copy.answer_meta(self.collection) == self._answers_meta(
            resolve_mode(None, self.blends))

    def similar_answers(self, progress: bool = False) -> tuple[str, int, dict[str, dict], dict] | None:
        """Every movie's default `similar` (k = `ANSWERS_K`, no filters; the `ANSWERS_MAX` most voted
        of a larger catalogue), computed as a query would
        compute it, for a build to keep with the published copy (`index.publish.save_answers`):
        (collection, generation, {point id: hits}, meta). None when the store keeps no copies or
        the default mode is not a blend (a plain vector query, fast already)."""
        copy = self.copy
        blend = resolve_mode(None, self.blends)
        if copy is None or not _is_blended(blend):
            return None
        from tqdm import tqdm

        coll = self.collection
        gen = copy.generation(coll)
        self.warm()
        out = {}
        cols = copy.columns(coll)
        ids = list(cols["ids"])
        if len(ids) > ANSWERS_MAX:  # a large catalogue: its most voted films (the rest compute, in ms)
            votes = np.array([int(v or 0) for v in cols["vote_count"]])
            ids = [ids[i] for i in np.argsort(-votes, kind="stable")[:ANSWERS_MAX]]
        for pid in tqdm(ids, desc="answers", unit="movie", disable=not progress):
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
        t_rows, t_sims, row_of = np.zeros(0, np.int64), np.zeros(0), dict[str, int]()  # similar titles
        if blend.title > 0:
            tsim, row_of, ids = self._title_similarity()
            r = row_of.get(q.id)
            if r is not None:
                t_rows, t_sims = tsim.similar_arrays(r, above=blend.title_floor)  # 0 below it
                up = np.flatnonzero(t_sims > blend.title_floor)
                above = t_rows[up[np.lexsort((t_rows[up], -t_sims[up]))][:pool]].tolist()  # best first, ties by row
                extra = tuple(ids[i] for i in above if ids[i] not in cands and ids[i] != q.id)
                if extra:
                    spec = QuerySpec(q.vec["fused"], "fused", len(extra), dataclasses.replace(flt, only_ids=extra),
                                     with_payload=False)
                    cands.update(f.id for f in self.store.query(self.collection, spec))
        if not cands:
            return [], {}, {}
        cand_ids = sorted(cands)  # rows below are in id order: ties break by id
        copy = self.copy
        if copy is not None:  # a published copy: one gather per vector
            mats, present = copy.vectors_of(self.collection, cand_ids, [n for n in VECTOR_NAMES if n in q.vec])
            # all three cosines, also for the explanations; NaN where a point has no such vector
            cos = {n: np.where(present[n], M @ _unit(q.vec[n]), np.nan) for n, M in mats.items()}
        else:
            found = self.store.retrieve(self.collection, cand_ids, with_vectors=True, with_payload=False)
            cand_ids = [f.id for f in found]
            cos = {n: _cosines(q.vec.get(n), [f.vec.get(n) for f in found]) for n in VECTOR_NAMES}
        n_c = len(cand_ids)
        cos = {n: cos.get(n, np.full(n_c, np.nan)) for n in VECTOR_NAMES}
        title = np.zeros(n_c)
        if len(t_rows):  # each candidate's title similarity (0: shares no word)
            at_row = np.fromiter((row_of.get(i, -1) for i in cand_ids), np.int64, n_c)
            at = np.minimum(np.searchsorted(t_rows, at_row), len(t_rows) - 1)
            hit = t_rows[at] == at_row
            title[hit] = t_sims[at[hit]]
        # genre, people, series and hubness come from payloads: a published copy keeps them as
        # columns; a server is asked for every candidate's payload at once (each backend then reads
        # the same candidates, so the typical terms the explanations compare against agree)
        q_sets = _shared_sets(q.payload)
        sets = self._sets_of(cand_ids)
        if sets is None:
            got = {f.id: f.payload for f in self.store.retrieve(self.collection, cand_ids)}
            sets = [_shared_sets(got.get(i, {})) for i in cand_ids]
        genre, people, series, hub = np.array([_agreement(q_sets, row) for row in sets], float).T
        terms = blend.terms(cos["fused"], cos["text"], cos["image"], title, genre, people, series, hub)
        score = np.sum(list(terms.values()), axis=0)
        order = np.argsort(-score, kind="stable")[:k]
        typical = {n: _median(t) for n, t in terms.items()}
        ids = [cand_ids[i] for i in order]
        cos_of = {n: [None if x != x else x for x in c[order].tolist()] for n, c in cos.items()}  # NaN -> None
        term_of = {n: t[order].tolist() for n, t in terms.items()}
        shown = {pid: {n: cos_of[n][j] for n in VECTOR_NAMES} for j, pid in enumerate(ids)}
        why = {pid: placed_by({n: term_of[n][j] for n in terms}, typical) or None for j, pid in enumerate(ids)}
        return [Found(pid, s, {}, None) for pid, s in zip(ids, score[order].tolist())], shown, why

    def _sets_of(self, ids: Sequence[str]) -> list[tuple] | None:
        """`_shared_sets` of each point from the store's columns (kept per point until the collection
        or its generation changes); None when the store keeps no such columns."""
        copy = self.copy
        if copy is None:
            return None
        coll = self.collection
        stamp = (coll, copy.generation(coll))
        if self._row_sets[0] != stamp:
            self._row_sets = (stamp, {})
        cache = self._row_sets[1]
        missing = [i for i in ids if i not in cache]
        if missing:
            cols = copy.fields_of(coll, missing, SET_FIELDS)
            if cols is None:
                return None
            if len(cache) > ROW_SETS_KEPT:
                cache.clear()
            cache.update((i, _shared_sets(f)) for i, f in zip(missing, cols))
        return [cache[i] for i in ids]

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

