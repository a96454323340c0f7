"""Fusion training wall time on the full catalogue (the production fit `reelvec build` runs).

    python bench/train.py --store .reelvec      (needs a catalog and features from `reelvec build`)
"""
from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--store", default=".reelvec")
    args = ap.parse_args()
    import numpy as np
    import torch

    from reelvec.encoders.pipeline import Features
    from reelvec.fusion.experiment import fit, prepare
    from reelvec.ingest.catalog import Catalog, select_movies
    from reelvec.ingest.movielens import load_ratings_table

    home = Path(args.store)
    feats = Features.load(home / "features" / "features.npz")
    have = set(feats.keys)
    movies = [m for m in select_movies(Catalog.load(home / "catalog.jsonl"), "linked") if m.key in have]
    t = time.perf_counter()
    p = prepare(movies, feats, load_ratings_table(data_dir()))
    prep = time.perf_counter() - t
    t = time.perf_counter()
    a, hist = fit(p)
    wall = time.perf_counter() - t
    b, _ = fit(p)
    same = np.array_equal(a.embed(p.inputs()), b.embed(p.inputs()))
    print(f"prepare {prep:.1f} s; train {wall:.1f} s for {len(hist.epochs)} epochs on {len(movies)} movies "
          f"({torch.get_num_threads()} threads); deterministic under the seed: {same}")


if __name__ == "__main__":
    main()
