"""The evaluation report: a Markdown table of every method and metric with bootstrap intervals,
the ablation / miner / imbalance / search tables, and PNG plots (metric bars, a 2-D map of the
embedding coloured by genre, the training curve)."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np

from reelvec.fusion.experiment import EvalReport, Prepared

METRICS = ("NDCG@10", "R@20", "FranchiseR@10", "SeriesR@10", "SeriesDisjointR@10", "DirectorR@10", "GenreP@10",
           "People@10", "HubShare", "MostLists", "Lookalike@10", "PopBias", "P@10", "MAP@10", "Top1Cos", "ILD@10",
           "coverage")


def _fmt(t) -> str:
    m, lo, hi = t
    return f"{m:.4f} [{lo:.4f}, {hi:.4f}]"


def methods_table(rep: EvalReport) -> str:
    cols = [m for m in METRICS if any(m in r.summary() for r in rep.methods.values())]
    lines = ["| method | " + " | ".join(cols) + " |", "|---|" + "---|" * len(cols)]
    for name, r in rep.methods.items():
        s = r.summary()
        lines.append(f"| {name} | " + " | ".join(_fmt(s[c]) if c in s else "—" for c in cols) + " |")
    return "\n".join(lines)


def write_report(rep: EvalReport, p: Prepared, folder: str | Path) -> Path:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    c = rep.comparison
    md = [
        "# reelvec fusion evaluation (cold start)",
        "",
        f"Seeds {list(rep.seeds)}; {rep.n_queries} cold-start queries pooled (20% of rated movies per seed, "
        "their ratings removed before training; ground truth = their co-liked neighbours from the removed "
        f"ratings); ranking over the whole catalogue of {len(p.movies)} movies. Intervals: bootstrap 95%.",
        "",
        f"**reelvec-fusion NDCG@10 {c['ours']:.4f} vs best baseline ({c['best_baseline']}) {c['baseline']:.4f}: "
        f"{c['relative_gain'] * 100:+.1f}%**; paired bootstrap difference {c['diff']:.4f} "
        f"[{c['diff_low']:.4f}, {c['diff_high']:.4f}] ({'excludes' if c['diff_low'] > 0 else 'includes'} zero).",
        "",
        f"Training wall time per seed: {', '.join(f'{s:.1f} s' for s in rep.train_seconds)}. "
        f"Late-fusion weight (tuned on training movies): alpha = {rep.late_fusion_alpha:.1f}.",
        "",
        "## All methods",
        "",
        methods_table(rep),
        "",
        "Co-liked: NDCG@10 and R@20 against the held-out movies' co-liked neighbours. Content-faithful, on the "
        "same seeds: FranchiseR@10 = share of (film, next film of its franchise) pairs whose mate is in the "
        f"film's top 10, over the *test* franchises ({rep.franchises.get('test_pairs', 0)} pairs; franchises are "
        "derived from the titles, `reelvec.ingest.franchise`, and split dev/test by franchise); GenreP@10 = "
        "share of hits sharing a genre; People@10 = share sharing the director or a lead actor (queries with "
        "known people); PopBias = median popularity percentile of the hits minus the query's. "
        "Top1Cos is the cosine of each query's first neighbour in the method's own space "
        "(MiniLM space for the baselines). coverage = share of the catalogue appearing in any top-10 list "
        "(mean [min, max] over seeds). reelvec-fusion is the co-liked embedding alone (`mode=also-liked`). "
        "What a film buff checks (`reelvec.fusion.faithful`, from the sources' own words): SeriesR@10 = share of "
        f"the other films of the query's series in its top 10 (of min(10, mates); {rep.franchises.get('series_test_queries', 0)} "
        "queries of *test*-split series), SeriesDisjointR@10 the same for mates sharing no title word "
        f"({rep.franchises.get('series_test_title_disjoint', 0)} queries); DirectorR@10 the same for films of the "
        f"query's director ({rep.franchises.get('director_queries', 0)} sampled queries); HubShare = share of the "
        "top-10 slots of the 500 most-voted films that the 20 most frequent hits take, MostLists = the most of "
        "those lists one film is in (mean over seeds); Lookalike@10 = share of the films with a title lookalike "
        f"(a shared title word and nothing else: {rep.franchises.get('lookalike_queries', 0)} queries) that get one "
        "in their top 10.",
    ]
    if rep.blends:
        md += ["", "## Query presets (`similar(mode=...)`), chosen on seed 0's validation split and dev franchises",
               "", "| mode | blend |", "|---|---|"]
        md += [f"| {m} | `{json.dumps(b.to_dict())}` |" for m, b in rep.blends.items()]
        for mode, tried in rep.blend_trials.items():
            md += ["", f"Search for `{mode}` ({len(tried)} trials, validation; first row = co-liked embedding "
                   "alone):", "", "| chosen | blend | val NDCG@10 | dev FranchiseR@10 | dev SeriesR@10 | val GenreP@10 | "
                   "val People@10 | HubShare | Lookalike@10 |", "|---|---|---|---|---|---|---|---|---|"]
            top = sorted(tried, key=lambda t: -t.measures["NDCG@10"])[:12]
            for t in top + [t for t in tried if t.chosen and t not in top] + [tried[0]]:
                m = t.measures
                md.append(f"| {'**yes**' if t.chosen else ''} | `{json.dumps(t.blend.to_dict())}` | "
                          f"{m['NDCG@10']:.4f} | {m['FranchiseR@10']:.4f} | {m.get('SeriesR@10', 0):.4f} | "
                          f"{m['GenreP@10']:.4f} | {m['People@10']:.4f} | {m.get('HubShare', 0):.4f} | "
                          f"{m.get('Lookalike@10', 0):.4f} |")
    if rep.ablations:
        md += ["", "## Ablation (seed 0): which inputs carry the signal", "", "| inputs | NDCG@10 | GenreP@10 |",
               "|---|---|---|"]
        for name, r in rep.ablations.items():
            s = r.summary()
            md.append(f"| {name} | {_fmt(s['NDCG@10'])} | {_fmt(s['GenreP@10'])} |")
    if rep.miners:
        md += ["", "## Negative mining (seed 0)", "", "| miner | NDCG@10 | collapsed | active triplets per epoch | "
               "mean pairwise cosine per epoch |", "|---|---|---|---|---|"]
        for name, r in rep.miners.items():
            md.append(f"| {name} | {r['NDCG@10']:.4f} | {r['collapsed']} | {r['active']} | {r['mean_cos']} |")
    if rep.imbalance:
        md += ["", "## Genre imbalance (seed 0)", "", "| sampling | NDCG@10 | GenreP@10 | ILD@10 | coverage |",
               "|---|---|---|---|---|"]
        for name, r in rep.imbalance.items():
            md.append(f"| {name} | {r['NDCG@10']:.4f} | {r['GenreP@10']:.4f} | {r['ILD@10']:.4f} | {r['coverage']:.4f} |")
    if rep.search:
        keys = list(rep.search[0].keys() | set().union(*[t.keys() for t in rep.search]))
        keys = ["trial"] + sorted(k for k in keys if k not in ("trial", "val_ndcg@10")) + ["val_ndcg@10"]
        md += ["", "## Hyper-parameter search (seed 0, validation split of training movies only)", "",
               "| " + " | ".join(keys) + " |", "|" + "---|" * len(keys)]
        for t in rep.search:
            md.append("| " + " | ".join(str(round(t[k], 4) if isinstance(t.get(k), float) else t.get(k, "default"))
                                        for k in keys) + " |")
        md += ["", "Best config: `" + json.dumps(rep.best_config) + "`"]
    md += ["", "![metrics](metrics.png)", "", "![embedding](embedding.png)", "", "![training](training.png)", ""]
    (folder / "report.md").write_text("\n".join(md))
    (folder / "report.json").write_text(json.dumps({
        "comparison": rep.comparison, "train_seconds": rep.train_seconds, "best_config": rep.best_config,
        "blends": {m: b.to_dict() for m, b in rep.blends.items()}, "franchises": rep.franchises,
        "methods": {n: {k: list(v) for k, v in r.summary().items()} for n, r in rep.methods.items()},
        "miners": rep.miners, "imbalance": rep.imbalance, "search": rep.search,
        "ablations": {n: {k: list(v) for k, v in r.summary().items()} for n, r in rep.ablations.items()},
    }, indent=1))

    # metric bars with intervals
    names = list(rep.methods)
    fig, axes = plt.subplots(1, 3, figsize=(15, 4.5))
    for ax, metric in zip(axes, ("NDCG@10", "FranchiseR@10", "GenreP@10")):
        vals = [rep.methods[n].summary().get(metric, (0.0, 0.0, 0.0)) for n in names]
        mean = [v[0] for v in vals]
        err = np.array([[v[0] - v[1] for v in vals], [v[2] - v[0] for v in vals]])
        ax.bar(range(len(names)), mean, yerr=err, capsize=3,
               color=["#d62728" if n == "reelvec-fusion" else "#7f7f7f" for n in names])
        ax.set_xticks(range(len(names)), names, rotation=40, ha="right")
        ax.set_title(metric)
    fig.tight_layout()
    fig.savefig(folder / "metrics.png", dpi=110)
    plt.close(fig)

    # 2-D map of the embedding (PCA), coloured by first genre
    if rep.embedding is not None:
        E = rep.embedding
        rng = np.random.default_rng(0)
        sel = rng.choice(len(E), size=min(3000, len(E)), replace=False)
        X = E[sel] - E[sel].mean(0)
        _, _, vt = np.linalg.svd(X, full_matrices=False)
        xy = X @ vt[:2].T
        first = [next(iter(sorted(p.movies[i].genres)), "none") if p.movies[i].genres else "none" for i in sel]
        top = [g for g, _ in __import__("collections").Counter(first).most_common(9)]
        fig, ax = plt.subplots(figsize=(8, 7))
        for g in top + ["other"]:
            m = np.array([(f == g) if g != "other" else (f not in top) for f in first])
            ax.scatter(xy[m, 0], xy[m, 1], s=4, alpha=0.6, label=g)
        ax.legend(markerscale=3, fontsize=8)
        ax.set_title("reelvec fused embedding (PCA, seed 0), coloured by first genre")
        fig.tight_layout()
        fig.savefig(folder / "embedding.png", dpi=110)
        plt.close(fig)

    # training curve
    fig, ax1 = plt.subplots(figsize=(7, 4))
    for name, h in rep.histories.items():
        ax1.plot([e["epoch"] for e in h], [e["loss"] for e in h], label=f"loss {name}")
    ax2 = ax1.twinx()
    for name, h in rep.histories.items():
        ax2.plot([e["epoch"] for e in h], [e["mean_cos"] for e in h], "--", label=f"mean cos {name}")
    ax1.set_xlabel("epoch")
    ax1.set_ylabel("triplet loss")
    ax2.set_ylabel("mean pairwise cosine (collapse watch)")
    ax1.legend(loc="upper right", fontsize=7)
    fig.tight_layout()
    fig.savefig(folder / "training.png", dpi=110)
    plt.close(fig)
    return folder / "report.md"
