"""Encoders: per-modality features (MiniLM text, MobileNetV2 posters) and their cache.

Nothing here loads a model at import; encoders load weights on first `encode`.
"""
from reelvec.encoders.base import Encoder, EncoderSpec, create, l2_normalise
from reelvec.encoders.cache import FeatureCache

__all__ = ["Encoder", "EncoderSpec", "FeatureCache", "create", "l2_normalise"]
