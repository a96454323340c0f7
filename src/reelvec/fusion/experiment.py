"""Wiring for training and evaluation on a real catalogue: the cold-start protocol, the
baselines, ablations, miner and imbalance comparisons and a small seeded hyper-parameter search.
`reelvec train` and `reelvec eval` are thin shells over `fit` and `run_evaluation`."""
from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from reelvec.errors import FusionError
from reelvec.fusion.artifact import FusionModel
from reelvec.fusion.blend import MODES, Blend
from reelvec.fusion.data import Movie_Dataset, co_liked, cold_start_split, content_neighbours, likes_matrix, to_inputs
from reelvec.fusion.evaluate import (
    MethodResult,
    cosine_scores,
    evaluate_scores,
    ground_truth,
    late_fusion_scores,
    log_popularity,
    relative_gain,
    tfidf_document,
    tfidf_matrix,
    tfidf_scores,
)
from reelvec.fusion.faithful import checks_of
from reelvec.fusion.features import fit_structured, structured_matrix, tag_matrix
from reelvec.fusion.metrics import paired_bootstrap_diff
from reelvec.fusion.model import FusionConfig
from reelvec.fusion.train import History, embed, train
from reelvec.fusion.tune import Signals, blend_scorer, people_sets, tune_blend
from reelvec.ingest.franchise import find_franchises, franchise_pairs

logger = logging.getLogger(__name__)


@dataclass
class Prepared:
    """Everything about the catalogue that does not depend on the seed."""

    movies: list
    keys: list[str]
    text: np.ndarray
    image: np.ndarray
    has_image: np.ndarray
    spec: object
    struct: np.ndarray
    tags: np.ndarray
    likes: object  # users x movies, all ratings
    co_full: dict
    content: dict
    genres: list[set]
    text_version: str
    image_version: str

    def inputs(self):
        return to_inputs(self.text, self.image, self.has_image, self.struct, self.tags)


def prepare(movies: Sequence, features, ratings) -> Prepared:
    idx = features.index()
    missing = [m.key for m in movies if m.key not in idx]
    if missing:
        raise FusionError(f"{len(missing)} movies have no features (e.g. {missing[0]}); run `reelvec encode` first")
    sel = [idx[m.key] for m in movies]
    spec = fit_structured(movies)
    row_of_tmdb = {m.tmdb_id: r for r, m in enumerate(movies) if m.tmdb_id is not None}
    likes = likes_matrix(ratings, row_of_tmdb, len(movies))
    t = time.perf_counter()
    co_full = co_liked(likes)
    content = content_neighbours(movies)
    logger.info("positives: %d movies with co-liked neighbours, %d with content neighbours (%.1f s)",
                len(co_full), len(content), time.perf_counter() - t)
    return Prepared(list(movies), [m.key for m in movies], features.text[sel], features.image[sel],
                    features.has_image[sel], spec, structured_matrix(movies, spec), tag_matrix(movies, spec),
                    likes, co_full, content, [set(m.genres) for m in movies], features.text_version,
                    features.image_version)


def _train_on(p: Prepared, co_train: dict, config: FusionConfig, validate=None, verbose: bool = False):
    ds = Movie_Dataset(p.keys, co_train, p.content, content_weight=config.content_weight, positives=config.positives)
    model, hist = train(p.inputs(), ds, config, n_tags=len(p.spec.tags), n_genres=len(p.spec.genres),
                        validate=validate, verbose=verbose)
    return model, hist, ds


def _drop_ratings(likes, rows: np.ndarray):
    L = likes.tolil(copy=True)
    L[:, rows] = 0
    L = L.tocsr()
    L.eliminate_zeros()
    return L


def fit(p: Prepared, config: FusionConfig = FusionConfig(), verbose: bool = True) -> tuple[FusionModel, History]:
    """Train on every rating (the production model indexed by `reelvec build`)."""
    model, hist, _ = _train_on(p, p.co_full, config, verbose=verbose)
    return FusionModel(model, p.spec, p.text_version, p.image_version), hist


@dataclass
class SeedSplit:
    seed: int
    test_rows: np.ndarray
    train_rated: np.ndarray
    co_train: dict
    truth: dict
    popularity: np.ndarray


