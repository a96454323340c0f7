"""`reelvec build` / `reelvec reindex`: catalog -> encode -> train fusion -> sequence model -> index,
each stage skipping what its cache already has, so a rerun with nothing changed takes seconds.

Where each stage keeps its output is `Home`'s business; this module only wires the rooms
(ingest, encoders, fusion, index) together in order.
"""
from __future__ import annotations

import dataclasses
import json
import logging
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from reelvec.app.home import Home
from reelvec.encoders.base import BUILD_TEXT_TOKENS
from reelvec.errors import FusionError, ReelvecError
from reelvec.fsutil import atomic_write_text

if TYPE_CHECKING:
    from reelvec.fusion.model import FusionConfig

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class BuildConfig:
    """What a build reads and where it writes. `force_index` always writes a new collection
    (reindex); `gate` refuses the alias swap when the new model's cold-start NDCG@10 is lower."""

    data: Path | None  # a data folder (../shared/data layout), or None with `mapped` files only
    home: Path = Path(".reelvec")
    mapped: tuple = ()  # ((path, {field: column}), ...): catalogues of one's own (reelvec.ingest.mapped)
    qdrant_url: str | None = None
    api_key: str | None = None
    scope: str = "linked"
    retrain: bool = False
    force_index: bool = False
    gate: bool = False
    fusion: FusionConfig | None = None  # for (re)training; None = the defaults
    text_precision: str = "auto"
    text_profile: str = "minilm"  # "fast": a static table distilled from MiniLM (encoders/static.py)
    text_max_tokens: int | None = BUILD_TEXT_TOKENS  # truncate descriptions here (None: the model's 256)
    image_precision: str = "auto"
    device: str = "auto"  # where encoding runs: a GPU when torch sees one (auto), "cpu" or "cuda"
    batch_size: int = 1024
    throttle: float = 0.0  # seconds between index batches (be gentle with a shared server)
    shards: int = 1
    replication_factor: int = 1
    progress: bool = True
    wait: float = 600.0  # seconds the swap waits for a live edit that holds the home's writer lock


@dataclass
class BuildReport:
    """Per-stage facts (`stages[name]` has `seconds` and what happened) and the total time."""

    stages: dict[str, dict] = field(default_factory=dict)
    seconds: float = 0.0

    @property
    def swapped(self) -> bool:
        return bool(self.stages.get("index", {}).get("swapped"))


def _newest_mtime(folder: Path | None, mapped: tuple = ()) -> float:
    newest = 0.0
    for sub in ("tmdb", "movielens", "wikipedia"):
        for p in (folder / sub).glob("*") if folder is not None else ():
            newest = max(newest, p.stat().st_mtime)
    for path, _ in mapped:
        newest = max(newest, Path(path).stat().st_mtime if Path(path).exists() else float("inf"))
    return newest


def _sources_signature(cfg: BuildConfig) -> str:
    """What the catalogue was made from: a change of folder, file, --map or of how reelvec reads
    the sources (`CATALOG_VERSION`) rebuilds it."""
    from reelvec.ingest.catalog import CATALOG_VERSION

    return json.dumps({"data": str(Path(cfg.data).resolve()) if cfg.data is not None else None,
                       "mapped": [[str(Path(p).resolve()), m] for p, m in cfg.mapped],
                       "version": CATALOG_VERSION}, sort_keys=True)


class _Stage:
    """Times one stage into report.stages[name]['seconds']."""

    def __init__(self, rep: BuildReport, name: str):
        self.rep, self.name = rep, name

    def __enter__(self):
        self.t = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.rep.stages.setdefault(self.name, {})["seconds"] = round(time.perf_counter() - self.t, 2)


