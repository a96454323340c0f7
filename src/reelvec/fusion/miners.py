"""Triplet miners: (distance matrix, positives mask) -> (anchor, positive, negative) indices.

Tiny and swappable, found by name in `MINERS`; the loss never knows how triplets were picked.
`dist` is (B, B) Euclidean distance between L2-normalised embeddings; `pos` is (B, B) bool with
a False diagonal; every index that is neither the anchor nor a positive is a valid negative.
"""
from __future__ import annotations

import torch

Triplets = tuple[torch.Tensor, torch.Tensor, torch.Tensor]


def _neg_mask(pos: torch.Tensor) -> torch.Tensor:
    eye = torch.eye(len(pos), dtype=torch.bool, device=pos.device)
    return ~pos & ~eye


def random_negatives(dist: torch.Tensor, pos: torch.Tensor, margin: float, gen: torch.Generator | None = None) -> Triplets:
    """Every positive pair with one uniformly random negative."""
    a, p = pos.nonzero(as_tuple=True)
    neg = _neg_mask(pos)[a]
    rnd = torch.rand(neg.shape, generator=gen, device=dist.device)
    n = torch.where(neg, rnd, torch.full_like(rnd, -1.0)).argmax(1)  # uniform among negatives
    keep = neg.any(1)
    return a[keep], p[keep], n[keep]


def semi_hard(dist: torch.Tensor, pos: torch.Tensor, margin: float, gen: torch.Generator | None = None) -> Triplets:
    """FaceNet's semi-hard negatives: farther than the positive but inside the margin
    (d_ap < d_an < d_ap + margin), a random one per pair; where none exists, the closest
    negative that is still farther than the positive; pairs with neither are skipped."""
    a, p = pos.nonzero(as_tuple=True)
    neg = _neg_mask(pos)[a]
    d_ap = dist[a, p].unsqueeze(1)
    d_an = dist[a]
    band = neg & (d_an > d_ap) & (d_an < d_ap + margin)
    beyond = neg & (d_an > d_ap)
    has_band = band.any(1)
    rnd = torch.rand(d_an.shape, generator=gen, device=dist.device)
    pick_band = torch.where(band, rnd, torch.full_like(rnd, -1.0)).argmax(1)
    pick_beyond = torch.where(beyond, d_an, torch.full_like(d_an, float("inf"))).argmin(1)
    n = torch.where(has_band, pick_band, pick_beyond)
    keep = has_band | beyond.any(1)
    return a[keep], p[keep], n[keep]


def batch_hard(dist: torch.Tensor, pos: torch.Tensor, margin: float, gen: torch.Generator | None = None) -> Triplets:
    """Per anchor: its farthest positive and its closest negative (Hermans et al.)."""
    anchors = pos.any(1).nonzero(as_tuple=True)[0]
    d = dist[anchors]
    p = torch.where(pos[anchors], d, torch.full_like(d, -1.0)).argmax(1)
    n = torch.where(_neg_mask(pos)[anchors], d, torch.full_like(d, float("inf"))).argmin(1)
    return anchors, p, n


MINERS = {"random": random_negatives, "semi-hard": semi_hard, "batch-hard": batch_hard}
