"""CLI: `train`, `eval`, `eval-history`."""
from __future__ import annotations

from pathlib import Path

from reelvec.cli.common import add_scope


def _config(args):
    from reelvec import app

    return app.fusion_config(getattr(args, "config", None), **{
        k: getattr(args, k, None) for k in ("epochs", "miner", "lr", "margin", "positives", "seed")})


def cmd_train(args) -> int:
    from reelvec import app

    res = app.train(Path(args.catalog), Path(args.features), app.data_dir(args.data), Path(args.out),
                    _config(args), args.scope, verbose=not args.quiet, blends=app.blends_config(args.config))
    print(f"trained {res.model.version} on {res.movies} movies in {res.seconds:.1f} s -> {res.out}"
          + (" (collapse detected: kept the last healthy epoch)" if res.collapsed else ""))
    return 0


def cmd_eval(args) -> int:
    from reelvec import app

    res = app.evaluate(Path(args.catalog), Path(args.features), app.data_dir(args.data), Path(args.report),
                       _config(args), seeds=args.seeds, trials=args.trials, studies=not args.no_studies,
                       scope=args.scope, blend_trials=args.blend_trials)
    c = res.report.comparison
    print(res.table)
    print(f"\nreelvec-fusion vs {c['best_baseline']}: NDCG@10 {c['ours']:.4f} vs {c['baseline']:.4f} "
          f"({c['relative_gain'] * 100:+.1f}%), paired diff {c['diff']:.4f} [{c['diff_low']:.4f}, {c['diff_high']:.4f}]")
    print(f"report: {res.path}")
    return 0


def cmd_eval_history(args) -> int:
    from reelvec import app

    res = app.eval_history(app.Home.at(args.store), app.data_dir(args.data), Path(args.report), args.scope)
    print(res.markdown)
    print(f"\nreport: {res.path}")
    return 0


def add_fusion_options(p) -> None:
    p.add_argument("--catalog", default=".reelvec/catalog.jsonl", help="catalog file (default: %(default)s)")
    p.add_argument("--features", default=".reelvec/features/features.npz", help="features from `reelvec encode`")
    p.add_argument("--data", help="data folder with movielens/ratings.csv (default: $REELVEC_DATA or ../shared/data)")
    add_scope(p)
    add_training_options(p)
    p.add_argument("--quiet", action="store_true", help="no per-epoch log")


def add_training_options(p) -> None:
    p.add_argument("--config", help="a FusionConfig JSON, or the report.json of `reelvec eval` (uses its best_config "
                   "and, for `train`, the `similar` presets it chose)")
    p.add_argument("--epochs", type=int, help="training epochs (default 20)")
    p.add_argument("--miner", choices=["random", "semi-hard", "batch-hard"], help="negative mining (default random)")
    p.add_argument("--lr", type=float, help="learning rate (default 1e-3)")
    p.add_argument("--margin", type=float, help="triplet margin (default 0.2)")
    p.add_argument("--positives", choices=["co-liked", "content", "mixed"], help="positive pairs (default co-liked)")
    p.add_argument("--seed", type=int, help="random seed (default 0)")


def register(sub) -> None:
    t = sub.add_parser(
        "train", help="train the fusion model on every rating (what `reelvec build` indexes)",
        description="Triplet-train RecommenderSystem on co-liked MovieLens pairs over the encoded features; "
        "saves config.json + model.safetensors with the encoder versions it was trained on.",
        epilog="example: reelvec train --out .reelvec/model --epochs 20",
    )
    add_fusion_options(t)
    t.add_argument("--out", default=".reelvec/model", help="model folder (default: %(default)s)")
    t.set_defaults(func=cmd_train)

    v = sub.add_parser(
        "eval", help="co-liked and content-faithful evaluation of every `similar` mode and the baselines, with a report",
        description="Hold out 20% of rated movies per seed (ratings removed), train, and rank the whole catalogue "
        "for each held-out movie with reelvec and the baselines (random, most-popular, TF-IDF, MiniLM, CNN poster, "
        "late fusion). Measures, each with a 95% CI on the same seeds: co-liked NDCG@10 / R@20; franchise "
        "recall@10 over (film, next film) pairs derived from the titles (test franchises only); genre precision@10; "
        "director/lead-cast overlap@10; popularity bias; and what a film buff checks: series recall@10 (series from "
        "the sources' words, title-disjoint mates apart), same-director recall@10, hub share (500 most-voted films) "
        "and the title-lookalike rate. The `similar` and `content` presets are chosen on seed 0's "
        "validation split, the dev franchises and the dev series, never on test. Writes report.md, report.json "
        "(its `blends` can be "
        "saved with a model: `reelvec train --config report.json`) and PNG plots.",
        epilog="example: reelvec eval --seeds 0 1 2 --report reports/fusion",
    )
    add_fusion_options(v)
    v.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2], help="seeds (default: 0 1 2)")
    v.add_argument("--trials", type=int, default=6, help="hyper-parameter search trials on seed 0 (default 6; 1 = none)")
    v.add_argument("--no-studies", action="store_true", help="skip the ablation, miner and imbalance studies")
    v.add_argument("--blend-trials", type=int, default=60,
                   help="random-search trials per preset for the `similar`/`content` blends (default 60; 0 = keep "
                   "the built-in presets)")
    v.add_argument("--report", default="reports/fusion", help="report folder (default: %(default)s)")
    v.set_defaults(func=cmd_eval)

    eh = sub.add_parser("eval-history", help="leave-last-out evaluation of watch-history recommendations",
                        epilog="example: reelvec eval-history --store .reelvec --report reports/fusion")
    eh.add_argument("--store", default=".reelvec", help="reelvec home with catalog, features and model")
    eh.add_argument("--data", help="data folder with movielens/ratings.csv")
    eh.add_argument("--report", default="reports/fusion", help="folder for history.md (default: %(default)s)")
    add_scope(eh)
    eh.add_argument("--quiet", action="store_true", help="no per-epoch log")
    eh.set_defaults(func=cmd_eval_history)
