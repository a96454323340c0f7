"""Fusion: the triplet-trained `RecommenderSystem` that maps text, poster and structured
features to one joint embedding, its honest evaluation, and the query-time `Blend` of signals.

Nothing here is imported eagerly: `reelvec.fusion.blend` is numpy-only and runs in the serving
install, while the model itself needs torch (the `[build]` extra)."""
from __future__ import annotations

__all__ = ["FusionConfig", "RecommenderSystem"]


def __getattr__(name: str):
    if name in __all__:
        from reelvec.fusion import model

        return getattr(model, name)
    raise AttributeError(name)
