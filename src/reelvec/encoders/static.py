"""The `fast` text profile: a static embedding table distilled, on this machine, from the shipped
MiniLM (the method of model2vec: no data, no download), so that a description is the mean of
its word pieces' rows instead of a transformer pass.

Distillation (`distill`, needs torch; a build does it once, ~1 minute on 2 cores): every word
piece of MiniLM's vocabulary is run through MiniLM alone (``[CLS] piece [SEP]``) and mean-pooled
as MiniLM pools sentences; the 384-d rows are decorrelated with PCA (all 384 components kept,
so the fusion model's text input keeps its size) and weighted down by how common a piece is
(SIF weights under a Zipf law over the vocabulary order, 1e-4 / (1e-4 + p)). The table and
MiniLM's tokenizer are saved to the home's artifacts; encoding needs numpy and `tokenizers`
only (the serving install has both).

Measured on the demo (bench/RESULTS.md): 11k descriptions in about a second instead of ~170 s,
at the quality `reelvec eval` reports for features of this profile against MiniLM's.
"""
from __future__ import annotations

import json
import logging
import os
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reelvec.encoders.base import EncoderSpec, l2_normalise
from reelvec.errors import EncoderError

logger = logging.getLogger(__name__)

NAME = "static-minilm"
SIF = 1e-4  # model2vec's default SIF coefficient
PREPROCESS_VERSION = "desc1"  # the same descriptions as the MiniLM profile (`ingest.prep.build_description`)
DIM = 384


def distill(model_path: str, out: Path, batch: int = 512, progress: bool = False) -> Path:
    """Distil the static table of the sentence-transformers model at `model_path` into `out`
    (``table.npy`` float32 rows, ``tokenizer.json``, ``meta.json``); returns `out`."""
    import torch
    from sentence_transformers import SentenceTransformer
    from sklearn.decomposition import PCA
    from tqdm import tqdm

    model = SentenceTransformer(model_path, device="cpu")
    model.eval()
    tok = model.tokenizer
    vocab = tok.get_vocab()
    n = max(vocab.values()) + 1
    cls, sep = tok.cls_token_id, tok.sep_token_id
    rows = np.zeros((n, DIM), np.float32)
    transformer = model[0].auto_model
    with torch.inference_mode():
        for s in tqdm(range(0, n, batch), desc="distil", unit="batch", disable=not progress):
            ids = torch.tensor([[cls, i, sep] for i in range(s, min(n, s + batch))])
            out_h = transformer(input_ids=ids, attention_mask=torch.ones_like(ids)).last_hidden_state
            rows[s:s + len(ids)] = out_h.mean(dim=1).float().numpy()  # MiniLM's own pooling: the mean
    rows = PCA(n_components=DIM, random_state=0).fit_transform(rows).astype(np.float32)
    inv_rank = 1.0 / np.arange(2, n + 2)
    p = inv_rank / inv_rank.sum()
    rows *= (SIF / (SIF + p))[:, None].astype(np.float32)
    rows[[i for i in (tok.pad_token_id, cls, sep) if i is not None]] = 0.0
    tmp = out.with_name(f"{out.name}.{os.getpid()}.tmp")  # two builds distilling at once do not share it
    tmp.mkdir(parents=True, exist_ok=True)
    np.save(tmp / "table.npy", rows)
    tok.backend_tokenizer.save(str(tmp / "tokenizer.json"))
    from reelvec.fsutil import file_digest

    (tmp / "meta.json").write_text(json.dumps({"source": model_path, "dim": DIM, "sif": SIF, "vocab": n,
                                               "digest": file_digest(tmp / "table.npy")[:12]}))
    import shutil

    shutil.rmtree(out, ignore_errors=True)
    os.replace(tmp, out)
    return out


class StaticTextEncoder:
    """Text vectors from the distilled table: the mean of a description's word-piece rows
    (truncated like the MiniLM profile), L2-normalised float32, 384-d."""

    modality = "text"
    dim = DIM

    def __init__(self, spec: EncoderSpec = EncoderSpec(NAME)):
        self.spec = spec
        self.name = NAME
        self.precision = "static"
        self._table: np.ndarray | None = None
        self._tok = None
        self._meta: dict | None = None
        self._lock = threading.Lock()

    def _folder(self) -> Path:
        if not self.spec.artifact_dir:
            raise EncoderError("the fast text profile needs an artifact folder (the home's features/artifacts)")
        return Path(self.spec.artifact_dir) / NAME

    def _load(self) -> None:
        with self._lock:
            if self._table is not None:
                return
            folder = self._folder()
            if not (folder / "meta.json").exists():
                missing = EncoderError(f"no distilled text table in {folder}: build the home with "
                                       "`reelvec build --text-profile fast` (it distils one)")
                if self.spec.light:  # a reader writes nothing into the home
                    raise missing
                try:
                    import torch  # noqa: F401  distilling needs the build install
                except ImportError as exc:
                    raise missing from exc
                from reelvec.encoders.text import resolve_text_model

                logger.info("fast text profile: distilling MiniLM's static table into %s (once)", folder)
                distill(resolve_text_model(self.spec.weights), folder)
            from tokenizers import Tokenizer

            try:
                self._meta = json.loads((folder / "meta.json").read_text())
                table = np.load(folder / "table.npy")
                tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
            except (OSError, ValueError, Exception) as exc:  # tokenizers raises its own Exception type
                raise EncoderError(f"the distilled text table in {folder} is unreadable ({exc}); delete the "
                                   "folder and rerun the build to distil it again") from exc
            if table.shape[1] != DIM:
                raise EncoderError(f"{folder / 'table.npy'} has {table.shape[1]} columns, not {DIM}")
            tok.no_padding()
            tok.no_truncation()
            self._tok, self._table = tok, table

    @property
    def version(self) -> str:
        self._load()
        assert self._meta is not None
        return f"{NAME}:{self._meta['digest']}:max{self.spec.max_tokens or 0}:{PREPROCESS_VERSION}"

    def encode(self, batch: Sequence[str]) -> np.ndarray:
        if len(batch) == 0:
            return np.zeros((0, DIM), np.float32)
        self._load()
        assert self._tok is not None and self._table is not None
        limit = self.spec.max_tokens or None
        texts = [t if isinstance(t, str) and t.strip() else " " for t in batch]
        encs = self._tok.encode_batch(texts, add_special_tokens=False)
        ids = [e.ids[:limit] if limit else e.ids for e in encs]
        lens = np.fromiter((len(x) for x in ids), np.int64, len(ids))
        flat = np.fromiter((i for x in ids for i in x), np.int64, int(lens.sum()))
        out = np.zeros((len(ids), DIM), np.float32)
        nz = lens > 0
        if nz.any():  # each text's rows are one run of `flat`: summed run by run
            starts = np.concatenate([[0], np.cumsum(lens)[:-1]])
            out[nz] = np.add.reduceat(self._table[flat], starts[nz], axis=0)
        return l2_normalise(out / np.maximum(lens, 1)[:, None])
