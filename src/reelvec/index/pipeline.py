"""`reelvec build`: catalog -> posters -> encode -> train fusion -> index, each stage skipping
what its cache already has, so a rerun with nothing changed takes seconds.

Home folder layout (default .reelvec)::

    catalog.jsonl (+ .quarantine.jsonl)   merged catalog
    features/                             feature cache + features.npz
    model/                                fusion model (config.json, model.safetensors)
    store/                                embedded Qdrant Edge store (unless --qdrant-url)
    jobs/                                 index job ledger and alias history
    manifest.json                         what `reelvec.open(home)` needs
"""
from __future__ import annotations

import json
import os
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from reelvec.errors import FusionError


@dataclass(frozen=True)
class BuildConfig:
    data: Path
    home: Path = Path(".reelvec")
    qdrant_url: str | None = None
    api_key: str | None = None
    scope: str = "linked"
    retrain: bool = False
    force_index: bool = False
    gate: bool = False
    text_precision: str = "auto"
    image_precision: str = "auto"
    batch_size: int = 1024
    throttle: float = 0.0  # seconds between index batches (be gentle with a shared server)
    shards: int = 1
    replication_factor: int = 1
    progress: bool = True


@dataclass
class BuildReport:
    stages: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0


def _newest_mtime(folder: Path) -> float:
    newest = 0.0
    for sub in ("tmdb", "movielens", "wikipedia"):
        for p in (folder / sub).glob("*"):
            newest = max(newest, p.stat().st_mtime)
    return newest


