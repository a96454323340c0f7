"""The application layer: one function per command, each taking plain arguments (and the
VectorStore it acts on, where it acts on one) and returning a result object. The CLI parses
arguments, calls these and prints; a notebook or a service can call them the same way.

`Home` owns the layout of the home folder (catalog, features, model, store, jobs, posters).
Nothing here prints; progress is logged (``logging.getLogger("reelvec")``) and shown as tqdm
bars when a caller asks for them.
"""
from __future__ import annotations

from reelvec.app.build import BuildConfig, BuildReport, build, precompute, reindex
from reelvec.app.data import catalog, encode, fetch_posters
from reelvec.app.home import Home, data_dir
from reelvec.app.model import blends_config, eval_history, evaluate, fusion_config, train
from reelvec.app.store import restore, rollback, snapshot

__all__ = ["BuildConfig", "BuildReport", "Home", "blends_config", "build", "catalog", "data_dir", "encode",
           "eval_history", "evaluate", "fetch_posters", "fusion_config", "precompute", "reindex", "restore",
           "rollback", "snapshot", "train"]
