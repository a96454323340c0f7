"""The encoder contract: what an encoder is and how one is specified. The name -> class table
that `create` looks encoders up in lives in `reelvec.encoders`.

An encoder turns a batch of inputs of one modality into L2-normalised float32 rows. Its
`version` names everything that changes the numbers (model, weights hash, precision path,
preprocessing), so the feature cache can tell stale vectors from good ones.
"""
from __future__ import annotations

from collections.abc import Sequence
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