def run_build(cfg: BuildConfig, log: Callable[[str], None] = lambda s: None) -> BuildReport:
    from reelvec.encoders import EncoderSpec, FeatureCache, create
    from reelvec.encoders.pipeline import encode_catalog
    from reelvec.fusion.artifact import FusionModel
    from reelvec.fusion.experiment import fit, prepare
    from reelvec.index.build import catalog_digest, make_points, vector_dims
    from reelvec.index.jobs import JobLedger, index_points
    from reelvec.ingest.catalog import Catalog, build_catalog, select_movies, write_catalog
    from reelvec.ingest.movielens import load_ratings_table

    t0 = time.perf_counter()
    rep = BuildReport()
    home = cfg.home
    home.mkdir(parents=True, exist_ok=True)

    # 1. catalog
    t = time.perf_counter()
    cat_path = home / "catalog.jsonl"
    if cat_path.exists() and cat_path.stat().st_mtime >= _newest_mtime(cfg.data):
        catalog = Catalog.load(cat_path)
        rep.stages["catalog"] = {"reused": True, "movies": len(catalog)}
    else:
        log("catalog: reading sources")
        catalog, crep = build_catalog(cfg.data)
        write_catalog(catalog, crep, cat_path)
        rep.stages["catalog"] = {"reused": False, "movies": len(catalog), "quarantined": crep.quarantined}
    movies = select_movies(catalog, cfg.scope)
    ratings_cache: list = []

    def ratings():  # read once, only by the stages that need it
        if not ratings_cache:
            ratings_cache.append(load_ratings_table(cfg.data))
        return ratings_cache[0]
    rep.stages["catalog"]["seconds"] = round(time.perf_counter() - t, 2)

    # 2. encode: local poster files, plus whatever `reelvec fetch-posters` cached in <home>/posters
    t = time.perf_counter()
    text = create(EncoderSpec("minilm", precision=cfg.text_precision))
    image = create(EncoderSpec("mobilenet_v2", precision=cfg.image_precision,
                               artifact_dir=str(home / "features" / "artifacts")))
    with FeatureCache(home / "features") as cache:
        cache.lock()
        from reelvec.encoders.pipeline import fetched_posters

        feats = encode_catalog(movies, text, image, cache, posters_dir=cfg.data / "posters", progress=cfg.progress,
                               fetched=fetched_posters(home / "posters"))
    feats.save(home / "features" / "features.npz")
    rep.stages["encode"] = feats.stats | {"seconds": round(time.perf_counter() - t, 2)}

    # 3. fusion model
    t = time.perf_counter()
    model_dir = home / "model"
    model = None
    if not cfg.retrain and (model_dir / "config.json").exists():
        try:
            model = FusionModel.load(model_dir, feats.text_version, feats.image_version)
            rep.stages["train"] = {"reused": True, "model": model.version}
        except FusionError as exc:
            log(f"train: retraining ({exc})")
    p = None
    if model is None or cfg.gate:
        p = prepare(movies, feats, ratings(), log=log)
    if model is None:
        log("train: fitting the fusion model")
        model, hist = fit(p, log=log if cfg.progress else None)
        model.metrics = {"train_seconds": round(hist.seconds, 2), "collapsed": hist.collapsed, "epochs": hist.epochs}
        model.save(model_dir)
        rep.stages["train"] = {"reused": False, "model": model.version, "train_seconds": round(hist.seconds, 2)}
    score = None
    if cfg.gate:
        score = gate_score(p, model.config, log)
        rep.stages["train"]["gate_ndcg@10"] = round(score, 4)
    rep.stages["train"]["seconds"] = round(time.perf_counter() - t, 2)

    # 4. sequence model for watch histories (next liked movie), next to the fusion model
    t = time.perf_counter()
    inputs = model.inputs(movies, feats)
    fused = model.embed(inputs)
    seq_dir = model_dir / "sequence"
    from reelvec.fusion.sequence import SequenceModel, train_sequence, user_sequences

    try:
        SequenceModel.load(seq_dir, model.version)
        rep.stages["sequence"] = {"reused": True}
    except FusionError:
        seqs = user_sequences(ratings(), {m.tmdb_id: i for i, m in enumerate(movies) if m.tmdb_id is not None})
        seq_model, info = train_sequence(fused, seqs, kinds=("gru",), hold_last=0)
        SequenceModel(seq_model, model.version, info).save(seq_dir)
        rep.stages["sequence"] = {"reused": False, "users": len(seqs), "train_seconds": info["seconds"]}
    rep.stages["sequence"]["seconds"] = round(time.perf_counter() - t, 2)

    # 5. index
    t = time.perf_counter()
    points = make_points(movies, feats, fused, model.version)
    from reelvec.index import open_store

    store = open_store(path=str(cfg.home / "store"), url=cfg.qdrant_url, api_key=cfg.api_key)
    try:
        digest = catalog_digest(movies, feats)
        res = index_points(store, JobLedger(home / "jobs"), points, vector_dims(feats, fused.shape[1]),
                           model.version, digest, batch_size=cfg.batch_size, score=score, gate=cfg.gate,
                           progress=cfg.progress, shards=cfg.shards, replication_factor=cfg.replication_factor,
                           force=cfg.force_index,
                           on_batch=(lambda _b: time.sleep(cfg.throttle)) if cfg.throttle else None)
    finally:
        store.close()
    rep.stages["index"] = {"collection": res.collection, "points": res.points, "swapped": res.swapped,
                           "reused": res.reused, "resumed_after_batches": res.skipped_batches, "message": res.message,
                           "seconds": round(time.perf_counter() - t, 2)}
    manifest = {"store": None if cfg.qdrant_url else "store", "qdrant_url": cfg.qdrant_url, "model": "model",
                "catalog": "catalog.jsonl", "features": "features", "scope": cfg.scope}
    tmp = home / "manifest.json.tmp"
    tmp.write_text(json.dumps(manifest, indent=1))
    os.replace(tmp, home / "manifest.json")
    rep.seconds = time.perf_counter() - t0
    return rep


def gate_score(p, config, log) -> float:
    """The evaluation gate's number: cold-start NDCG@10 on seed 0 (fusion issue's protocol)."""
    import dataclasses

    import numpy as np

    from reelvec.fusion.evaluate import evaluate_scores
    from reelvec.fusion.experiment import _train_on, make_split, model_scorer

    s = make_split(p, 0)
    model, _, _ = _train_on(p, s.co_train, dataclasses.replace(config, seed=0))
    q = np.array(sorted(s.truth))
    r = evaluate_scores("gate", model_scorer(model, p.inputs()), q, s.truth, p.genres, s.popularity)
    score = float(np.mean(r.per_query["NDCG@10"]))
    log(f"gate: cold-start NDCG@10 {score:.4f}")
    return score
