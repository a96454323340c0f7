"""Scoring a `Blend` over a whole catalogue, and choosing one on validation data only.

`Signals` holds every per-pair signal of the blend formula for a catalogue (embeddings, title
similarity, genre and people sets). `blend_scorer` turns a blend into the score function the
evaluation ranks with; `tune_blend` searches weights on a validation split (cold-start queries
whose ratings were held out of that model's training) and on the *dev* franchise pairs, never on
test queries or test franchises.
"""
from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import scipy.sparse as sp

from reelvec.fusion import metrics as M
from reelvec.fusion.blend import Blend, hubness, lead_people
from reelvec.fusion.data import incidence
from reelvec.fusion.evaluate import _rank, franchise_recall
from reelvec.ingest.franchise import TitleSimilarity

logger = logging.getLogger(__name__)


def people_sets(movies) -> list[frozenset]:
    """Director and leading actors of each movie (what "same director or cast" reads)."""
    return [lead_people(m.directors or m.director, m.cast) for m in movies]


def _unit(E: np.ndarray) -> np.ndarray:
    E = np.nan_to_num(np.asarray(E, np.float32), nan=0.0)
    return E / np.maximum(np.linalg.norm(E, axis=1, keepdims=True), 1e-9)


@dataclass
class Signals:
    fused: np.ndarray
    text: np.ndarray
    image: np.ndarray  # zero rows where a movie has no poster
    has_image: np.ndarray
    titles: TitleSimilarity
    genres: sp.csr_matrix
    people: sp.csr_matrix
    series: sp.csr_matrix
    hub: np.ndarray  # each movie's hubness in `fused` (what the engine reads from payload `hub`)

    @classmethod
    def of(cls, movies, fused: np.ndarray, text: np.ndarray, image: np.ndarray, has_image: np.ndarray) -> Signals:
        img = np.where(np.asarray(has_image, bool)[:, None], np.nan_to_num(image, nan=0.0), 0.0)
        return cls(_unit(fused), _unit(text), _unit(img), np.asarray(has_image, bool),
                   TitleSimilarity([m.title for m in movies]),
                   incidence([set(m.genres) for m in movies]), incidence(people_sets(movies)),
                   incidence([{m.series} if m.series else set() for m in movies]), hubness(fused))

    def with_fused(self, fused: np.ndarray) -> Signals:
        return dataclasses.replace(self, fused=_unit(fused), hub=hubness(fused))

    def blocks(self, rows: np.ndarray) -> dict[str, np.ndarray]:
        """Every raw signal for query `rows` against the whole catalogue, (len(rows), N) each."""
        rows = np.asarray(rows, np.int64)
        if len(rows) == 0:
            return {n: np.zeros((0, len(self.fused)), np.float32) for n in ("fused", "text", "image", "title", "genre",
                                                                                "people", "series", "hub")}
        return {"fused": self.fused[rows] @ self.fused.T, "text": self.text[rows] @ self.text.T,
                "image": np.where(self.has_image[rows][:, None] & self.has_image[None, :],
                                  self.image[rows] @ self.image.T, np.nan).astype(np.float32),
                "title": np.stack([self.titles.scores(int(r)) for r in rows]).astype(np.float32),
                "genre": ((self.genres[rows] @ self.genres.T).toarray() > 0).astype(np.float32),
                "people": ((self.people[rows] @ self.people.T).toarray() > 0).astype(np.float32),
                "series": ((self.series[rows] @ self.series.T).toarray() > 0).astype(np.float32),
                "hub": np.broadcast_to(self.hub, (len(rows), len(self.hub)))}


def combine(blend: Blend, b: dict[str, np.ndarray]) -> np.ndarray:
    return blend.score(b["fused"], b["text"], b["image"], b["title"], b["genre"], b["people"], b["series"], b["hub"])


def blend_scorer(blend: Blend, signals: Signals) -> Callable[[np.ndarray], np.ndarray]:
    def fn(q):
        return combine(blend, signals.blocks(q))
    return fn


SPACE = {"text": [0.2, 0.4, 0.6, 0.8, 1.0], "image": [0.0, 0.1, 0.2, 0.3, 0.5], "title": [0.3, 0.6, 1.0, 1.5],
         "title_floor": [0.3, 0.5, 0.6, 0.7], "genre": [0.1, 0.2, 0.3], "people": [0.0, 0.05, 0.1, 0.2, 0.3],
         "image_fill": [0.0, 0.3, 0.6], "series": [0.0, 0.3, 0.6, 1.0], "hub": [0.0, 0.5, 0.75, 1.0, 1.25],
         "title_plot": [0.0, 0.3, 0.4, 0.5]}
GOALS = {"FranchiseR@10": 0.95, "GenreP@10": 0.95, "SeriesR@10": 0.90}  # at least
CEILINGS = {"HubShare": 0.06, "Lookalike@10": 0.018}  # at most


