"""Fusion: the triplet-trained `RecommenderSystem` that maps text, poster and structured
features to one joint embedding, and its honest cold-start evaluation."""
from reelvec.fusion.model import FusionConfig, RecommenderSystem

__all__ = ["FusionConfig", "RecommenderSystem"]