def make_split(p: Prepared, seed: int, test_ratio: float = 0.2) -> SeedSplit:
    rated = np.array(sorted(r for r in p.co_full if len(p.co_full[r]) >= 3))
    split = cold_start_split(rated, test_ratio, seed)
    likes_train = _drop_ratings(p.likes, split.test_rows)
    co_train = co_liked(likes_train)
    truth = ground_truth(p.co_full, split.test_rows)
    popularity = log_popularity(np.asarray(likes_train.sum(0)).ravel())
    return SeedSplit(seed, split.test_rows, split.train_rows, co_train, truth, popularity)


def _val_split(p: Prepared, s: SeedSplit, ratio: float = 0.15) -> tuple[dict, dict, np.ndarray]:
    """Inside the training movies only: hold some out the same way, for tuning."""
    rng = np.random.default_rng(1000 + s.seed)
    train_rated = np.array(sorted(r for r in s.train_rated if r in s.co_train))
    val = np.sort(rng.choice(train_rated, size=max(1, int(len(train_rated) * ratio)), replace=False))
    test_cols = np.concatenate([s.test_rows, val])
    co_val_train = co_liked(_drop_ratings(p.likes, test_cols))
    truth = {int(r): {j for j, _ in s.co_train[int(r)][:20]} for r in val}
    return co_val_train, truth, val


def model_scorer(model, inputs, weights=None):
    return cosine_scores(embed(model, inputs, weights=weights))


def cold_start_ndcg(p: Prepared, config: FusionConfig, seed: int = 0) -> float:
    """The evaluation gate's number: mean cold-start NDCG@10 of a model trained with `config` on
    seed `seed`'s split (the same protocol as `run_evaluation`)."""
    s = make_split(p, seed)
    model, _, _ = _train_on(p, s.co_train, dataclasses.replace(config, seed=seed))
    q = np.array(sorted(s.truth))
    r = evaluate_scores("gate", model_scorer(model, p.inputs()), q, s.truth, p.genres, s.popularity)
    return float(np.mean(r.per_query["NDCG@10"]))


@dataclass
class EvalReport:
    methods: dict[str, MethodResult] = field(default_factory=dict)
    ablations: dict[str, MethodResult] = field(default_factory=dict)
    miners: dict[str, dict] = field(default_factory=dict)
    imbalance: dict[str, dict] = field(default_factory=dict)
    search: list[dict] = field(default_factory=list)
    best_config: dict = field(default_factory=dict)
    histories: dict[str, list[dict]] = field(default_factory=dict)
    train_seconds: list[float] = field(default_factory=list)
    comparison: dict = field(default_factory=dict)
    late_fusion_alpha: float = 0.5
    blends: dict = field(default_factory=dict)  # mode -> Blend, tuned on seed 0's validation split
    blend_trials: dict[str, list] = field(default_factory=dict)  # mode -> [Trial]
    franchises: dict[str, int] = field(default_factory=dict)  # franchise / pair counts per split
    embedding: np.ndarray | None = None
    n_queries: int = 0
    seeds: tuple[int, ...] = ()


SEARCH_SPACE = {
    "lr": [5e-4, 1e-3, 2e-3],
    "margin": [0.1, 0.2, 0.3],
    "dropout": [0.1, 0.2, 0.3],
    "out_dim": [128, 256],
    "miner": ["random", "semi-hard"],
}


def hyper_search(p: Prepared, s: SeedSplit, base: FusionConfig, trials: int) -> tuple[FusionConfig, list[dict]]:
    """Seeded random search scored on the validation split only (never on the test movies)."""
    co_val_train, vtruth, val = _val_split(p, s)
    inputs = p.inputs()
    rng = np.random.default_rng(base.seed)
    tried, best, best_score = [], base, -1.0
    for t in range(trials):
        params = {k: v[int(rng.integers(len(v)))] for k, v in SEARCH_SPACE.items()} if t else {}
        cfg = dataclasses.replace(base, **params)
        model, _, _ = _train_on(p, co_val_train, cfg)
        r = evaluate_scores("val", model_scorer(model, inputs), val, vtruth, p.genres, s.popularity)
        score = float(np.mean(r.per_query["NDCG@10"]))
        tried.append({"trial": t, **params, "val_ndcg@10": score})
        logger.info("search %d/%d: %s -> val NDCG@10 %.4f", t + 1, trials, params or "defaults", score)
        if score > best_score:
            best, best_score = cfg, score
    return best, tried


