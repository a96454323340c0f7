"""Triplet loss on mined triplets: max(0, d_ap - d_an + margin), or the soft-margin variant
log(1 + exp(d_ap - d_an)). Also reports the share of active (non-zero-loss) triplets."""
from __future__ import annotations

import torch


def pairwise_distance(emb: torch.Tensor) -> torch.Tensor:
    """Euclidean distances between rows; for unit vectors sqrt(2 - 2 cos), clamped for a finite gradient."""
    sq = (2.0 - 2.0 * emb @ emb.T).clamp(min=1e-12)
    return sq.sqrt()


def triplet_loss(dist: torch.Tensor, a: torch.Tensor, p: torch.Tensor, n: torch.Tensor, margin: float,
                 soft: bool = False) -> tuple[torch.Tensor, float]:
    if len(a) == 0:
        return dist.sum() * 0.0, 0.0
    diff = dist[a, p] - dist[a, n]
    if soft:
        losses = torch.nn.functional.softplus(diff)
        active = float((diff > -margin).float().mean())
    else:
        losses = (diff + margin).clamp(min=0)
        active = float((losses > 0).float().mean())
    return losses.mean(), active
