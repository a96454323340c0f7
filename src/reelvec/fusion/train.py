"""Triplet training: the trainer only wires a sampler, a miner and the loss together.

Batches are P anchors with one sampled positive each (P x K with K = 2); known positives that
happen to share a batch are masked out of the negatives. Every epoch logs the loss, the share
of active triplets and the mean pairwise cosine of a fixed sample: when that cosine climbs
towards 1 the embedding is collapsing (plain batch-hard does this here), training stops and
the last healthy weights are kept.
"""
from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from reelvec.errors import FusionError
from reelvec.fusion.data import Movie_Dataset
from reelvec.fusion.losses import pairwise_distance, triplet_loss
from reelvec.fusion.miners import MINERS
from reelvec.fusion.model import FusionConfig, FusionInputs, RecommenderSystem

logger = logging.getLogger(__name__)

COLLAPSE_COS = 0.9


@dataclass
class History:
    epochs: list[dict] = field(default_factory=list)
    collapsed: bool = False
    seconds: float = 0.0
    best_epoch: int = -1


def genre_balance_weights(struct: np.ndarray, n_genres: int, rows: np.ndarray) -> np.ndarray:
    """Sampling weight per anchor ~ 1 / frequency of its rarest genre (Drama/Comedy dominate)."""
    g = struct[rows, :n_genres] > 0
    freq = g.sum(0).clip(min=1)
    inv = np.where(g, 1.0 / freq, 0.0).max(1)
    inv[inv == 0] = inv[inv > 0].min() if (inv > 0).any() else 1.0
    return inv / inv.sum()


def positive_frequency(dataset: Movie_Dataset, n: int, alpha: float) -> np.ndarray:
    """Sampling distribution over all n movies ~ (1 + times listed as a positive) ** alpha."""
    freq = np.ones(n, np.float64)
    for table in (dataset.co, dataset.content):
        for nbrs in table.values():
            for j, _ in nbrs:
                freq[j] += 1
    w = freq ** alpha
    return w / w.sum()


def embed(model: RecommenderSystem, inputs: FusionInputs, batch: int = 4096, weights=None) -> np.ndarray:
    model.eval()
    out = []
    with torch.inference_mode():
        for s in range(0, len(inputs), batch):
            out.append(model(inputs.index(slice(s, s + batch)), weights=weights).numpy())
    return np.concatenate(out) if out else np.zeros((0, model.config.out_dim), np.float32)


def train(inputs: FusionInputs, dataset: Movie_Dataset, config: FusionConfig, n_tags: int, n_genres: int = 0,
          validate: Callable[[RecommenderSystem], float] | None = None, verbose: bool = True
          ) -> tuple[RecommenderSystem, History]:
    if len(dataset) == 0:
        raise FusionError("no training anchors: no movie has a co-liked or content positive")
    if config.miner not in MINERS:
        raise FusionError(f"unknown miner {config.miner!r}; known: {', '.join(MINERS)}")
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    gen = torch.Generator().manual_seed(config.seed)
    model = RecommenderSystem(config, inputs.struct.shape[1], n_tags)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=config.weight_decay)
    miner = MINERS[config.miner]
    rows = dataset.rows
    p_sample = genre_balance_weights(inputs.struct.numpy(), n_genres, rows) if config.genre_balanced and n_genres else None
    probe = torch.from_numpy(rng.choice(len(inputs), size=min(512, len(inputs)), replace=False))
    pos_sets = {int(r): dataset.positive_set(int(r)) for r in rows}
    p_neg = positive_frequency(dataset, len(inputs), config.pop_alpha) if config.pop_negatives else None
    steps = max(1, len(rows) // config.batch_size)
    total = steps * config.epochs
    sched = torch.optim.lr_scheduler.OneCycleLR(opt, max_lr=config.lr, total_steps=total, pct_start=0.1)
    hist = History()
    best_state, best_score = None, -np.inf
    t0 = time.perf_counter()
    for epoch in range(config.epochs):
        model.train()
        losses, actives = [], []
        order = rng.choice(rows, size=steps * config.batch_size, replace=p_sample is not None, p=p_sample) \
            if p_sample is not None or len(rows) >= steps * config.batch_size else rng.permutation(rows)
        for s in range(steps):
            anchors = order[s * config.batch_size:(s + 1) * config.batch_size]
            positives = np.array([dataset.sample_positive(int(a), rng) for a in anchors])
            ids = np.concatenate([anchors, positives])
            if p_neg is not None:
                ids = np.concatenate([ids, rng.choice(len(p_neg), size=config.pop_negatives, p=p_neg)])
            B = len(anchors)
            pos = np.zeros((len(ids), len(ids)), bool)
            pos[np.arange(B), np.arange(B) + B] = True
            pos[np.arange(B) + B, np.arange(B)] = True
            same = ids[:, None] == ids[None, :]
            pos |= same
            for i, a in enumerate(ids):  # known positives in the batch are not negatives
                ps = pos_sets.get(int(a))
                if ps:
                    pos[i] |= np.isin(ids, list(ps))
            np.fill_diagonal(pos, False)
            emb = model(inputs.index(torch.from_numpy(ids)))
            dist = pairwise_distance(emb)
            with torch.no_grad():
                a_i, p_i, n_i = miner(dist.detach(), torch.from_numpy(pos), config.margin, gen)
            loss, active = triplet_loss(dist, a_i, p_i, n_i, config.margin, config.soft_margin)
            opt.zero_grad()
            loss.backward()
            opt.step()
            sched.step()
            losses.append(float(loss.detach()))
            actives.append(active)
        model.eval()
        with torch.inference_mode():
            z = model(inputs.index(probe))
            sim = z @ z.T
            mean_cos = float((sim.sum() - sim.diagonal().sum()) / (len(z) * (len(z) - 1)))
        score = validate(model) if validate else -mean_cos
        rec = {"epoch": epoch + 1, "loss": float(np.mean(losses)), "active": float(np.mean(actives)),
               "mean_cos": mean_cos, "val": score if validate else None,
               "seconds": round(time.perf_counter() - t0, 2)}
        hist.epochs.append(rec)
        logger.log(logging.INFO if verbose else logging.DEBUG,
                   "epoch %d/%d loss %.4f active %.2f mean cos %.3f%s", epoch + 1, config.epochs, rec["loss"],
                   rec["active"], mean_cos, f" val {score:.4f}" if validate else "")
        if mean_cos > COLLAPSE_COS:
            hist.collapsed = True
            logger.warning("collapse detected (mean pairwise cosine %.3f > %s); stopping", mean_cos, COLLAPSE_COS)
            break
        if validate is None or score > best_score:
            best_score, hist.best_epoch = score, epoch + 1
            best_state = {k: v.detach().clone() for k, v in model.state_dict().items()}
    if best_state is not None:
        model.load_state_dict(best_state)
    model.eval()
    hist.seconds = time.perf_counter() - t0
    return model, hist