def tune_presets(p: Prepared, s: SeedSplit, config: FusionConfig, signals, dev_pairs, trials: int = 60,
                 checks=None) -> tuple:
    """The "similar" and "content" blends, chosen on a validation split of seed `s`'s training
    movies (a model trained without their ratings), on the dev franchise pairs and on the
    dev-split content `checks`."""
    co_val_train, vtruth, val = _val_split(p, s)
    model, _, _ = _train_on(p, co_val_train, config)
    sig = signals.with_fused(embed(model, p.inputs()))
    q = np.array(sorted(vtruth))
    similar, t1 = tune_blend(sig, q, vtruth, dev_pairs, trials=trials, seed=config.seed, checks=checks)
    content, t2 = tune_blend(sig, q, vtruth, dev_pairs, trials=trials, seed=config.seed + 1, content=True,
                             checks=checks)
    return {"similar": similar, "also-liked": Blend(), "content": content}, {"similar": t1, "content": t2}


def run_evaluation(p: Prepared, seeds: Sequence[int] = (0, 1, 2), config: FusionConfig = FusionConfig(),
                   trials: int = 6, studies: bool = True, blend_trials: int = 60) -> EvalReport:
    rep = EvalReport(seeds=tuple(seeds))
    inputs = p.inputs()
    docs = tfidf_matrix([tfidf_document(m) for m in p.movies])
    franchises = find_franchises(p.movies)
    dev_pairs, test_pairs = franchise_pairs(franchises, "dev"), franchise_pairs(franchises, "test")
    rep.franchises = {"franchises": len(franchises), "films": sum(len(f.rows) for f in franchises),
                      "dev_pairs": len(dev_pairs), "test_pairs": len(test_pairs)}
    people = people_sets(p.movies)
    signals = Signals.of(p.movies, p.text, p.text, p.image, p.has_image)
    dev_checks, test_checks = checks_of(p.movies, p.text, "dev"), checks_of(p.movies, p.text, "test")
    rep.franchises.update({"series_dev_queries": len(dev_checks.series),
                           "series_test_queries": len(test_checks.series),
                           "series_test_title_disjoint": len(test_checks.series_disjoint),
                           "director_queries": len(test_checks.director),
                           "lookalike_queries": len(test_checks.lookalike)})
    for si, seed in enumerate(seeds):
        s = make_split(p, seed)
        queries = np.array(sorted(s.truth))
        rep.n_queries += len(queries)
        logger.info("seed %d: %d cold-start movies, %d with training positives", seed, len(queries), len(s.co_train))
        if si == 0:
            if trials > 1:
                best, rep.search = hyper_search(p, s, dataclasses.replace(config, seed=seed), trials)
                config = dataclasses.replace(best, seed=config.seed)
            rep.best_config = config.to_dict()
            # tune the late-fusion weight on training movies' own co-liked neighbours
            tq = np.array(sorted(r for r in s.co_train if r in set(s.train_rated.tolist())))[:800]
            ttruth = {int(r): {j for j, _ in s.co_train[int(r)][:20]} for r in tq}
            best_a, best_v = 0.5, -1.0
            for a in np.linspace(0, 1, 11):
                r = evaluate_scores("lf", late_fusion_scores(p.text, p.image, p.has_image, a), tq, ttruth, p.genres,
                                    s.popularity)
                v = float(np.mean(r.per_query["NDCG@10"]))
                if v > best_v:
                    best_a, best_v = float(a), v
            rep.late_fusion_alpha = best_a
            if blend_trials:
                rep.blends, rep.blend_trials = tune_presets(p, s, dataclasses.replace(config, seed=seed), signals,
                                                            dev_pairs, blend_trials, checks=dev_checks)
            else:
                rep.blends = dict(MODES)
        cfg = dataclasses.replace(config, seed=seed)
        t = time.perf_counter()
        model, hist, _ = _train_on(p, s.co_train, cfg, verbose=si == 0)
        rep.train_seconds.append(time.perf_counter() - t)
        rep.histories[f"seed{seed}"] = hist.epochs
        E = embed(model, inputs)
        if si == 0:
            rep.embedding = E
        rng = np.random.default_rng(seed)
        n = len(p.movies)
        scorers = {
            "random": lambda q: rng.random((len(q), n)),
            "most-popular": lambda q: np.tile(s.popularity, (len(q), 1)),
            "tf-idf": tfidf_scores(docs),
            "minilm-text": cosine_scores(p.text),
            "cnn-poster": cosine_scores(np.nan_to_num(p.image, nan=0.0), valid=p.has_image),
            "late-fusion": late_fusion_scores(p.text, p.image, p.has_image, rep.late_fusion_alpha),
            "reelvec-fusion": cosine_scores(E),
        }
        sig = signals.with_fused(E)
        for mode in ("similar", "content"):  # the presets a build ships, and this run's picks if they differ
            scorers[f"mode={mode}"] = blend_scorer(MODES[mode], sig)
            if rep.blends.get(mode, MODES[mode]) != MODES[mode]:
                scorers[f"mode={mode} (tuned here)"] = blend_scorer(rep.blends[mode], sig)
        for name, fn in scorers.items():
            rep.methods[name] = evaluate_scores(name, fn, queries, s.truth, p.genres, s.popularity,
                                                top1_embedding=E if name == "reelvec-fusion" else p.text,
                                                result=rep.methods.get(name), people=people,
                                                franchise_pairs=test_pairs, checks=test_checks)
        if si == 0 and studies:
            _studies(p, s, cfg, queries, rep)
    base_names = [m for m in rep.methods if m != "reelvec-fusion" and not m.startswith("mode=")]
    best_base = max(base_names, key=lambda m: np.mean(rep.methods[m].per_query["NDCG@10"]))
    ours = rep.methods["reelvec-fusion"].per_query["NDCG@10"]
    theirs = rep.methods[best_base].per_query["NDCG@10"]
    diff = paired_bootstrap_diff(ours, theirs)
    rep.comparison = {"best_baseline": best_base, "ours": float(np.mean(ours)), "baseline": float(np.mean(theirs)),
                      "relative_gain": relative_gain(float(np.mean(ours)), float(np.mean(theirs))),
                      "diff": diff[0], "diff_low": diff[1], "diff_high": diff[2]}
    return rep