def build(cfg: BuildConfig, store=None) -> BuildReport:
    """Run every stage of a build into `cfg.home`. `store` (a VectorStore) overrides the one the
    home would open; it is left open for the caller."""
    from reelvec.encoders import TEXT_PROFILES, EncoderSpec, FeatureCache, create
    from reelvec.encoders.hardware import cpu_model
    from reelvec.encoders.pipeline import encode_catalog, fetched_posters
    from reelvec.encoders.text import export_text_model
    from reelvec.fusion.artifact import FusionModel
    from reelvec.fusion.blend import hubness
    from reelvec.fusion.experiment import cold_start_ndcg, fit, prepare
    from reelvec.fusion.model import FusionConfig
    from reelvec.fusion.sequence import SequenceModel, train_sequence, user_sequences
    from reelvec.index.base import ALIAS
    from reelvec.index.build import catalog_digest, make_points, vector_dims
    from reelvec.index.jobs import index_points
    from reelvec.ingest.catalog import Catalog, build_catalog, select_movies, write_catalog
    from reelvec.ingest.edits import EditLog, apply_edits
    from reelvec.ingest.movielens import load_ratings_table

    if cfg.text_profile not in TEXT_PROFILES:
        raise ReelvecError(f"unknown text profile {cfg.text_profile!r}; choose from {', '.join(TEXT_PROFILES)}")
    t0 = time.perf_counter()
    rep = BuildReport()
    home = Home.at(cfg.home)
    home.root.mkdir(parents=True, exist_ok=True)
    fusion_config = cfg.fusion or FusionConfig()

    with _Stage(rep, "catalog"):
        sig_path = home.catalog.with_name(home.catalog.stem + ".sources.json")
        signature = _sources_signature(cfg)
        same_sources = not sig_path.exists() or sig_path.read_text() == signature  # (no record: an older build)
        if (home.catalog.exists() and same_sources
                and home.catalog.stat().st_mtime >= _newest_mtime(cfg.data, cfg.mapped)):
            catalog = Catalog.load(home.catalog)
            rep.stages["catalog"] = {"reused": True, "movies": len(catalog)}
        else:
            logger.info("catalog: reading sources in %s%s", cfg.data,
                        "".join(f" + {p}" for p, _ in cfg.mapped))
            catalog, crep = build_catalog(cfg.data, mapped=cfg.mapped)
            write_catalog(catalog, crep, home.catalog)
            atomic_write_text(sig_path, signature)
            rep.stages["catalog"] = {"reused": False, "movies": len(catalog), "quarantined": crep.quarantined}
        movies = select_movies(catalog, cfg.scope)
        edits = EditLog(home.edits).read()
        if edits:  # live edits (`reelvec add` / `delete`) outlive rebuilds
            movies = apply_edits(movies, edits)
            rep.stages["catalog"].update(edits=len(edits), movies=len(movies))
            logger.info("catalog: applied %d live edit(s) from %s", len(edits), home.edits)
    ratings_cache: list = []

    def ratings():  # read once, only by the stages that need it
        if not ratings_cache:
            ratings_cache.append(load_ratings_table(cfg.data))  # None: no ratings (content positives)
        return ratings_cache[0]

    # encode: local poster files, plus whatever `reelvec fetch-posters` cached in <home>/posters
    with _Stage(rep, "encode"):
        text = create(EncoderSpec(TEXT_PROFILES[cfg.text_profile], precision=cfg.text_precision,
                                  artifact_dir=str(home.artifacts),
                                  max_tokens=cfg.text_max_tokens, device=cfg.device))
        image = create(EncoderSpec("mobilenet_v2", precision=cfg.image_precision, artifact_dir=str(home.artifacts),
                                   device=cfg.device))
        with FeatureCache(home.features_dir) as cache:
            cache.lock()
            absorbed, waiting = cache.absorb_parts()  # what `reelvec encode --part i/n` processes encoded
            feats = encode_catalog(movies, text, image, cache,
                                   posters_dir=cfg.data / "posters" if cfg.data is not None else None,
                                   progress=cfg.progress, fetched=fetched_posters(home.posters))
        feats.save(home.features)
        if getattr(text, "precision", None) not in ("onnx", "static"):  # queries use the exported graph: no torch
            export_text_model(home.artifacts)
        rep.stages["encode"] = dict(feats.stats) | {"text_path": getattr(text, "precision", "?"), "cpu": cpu_model(),
                                                    "absorbed_from_parts": absorbed,
                                                    **({"parts_still_running": waiting} if waiting else {})}
        logger.info("encode: text path %s on %s", rep.stages["encode"]["text_path"], cpu_model())

    with _Stage(rep, "train"):
        model = None
        if not cfg.retrain and (home.model / "config.json").exists():
            try:
                model = FusionModel.load(home.model, feats.text_version, feats.image_version)
                rep.stages["train"] = {"reused": True, "model": model.version}
            except FusionError as exc:
                logger.info("train: retraining (%s)", exc)
        p = prepare(movies, feats, ratings()) if model is None or cfg.gate else None
        if p is not None and not p.co_full and fusion_config.positives != "content":
            logger.info("train: no ratings, so no co-liked pairs: training on content positives only")
            fusion_config = dataclasses.replace(fusion_config, positives="content")
        gate = cfg.gate and p is not None and bool(p.co_full)
        if cfg.gate and not gate:
            logger.warning("gate: no ratings to measure cold-start NDCG@10 with; the swap is not gated")
        if model is None:
            assert p is not None
            logger.info("train: fitting the fusion model")
            model, hist = fit(p, fusion_config, verbose=cfg.progress)
            model.metrics = {"train_seconds": round(hist.seconds, 2), "collapsed": hist.collapsed,
                             "epochs": hist.epochs}
            model.save(home.model)
            shutil.rmtree(home.sequence, ignore_errors=True)  # trained on the old space; retrained below
            rep.stages["train"] = {"reused": False, "model": model.version, "train_seconds": round(hist.seconds, 2)}
        score = None
        if gate:
            assert p is not None
            score = cold_start_ndcg(p, model.config)
            logger.info("gate: cold-start NDCG@10 %.4f", score)
            rep.stages["train"]["gate_ndcg@10"] = round(score, 4)

    with _Stage(rep, "index"):
        fused = model.embed(model.inputs(movies, feats))
        points = make_points(movies, feats, fused, model.version, hub=hubness(fused))
        own = store is None
        store = home.open_store(cfg.qdrant_url, cfg.api_key) if own else store
        guard = lambda: home.writer_lock(cfg.wait, "reelvec build (swapping the alias)")

        replay: dict = {}

        def later_edits(collection: str) -> int:  # under the writer lock, just before the swap
            t = time.perf_counter()
            n = _apply_later_edits(store, collection, home, movies, len(edits), model, text, image, cfg)
            _mark_edits_seen(home, [collection, store.resolve_alias(ALIAS)])
            replay["seconds"] = round(time.perf_counter() - t, 2)
            return n
        try:
            res = index_points(store, home.ledger(), points, vector_dims(feats, fused.shape[1]), model.version,
                               catalog_digest(movies, feats), batch_size=cfg.batch_size, score=score,
                               gate=gate, progress=cfg.progress, shards=cfg.shards,
                               replication_factor=cfg.replication_factor, force=cfg.force_index,
                               on_batch=(lambda _b: time.sleep(cfg.throttle)) if cfg.throttle else None,
                               guard=guard, before_swap=later_edits)
            live = store.resolve_alias(ALIAS)
            if live and hasattr(store, "publish"):  # a copy that is missing, damaged or has no checksums
                with guard():
                    store.publish(live)
        finally:
            if own:
                store.close()
        rep.stages["index"] = {"collection": res.collection, "points": res.points, "swapped": res.swapped,
                               "reused": res.reused, "resumed_after_points": res.skipped_points,
                               "dropped_partial": res.dropped, "edits_replayed": res.replayed,
                               "edits_replay_seconds": replay.get("seconds"),
                               "message": res.message}
    home.write_manifest(home.qdrant(cfg.qdrant_url)[0], cfg.scope, text_max_tokens=cfg.text_max_tokens,
                        text_encoder=TEXT_PROFILES[cfg.text_profile])
    # readers can open the home from here on

    with _Stage(rep, "answers"):
        rep.stages["answers"] = precompute(home, cfg.qdrant_url, cfg.api_key, progress=cfg.progress)

    # sequence model for watch histories (next liked movie), next to the fusion model. After the
    # index: the index is live (and `for_history` falls back to the history's mean) while it trains
    with _Stage(rep, "sequence"):
        try:
            SequenceModel.load(home.sequence, model.version)
            rep.stages["sequence"] = {"reused": True}
        except FusionError:
            seqs = user_sequences(ratings(), {m.tmdb_id: i for i, m in enumerate(movies) if m.tmdb_id is not None})
            if not seqs:
                shutil.rmtree(home.sequence, ignore_errors=True)
                rep.stages["sequence"] = {"skipped": "no ratings: for_history uses the recency-weighted mean"}
                logger.info("sequence: no watch histories in the data; skipped (for_history falls back to the "
                            "recency-weighted mean of the history)")
            else:
                seq_model, info = train_sequence(fused, seqs, kinds=("gru",), hold_last=0)
                SequenceModel(seq_model, model.version, info).save(home.sequence)
                rep.stages["sequence"] = {"reused": False, "users": len(seqs), "train_seconds": info["seconds"]}

    rep.seconds = time.perf_counter() - t0
    return rep