@dataclass
class Trial:
    blend: Blend
    measures: dict[str, float]
    chosen: bool = False


def _meets(m: dict[str, float]) -> bool:
    return (all(m.get(k, v) >= v for k, v in GOALS.items()) and all(m.get(k, v) <= v for k, v in CEILINGS.items()))


def _measure(blend: Blend, qb: dict, queries: np.ndarray, truth: dict, fb: dict, films: np.ndarray,
             pairs: Sequence[tuple[int, int]], people_rows: np.ndarray, cb: dict | None = None,
             checks=None) -> dict[str, float]:
    S = combine(blend, qb)
    top = _rank(S, queries, np.ones(S.shape[1], bool), 10)
    ndcg = [M.ndcg_at_k(t.tolist(), truth[int(r)], 10) for r, t in zip(queries, top)]
    gp = [float(np.mean(qb["genre"][i, t] > 0)) for i, t in enumerate(top)]
    pp = [float(np.mean(qb["people"][i, t] > 0)) for i, t in enumerate(top) if people_rows[i]]
    F = combine(blend, fb)
    pos = {int(f): i for i, f in enumerate(films)}
    fr = franchise_recall(lambda q: F[[pos[int(x)] for x in q]], pairs)
    mean = lambda v: float(np.mean(v)) if len(v) else 0.0
    out = {"NDCG@10": mean(ndcg), "GenreP@10": mean(gp), "People@10": mean(pp), "FranchiseR@10": mean(fr)}
    if checks is not None and cb is not None:
        rows = checks.rows
        C = combine(blend, cb)
        tops = {int(r): t.tolist() for r, t in zip(rows, _rank(C, rows, np.ones(C.shape[1], bool), 10))}
        out.update({k: mean(v) for k, v in checks.measure(tops).items()})
    return out


def tune_blend(signals: Signals, queries: np.ndarray, truth: dict, pairs: Sequence[tuple[int, int]],
               trials: int = 60, seed: int = 0, content: bool = False, checks=None) -> tuple[Blend, list[Trial]]:
    """Random search over `SPACE` on validation queries, dev franchise pairs and the dev-split
    content checks (`fusion.faithful.Checks`: series and director recall, hub share, title
    lookalikes), never on test queries or test series.

    The chosen blend is the one with the best validation NDCG@10 among those that reach `GOALS`
    (franchise and series recall, genre precision), stay under `CEILINGS` (hub share, lookalike
    rate) and keep People@10 at least at the co-liked embedding's; when none does, the best sum
    of NDCG relative to the embedding's plus franchise and series recall plus genre precision
    minus hub share and lookalike rate. `content=True` tunes the "content" preset: no co-liked
    signal, chosen by franchise and series recall + genre precision + people overlap - hub share."""
    queries = np.asarray(queries, np.int64)
    films = np.array(sorted({a for a, _ in pairs}), np.int64)
    qb, fb = signals.blocks(queries), signals.blocks(films)
    cb = signals.blocks(checks.rows) if checks is not None else None
    people_rows = np.asarray(signals.people[queries].sum(1)).ravel() > 0
    args = (qb, queries, truth, fb, films, pairs, people_rows, cb, checks)
    base = Blend()
    ref = _measure(base, *args)
    rng = np.random.default_rng(seed)
    tried = [Trial(base, ref)]
    for _ in range(trials):
        params = {k: v[int(rng.integers(len(v)))] for k, v in SPACE.items()}
        b = Blend(fused=0.0 if content else 1.0, **params)
        tried.append(Trial(b, _measure(b, *args)))
    g = lambda t, k: t.measures.get(k, 0.0)
    if content:
        best = max(tried[1:], key=lambda t: g(t, "FranchiseR@10") + g(t, "SeriesR@10") + g(t, "GenreP@10")
                   + g(t, "People@10") - g(t, "HubShare"))
    else:
        ok = [t for t in tried[1:] if _meets(t.measures) and t.measures["People@10"] >= ref["People@10"]]
        best = max(ok, key=lambda t: t.measures["NDCG@10"]) if ok else max(
            tried[1:], key=lambda t: t.measures["NDCG@10"] / max(ref["NDCG@10"], 1e-9)
            + g(t, "FranchiseR@10") + g(t, "SeriesR@10") + g(t, "GenreP@10") - g(t, "HubShare") - g(t, "Lookalike@10"))
    best.chosen = True
    logger.info("blend search (%s): chose %s -> %s (%d of %d trials met the goals)", "content" if content else "similar",
                best.blend, {k: round(v, 4) for k, v in best.measures.items()},
                sum(_meets(t.measures) for t in tried[1:]), trials)
    return best.blend, tried