def _studies(p: Prepared, s: SeedSplit, cfg: FusionConfig, queries, rep: EvalReport) -> None:
    """Ablations, miners and imbalance handling on the first seed."""
    inputs = p.inputs()
    for name, use in [("text only", ("text",)), ("text+image", ("text", "image")),
                      ("text+image+struct", ("text", "image", "struct")), ("struct+tags", ("struct", "tags")),
                      ("all (text+image+struct+tags)", ("text", "image", "struct", "tags"))]:
        model, _, _ = _train_on(p, s.co_train, dataclasses.replace(cfg, use=use))
        rep.ablations[name] = evaluate_scores(name, model_scorer(model, inputs), queries, s.truth, p.genres, s.popularity)
        logger.info("ablation %s: NDCG@10 %.4f", name, np.mean(rep.ablations[name].per_query["NDCG@10"]))
    for miner in ("random", "semi-hard", "batch-hard"):
        model, hist, _ = _train_on(p, s.co_train, dataclasses.replace(cfg, miner=miner))
        r = evaluate_scores(miner, model_scorer(model, inputs), queries, s.truth, p.genres, s.popularity)
        rep.miners[miner] = {"NDCG@10": float(np.mean(r.per_query["NDCG@10"])), "collapsed": hist.collapsed,
                             "active": [round(e["active"], 3) for e in hist.epochs],
                             "mean_cos": [round(e["mean_cos"], 3) for e in hist.epochs]}
        logger.info("miner %s: NDCG@10 %.4f collapsed=%s", miner, rep.miners[miner]["NDCG@10"], hist.collapsed)
    for balanced in (False, True):
        model, _, _ = _train_on(p, s.co_train, dataclasses.replace(cfg, genre_balanced=balanced))
        r = evaluate_scores("b", model_scorer(model, inputs), queries, s.truth, p.genres, s.popularity)
        rep.imbalance["genre-balanced" if balanced else "uniform"] = {
            k: float(np.mean(r.per_query[k])) for k in ("NDCG@10", "GenreP@10", "ILD@10")} | {
            "coverage": r.coverage[0]}