def precompute(home: Home, qdrant_url: str | None = None, api_key: str | None = None,
               progress: bool = False) -> dict:
    """Every movie's default `similar` (k <= 10, no filters), kept with the published copy's
    current generation so that a query, a CLI call or the service reads it instead of computing
    it. A build does this as its last index step; after live edits (a new generation, whose
    queries compute) `reelvec precompute` does it again. Embedded stores only; nothing to do
    when the generation has them already. Returns what it did."""
    from reelvec.index.publish import save_answers
    from reelvec.search.engine import open_engine

    url, _ = home.qdrant(qdrant_url, api_key)
    if url:
        return {"skipped": "a Qdrant server: nothing is published"}
    t = time.perf_counter()
    from reelvec.errors import ReelvecError, StoreError

    with open_engine(home.root) as engine:
        if engine.has_similar_answers():
            return {"reused": True, "generation": engine.store.generation(engine.collection)}
        coll, gen = engine.collection, engine.store.generation(engine.collection)
        try:
            got = engine.similar_answers(progress=progress)
        except (ReelvecError, KeyError) as exc:
            from reelvec.index.published import PublishedStore

            with PublishedStore(home.store) as now:
                moved = now.resolve_alias(engine.alias) != coll or now.generation(coll) != gen
            if moved:
                raise StoreError(f"the live index changed while precompute ran (a live edit or a reindex: {exc}); "
                                 "run `reelvec precompute` again") from exc
            raise
    if got is None:
        return {"skipped": "the default similar is a plain vector query"}
    coll, gen, answers, meta = got
    kept = save_answers(home.store, coll, gen, answers, meta)
    if not kept:
        logger.warning("answers: %s moved past generation %d while they were computed (a live edit); run "
                       "`reelvec precompute` again", coll, gen)
    logger.info("answers: %d movies' default similar precomputed in %.1f s", len(answers), time.perf_counter() - t)
    return {"movies": len(answers), "generation": gen, "seconds": round(time.perf_counter() - t, 1), "kept": kept}


