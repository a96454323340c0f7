"""MiniLM on ONNX Runtime: the same sentence vectors as sentence-transformers fp32 without torch
at query time, and faster on CPUs without native bf16 (BERT attention/GELU/LayerNorm fused).

The graph (token ids + mask -> mean-pooled hidden states) is exported once from the offline
weights, passed through onnxruntime's BERT fusion optimizer, and kept in the artifact folder
(``<home>/features/artifacts``) beside a copy of ``tokenizer.json``, so a serving install that
has neither torch nor the weights package can still encode query texts. Tokenisation is the
`tokenizers` library with the model's own tokenizer file, truncated at the model's max length.
"""
from __future__ import annotations

import logging
import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reelvec.errors import EncoderError
from reelvec.fsutil import atomic_path

logger = logging.getLogger(__name__)

GRAPH_VERSION = "g1"  # bump when the exported graph or its fusion changes


def artifact_paths(folder: Path, digest: str, max_len: int) -> tuple[Path, Path]:
    stem = f"minilm-{digest}-max{max_len}-{GRAPH_VERSION}"
    return folder / f"{stem}.onnx", folder / f"{stem}.tokenizer.json"


def export(model_path: str, onnx_path: Path, tokenizer_path: Path, hidden: int = 384, heads: int = 12) -> None:
    """Export MiniLM (+ mean pooling) to ONNX, fuse it for CPU, copy its tokenizer. Needs torch."""
    import warnings

    import torch
    from transformers import AutoModel

    class Pooled(torch.nn.Module):
        def __init__(self, m):
            super().__init__()
            self.m = m

        def forward(self, input_ids, attention_mask):
            h = self.m(input_ids=input_ids, attention_mask=attention_mask,
                       token_type_ids=torch.zeros_like(input_ids)).last_hidden_state
            mask = attention_mask.unsqueeze(-1).to(h.dtype)
            return (h * mask).sum(1) / mask.sum(1).clamp(min=1e-9)

    model = AutoModel.from_pretrained(model_path, attn_implementation="eager").eval()  # the pattern ORT fuses
    ids = torch.ones(2, 16, dtype=torch.long)
    onnx_path.parent.mkdir(parents=True, exist_ok=True)
    with atomic_path(onnx_path, fsync=False) as tmp, warnings.catch_warnings():
        warnings.simplefilter("ignore")
        raw = tmp.with_name(tmp.name + ".raw.onnx")
        with torch.inference_mode():
            torch.onnx.export(Pooled(model), (ids, torch.ones_like(ids)), str(raw),
                              input_names=["input_ids", "attention_mask"], output_names=["embedding"],
                              dynamic_axes={"input_ids": {0: "n", 1: "t"}, "attention_mask": {0: "n", 1: "t"},
                                            "embedding": {0: "n"}}, opset_version=17, dynamo=False)
        try:
            from onnxruntime.transformers import optimizer

            opt = optimizer.optimize_model(str(raw), model_type="bert", num_heads=heads, hidden_size=hidden,
                                           opt_level=1, use_gpu=False)
            opt.save_model_to_file(str(tmp))
        except Exception as exc:
            logger.warning("ONNX BERT fusion failed (%s); using the unfused graph", exc)
            shutil.copyfile(raw, tmp)
        finally:
            raw.unlink(missing_ok=True)
    with atomic_path(tokenizer_path, fsync=False) as tmp:
        shutil.copyfile(Path(model_path) / "tokenizer.json", tmp)


class OnnxText:
    """Runs the exported graph: texts -> mean-pooled (unnormalised) 384-d rows."""

    def __init__(self, onnx_path: Path, tokenizer_path: Path, max_len: int, threads: int | None = None):
        import onnxruntime as ort
        from tokenizers import Tokenizer

        try:
            self.tokenizer = Tokenizer.from_file(str(tokenizer_path))
            so = ort.SessionOptions()
            so.intra_op_num_threads = threads or 0
            so.inter_op_num_threads = 1
            so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
            self.session = ort.InferenceSession(str(onnx_path), so, providers=["CPUExecutionProvider"])
        except Exception as exc:
            onnx_path.unlink(missing_ok=True)
            raise EncoderError(f"text model {onnx_path} is unreadable ({exc}); it was removed: run again "
                               "(a build exports it anew)") from exc
        self.tokenizer.no_padding()
        self.set_max_len(max_len)

    def set_max_len(self, max_len: int) -> None:
        self.tokenizer.enable_truncation(max_len)
        self.max_len = max_len

    def token_lengths(self, texts: Sequence[str]) -> np.ndarray:
        return np.array([len(e.ids) for e in self.tokenizer.encode_batch(list(texts))])

    def __call__(self, texts: Sequence[str], batch_size: int = 32) -> np.ndarray:
        enc = self.tokenizer.encode_batch(list(texts))
        order = np.argsort(-np.array([len(e.ids) for e in enc]), kind="stable")
        out = np.zeros((len(texts), 384), np.float32)
        for s in range(0, len(order), batch_size):
            idx = order[s:s + batch_size]
            t = max(len(enc[i].ids) for i in idx)
            ids = np.zeros((len(idx), t), np.int64)
            mask = np.zeros((len(idx), t), np.int64)
            for r, i in enumerate(idx):
                n = len(enc[i].ids)
                ids[r, :n] = enc[i].ids
                mask[r, :n] = 1
            out[idx] = self.session.run(None, {"input_ids": ids, "attention_mask": mask})[0]
        return out


def load_or_export(model_path: str | None, folder: Path, digest: str, max_len: int,
                   threads: int | None = None) -> OnnxText:
    """The runner for these weights: from the artifact folder, exporting it first if needed
    (which needs torch and the weights; a serving install only loads)."""
    onnx_path, tok_path = artifact_paths(folder, digest, max_len)
    if not (onnx_path.exists() and tok_path.exists()):
        if model_path is None:
            raise EncoderError(f"no exported text model in {folder} and no weights to export one from; run "
                               "`reelvec build` with the build extra installed (pip install 'reelvec[build]')")
        try:
            export(model_path, onnx_path, tok_path)
        except ImportError as exc:
            raise EncoderError(f"exporting the text model needs torch and transformers ({exc}); install "
                               f"'reelvec[build]' or copy the artifacts of a build into {folder}") from exc
        logger.info("exported the text model to %s", onnx_path)
    return OnnxText(onnx_path, tok_path, max_len, threads)


def find_artifact(folder: Path) -> tuple[str, int] | None:
    """(digest, max_len) of an exported text model in `folder` (newest), for serving installs."""
    cands = sorted(folder.glob(f"minilm-*-max*-{GRAPH_VERSION}.onnx"), key=lambda p: p.stat().st_mtime)
    if not cands:
        return None
    _, digest, maxpart, _ = cands[-1].stem.split("-")
    return digest, int(maxpart.removeprefix("max"))


