"""`reelvec train`, `reelvec eval` and `reelvec eval-history`: the fusion and sequence models
trained and measured on a catalogue's features and the MovieLens ratings."""
from __future__ import annotations

import dataclasses
import json
import logging
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from reelvec.app.home import Home
from reelvec.errors import ReelvecError

logger = logging.getLogger(__name__)


def fusion_config(path: str | Path | None = None, **overrides):
    """A FusionConfig: the defaults, or a config JSON / `reelvec eval` report.json (its
    best_config), with the given non-None overrides applied."""
    from reelvec.fusion.model import FusionConfig

    cfg = FusionConfig()
    if path:
        try:
            raw = json.loads(Path(path).read_text())
            cfg = FusionConfig.from_dict(raw.get("best_config", raw))
        except (OSError, ValueError, TypeError, AttributeError) as exc:
            raise ReelvecError(f"cannot read fusion config {path} ({exc}); pass a config.json or the "
                               "report.json of `reelvec eval`") from exc
    return dataclasses.replace(cfg, **{k: v for k, v in overrides.items() if v is not None})


def blends_config(path: str | Path | None):
    """The `similar` presets a `reelvec eval` report.json chose (its "blends"), or None."""
    if not path:
        return None
    from reelvec.errors import SearchError
    from reelvec.fusion.blend import blends_from

    try:
        raw = json.loads(Path(path).read_text())
        return blends_from(raw) if isinstance(raw, dict) and raw.get("blends") else None
    except (OSError, ValueError, SearchError) as exc:
        raise ReelvecError(f"cannot read the blends in {path} ({exc}); pass the report.json of `reelvec eval`") from exc


def prepared(catalog_path: Path, features_path: Path, data: Path, scope: str = "linked"):
    """The catalogue's movies that have features, with their training positives."""
    from reelvec.encoders.pipeline import Features
    from reelvec.fusion.experiment import prepare
    from reelvec.ingest.catalog import Catalog, select_movies
    from reelvec.ingest.movielens import load_ratings_table

    features = Features.load(Path(features_path))
    have = set(features.keys)
    movies = [m for m in select_movies(Catalog.load(Path(catalog_path)), scope) if m.key in have]
    return prepare(movies, features, load_ratings_table(Path(data)))


@dataclass
class TrainResult:
    model: object  # reelvec.fusion.artifact.FusionModel
    out: Path
    movies: int
    seconds: float
    collapsed: bool


def train(catalog_path: Path, features_path: Path, data: Path, out: Path, config=None, scope: str = "linked",
          verbose: bool = True, blends: dict | None = None) -> TrainResult:
    """Train the fusion model on every rating and save it to `out`, with the `similar` presets
    (`blends`, e.g. from `blends_config(report.json)`; default the built-in ones)."""
    from reelvec.fusion.experiment import fit

    p = prepared(catalog_path, features_path, data, scope)
    t = time.perf_counter()
    model, hist = fit(p, config or fusion_config(), verbose=verbose)
    wall = time.perf_counter() - t
    model.metrics = {"train_seconds": round(wall, 2), "epochs": hist.epochs, "collapsed": hist.collapsed}
    if blends:
        model.blends = dict(blends)
    model.save(out)
    return TrainResult(model, Path(out), len(p.movies), wall, hist.collapsed)


@dataclass
class EvalResult:
    report: object  # reelvec.fusion.experiment.EvalReport
    path: Path
    table: str


def evaluate(catalog_path: Path, features_path: Path, data: Path, report_dir: Path, config=None,
             seeds=(0, 1, 2), trials: int = 6, studies: bool = True, scope: str = "linked",
             blend_trials: int = 60) -> EvalResult:
    """Co-liked and content-faithful evaluation of every `similar` mode against the baselines;
    writes report.md/json and plots to `report_dir`."""
    from reelvec.fusion.experiment import run_evaluation
    from reelvec.fusion.report import methods_table, write_report

    p = prepared(catalog_path, features_path, data, scope)
    rep = run_evaluation(p, seeds=seeds, config=config or fusion_config(), trials=trials, studies=studies,
                         blend_trials=blend_trials)
    return EvalResult(rep, write_report(rep, p, report_dir), methods_table(rep))


@dataclass
class HistoryResult:
    results: dict
    markdown: str
    path: Path


def qdrant_recommend_scorer(E, store):
    """Qdrant's recommend API (history as positives) as a leave-last-out scorer over rows of E."""
    import numpy as np

    from reelvec.index import PointData, point_id
    from reelvec.index.base import SearchFilter

    store.create_collection("h", {"fused": E.shape[1]})
    ids = [point_id(f"row:{i}") for i in range(len(E))]
    store.upsert("h", [PointData(ids[i], {"fused": E[i]}, {"row": i}) for i in range(len(E))])
    store.finalize("h")

    def score(u, h):
        hits = store.recommend("h", [E[r] for r, _ in h[-20:]], [], "fused", 20,
                               SearchFilter(exclude_ids=tuple(ids[r] for r, _ in h)))
        scores = np.full(len(E), -1e9)
        for rank, f in enumerate(hits):
            scores[f.payload["row"]] = 1000 - rank
        return scores
    return score


def eval_history(home: Home, data: Path, report_dir: Path, scope: str = "linked") -> HistoryResult:
    """Leave-last-out evaluation of watch-history recommendations over a built home."""
    from reelvec.encoders.pipeline import Features
    from reelvec.fusion.artifact import FusionModel
    from reelvec.fusion.history_eval import evaluate_history, history_markdown
    from reelvec.fusion.sequence import user_sequences
    from reelvec.index import open_store
    from reelvec.ingest.catalog import Catalog, select_movies
    from reelvec.ingest.movielens import load_ratings_table

    feats = Features.load(home.features)
    have = set(feats.keys)
    movies = [m for m in select_movies(Catalog.load(home.catalog), scope) if m.key in have]
    fm = FusionModel.load(home.model, feats.text_version, feats.image_version)
    E = fm.embed(fm.inputs(movies, feats))
    seqs = user_sequences(load_ratings_table(Path(data)),
                          {m.tmdb_id: i for i, m in enumerate(movies) if m.tmdb_id is not None})
    with tempfile.TemporaryDirectory() as tmp:
        store = open_store(path=tmp)
        try:
            res = evaluate_history(E, seqs, extra_methods={
                "qdrant recommend (history as positives)": qdrant_recommend_scorer(E, store)})
        finally:
            store.close()
    md = history_markdown(res)
    out = Path(report_dir) / "history.md"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(md + "\n")
    return HistoryResult(res, md, out)
