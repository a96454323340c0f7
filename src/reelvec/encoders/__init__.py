"""Encoders: per-modality features (MiniLM text, MobileNetV2 posters) and their cache.

Nothing here loads a model at import; encoders load weights on first `encode`. Encoders are
found by name in `ENCODERS` (name -> "module:class"), imported only when one is created, so the
registry has no import circle and `import reelvec.encoders` stays cheap.
"""
from __future__ import annotations

import importlib

from reelvec.encoders.base import Encoder, EncoderSpec, l2_normalise
from reelvec.encoders.cache import FeatureCache
from reelvec.errors import EncoderError

__all__ = ["ENCODERS", "TEXT_PROFILES", "Encoder", "EncoderSpec", "FeatureCache", "create", "l2_normalise"]

TEXT_PROFILES = {"minilm": "minilm", "fast": "static-minilm"}  # `--text-profile` -> encoder name

ENCODERS: dict[str, str] = {
    "minilm": "reelvec.encoders.text:TextEncoder",
    "static-minilm": "reelvec.encoders.static:StaticTextEncoder",  # the `fast` text profile
    "mobilenet_v2": "reelvec.encoders.image:ImageEncoder",
}


def create(spec: EncoderSpec | str) -> Encoder:
    """An encoder by name or `EncoderSpec`; raises EncoderError for an unknown name."""
    if isinstance(spec, str):
        spec = EncoderSpec(spec)
    try:
        module, cls = ENCODERS[spec.name].split(":")
    except KeyError as exc:
        raise EncoderError(f"unknown encoder {spec.name!r}; known: {', '.join(sorted(ENCODERS))}") from exc
    return getattr(importlib.import_module(module), cls)(spec)
