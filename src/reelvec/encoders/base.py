"""The encoder contract: what an encoder is and how one is specified. The name -> class table
that `create` looks encoders up in lives in `reelvec.encoders`.

An encoder turns a batch of inputs of one modality into L2-normalised float32 rows. Its
`version` names everything that changes the numbers (model, weights hash, precision path,
preprocessing), so the feature cache can tell stale vectors from good ones.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable

import numpy as np


@dataclass(frozen=True)
class EncoderSpec:
    """How to build an encoder. `precision` picks the speed path ('auto' = the measured fastest
    path that stays within tolerance of fp32); `weights` overrides where weights come from."""

    name: str
    precision: str = "auto"
    batch_size: int = 32
    weights: str | None = None
    artifact_dir: str | None = None  # where exported artifacts (ONNX graphs) are kept
    threads: int | None = None
    max_tokens: int | None = None  # text: truncate descriptions here (None = the model's own maximum)
    light: bool = False  # query time: no torch import where an equivalent path exists (PIL preprocessing)
    device: str = "auto"  # "auto" (a GPU when torch sees one), "cpu" or "cuda"


DEVICES = ("auto", "cpu", "cuda")


def resolve_device(requested: str, cuda_available: Callable[[], bool]) -> str:
    """The device an encoder runs on: "cuda" for "auto" when `cuda_available()` (torch sees a
    GPU), else "cpu"; asking for "cuda" without one is an EncoderError naming the fix."""
    from reelvec.errors import EncoderError

    if requested not in DEVICES:
        raise EncoderError(f"unknown device {requested!r}; choose from {', '.join(DEVICES)}")
    if requested == "cpu":
        return "cpu"
    available = bool(cuda_available())
    if requested == "cuda" and not available:
        raise EncoderError("--device cuda: torch sees no GPU here (torch.cuda.is_available() is False); "
                           "use --device auto or cpu")
    return "cuda" if available else "cpu"


def torch_device(spec: EncoderSpec) -> str:
    """`resolve_device` of `spec` with torch's own answer (cpu when torch is absent)."""
    if spec.device == "cpu":
        return "cpu"
    try:
        import torch
    except ImportError:
        return resolve_device(spec.device, lambda: False)
    return resolve_device(spec.device, torch.cuda.is_available)


# Word pieces of a description a build encodes (MiniLM reads up to 256). Chosen by quality
# (`reelvec eval`, 3 seeds, bench/RESULTS.md): at 128 cold-start NDCG@10 and franchise recall stay
# within the 95% CIs of 256, and text encoding is 1.7x faster (issue 13).
BUILD_TEXT_TOKENS = 128


@runtime_checkable
class Encoder(Protocol):
    name: str
    modality: str
    dim: int

    @property
    def version(self) -> str: ...

    def encode(self, batch: Sequence[Any]) -> np.ndarray: ...


def file_sha256(path, chunk: int = 1 << 20) -> str:
    """sha256 of a weights file, read in chunks (part of an encoder's version)."""
    import hashlib

    h = hashlib.sha256()
    with open(path, "rb") as fh:
        while block := fh.read(chunk):
            h.update(block)
    return h.hexdigest()


def l2_normalise(x: np.ndarray) -> np.ndarray:
    x = np.asarray(x, dtype=np.float32)
    n = np.linalg.norm(x, axis=1, keepdims=True)
    return x / np.maximum(n, 1e-12)