def _mark_edits_seen(home: Home, collections: list) -> None:
    """The collections going live and stopping being live both hold every edit logged so far:
    a later rollback replays only what came after (`app.store.rollback`)."""
    from reelvec.ingest.edits import EditLog

    n = len(EditLog(home.edits).read())
    ledger = home.ledger()
    for c in collections:
        st = ledger.load(c) if c else None
        if st is not None:
            st.edits_seen = n
            ledger.save(st)


def _apply_later_edits(store, collection: str, home: Home, movies: list, seen: int, model, text, image,
                       cfg: BuildConfig) -> int:
    """Bring the live edits logged after this build read the edit log (they went to the old
    collection) into `collection`, which is about to go live: the catalogue with every edit
    applied is compared with the one indexed, and the movies that changed are encoded and
    fused with this build's model and written in one batch (no published generation per
    edit: the copy is published after this). Runs under the home's writer lock, so no edit
    can slip in between; the transactions it covered are marked committed. Returns how many
    edits it applied."""
    from reelvec.encoders import FeatureCache
    from reelvec.encoders.pipeline import encode_catalog, fetched_posters
    from reelvec.index.base import point_id
    from reelvec.index.build import make_points
    from reelvec.ingest.edits import EditLog, apply_edits
    from reelvec.ingest.franchise import franchise_of
    from reelvec.search.writes import store_hubness

    log = EditLog(home.edits)
    later = log.read()[seen:]
    if not later:
        return 0
    after = apply_edits(movies, later)
    touched = {e.key for e in later}
    changed = [m for m in after if m.key in touched]
    gone = touched - {m.key for m in after}
    if changed:
        with FeatureCache(home.features_dir) as cache:
            feats = encode_catalog(changed, text, image, cache,
                                   posters_dir=cfg.data / "posters" if cfg.data is not None else None,
                                   fetched=fetched_posters(home.posters))
        fused = model.embed(model.inputs(changed, feats))
        rows = {m.key: r for r, m in enumerate(after)}
        stems = franchise_of(after)  # judged over the whole catalogue, as the bulk load's were
        franchise = {i: stems[rows[m.key]] for i, m in enumerate(changed) if rows[m.key] in stems}
        hub = store_hubness(store, collection, [point_id(m.key) for m in changed], fused)
        for s in range(0, len(changed), cfg.batch_size):
            part = changed[s:s + cfg.batch_size]
            store.upsert(collection, make_points(part, feats, fused[s:s + len(part)], model.version,
                                                 franchise={i - s: f for i, f in franchise.items()
                                                            if s <= i < s + len(part)},
                                                 hub=hub[s:s + len(part)]))
    if gone:
        ids = [point_id(k) for k in gone]
        there = [f.id for f in store.retrieve(collection, ids, with_payload=False)]
        if there:
            store.delete(collection, there)
    log.commit(sorted({e.txn for e in later if e.txn} | {t for t, _ in log.pending()}))
    logger.info("index: %d live edit(s) made while the build ran applied to %s before the swap", len(later),
                collection)
    return len(later)


def reindex(cfg: BuildConfig, store=None) -> BuildReport:
    """A build that always writes a new collection and swaps the alias after verification
    (unless the gate refuses: then `report.swapped` is False)."""
    return build(dataclasses.replace(cfg, force_index=True), store=store)
