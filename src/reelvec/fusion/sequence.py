"""Watch-history recommendations: a small sequence model over the fused embeddings.

It reads the fused vectors of what a user liked, oldest first, and predicts the embedding of
the next liked movie; retrieval is then an ordinary Qdrant query. Trained on MovieLens ratings
ordered by timestamp (rating >= 4 = liked) with a full softmax over the catalogue's fused
vectors (11k classes is cheap, so no sampling is needed). GRU and a 1-layer transformer are
both offered; `train_sequence` picks by validation recall.
"""
from __future__ import annotations

import logging
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
from torch import nn

from reelvec.errors import FusionError
from reelvec.fusion.checkpoint import load_checkpoint, save_checkpoint

MAX_LEN = 15
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class SequenceConfig:
    kind: str = "gru"  # gru | transformer
    hidden: int = 256
    dropout: float = 0.1
    lr: float = 3e-3
    epochs: int = 4
    batch_size: int = 512
    temperature: float = 0.05
    max_len: int = MAX_LEN
    seed: int = 0


class NextItemModel(nn.Module):
    def __init__(self, dim: int, config: SequenceConfig):
        super().__init__()
        self.config, self.dim = config, dim
        self.inp = nn.Linear(dim + 1, config.hidden)
        if config.kind == "gru":
            self.seq = nn.GRU(config.hidden, config.hidden, batch_first=True)
        elif config.kind == "transformer":
            layer = nn.TransformerEncoderLayer(config.hidden, nhead=4, dim_feedforward=config.hidden * 2,
                                               dropout=config.dropout, batch_first=True)
            self.seq = nn.TransformerEncoder(layer, num_layers=1, enable_nested_tensor=False)
            self.pos = nn.Parameter(torch.zeros(config.max_len, config.hidden))
        else:
            raise FusionError(f"unknown sequence model {config.kind!r}; use gru or transformer")
        self.drop = nn.Dropout(config.dropout)
        self.out = nn.Linear(config.hidden + dim, dim)

    def forward(self, hist: torch.Tensor, ratings: torch.Tensor, lengths: torch.Tensor) -> torch.Tensor:
        """hist (B, L, D) left-aligned, ratings (B, L) scaled 0..1, lengths (B,) >= 1 -> (B, D) unit vectors."""
        x = torch.relu(self.inp(torch.cat([hist, ratings.unsqueeze(-1)], -1)))
        B, L, _ = x.shape
        if self.config.kind == "gru":
            packed = nn.utils.rnn.pack_padded_sequence(x, lengths.clamp(min=1).cpu(), batch_first=True,
                                                       enforce_sorted=False)
            _, h = self.seq(packed)
            state = h[-1]
        else:
            mask = torch.arange(L)[None, :] >= lengths[:, None]
            y = self.seq(x + self.pos[:L], src_key_padding_mask=mask)
            state = y[torch.arange(B), (lengths - 1).clamp(min=0)]
        mean = (hist * (~(torch.arange(L)[None, :] >= lengths[:, None])).unsqueeze(-1)).sum(1) / lengths.clamp(min=1)[:, None]
        return nn.functional.normalize(self.out(torch.cat([self.drop(state), mean], -1)) + mean, dim=1)


def user_sequences(ratings, row_of_tmdb: dict[int, int], min_rating: float = 4.0) -> dict[int, list[tuple[int, float]]]:
    """userId -> [(catalogue row, rating)] of liked movies, oldest first."""
    r = ratings[ratings["rating"] >= min_rating].copy()
    r["row"] = r["tmdb_id"].map(row_of_tmdb)
    r = r[r["row"].notna()].sort_values(["userId", "timestamp", "row"], kind="stable")
    out: dict[int, list[tuple[int, float]]] = {}
    for uid, g in r.groupby("userId", sort=True):
        seq = list(zip(g["row"].astype(int).tolist(), g["rating"].astype(float).tolist()))
        if seq:
            out[int(uid)] = seq
    return out


def _batch(E: np.ndarray, histories: list[list[tuple[int, float]]], max_len: int):
    B = len(histories)
    D = E.shape[1]
    hist = np.zeros((B, max_len, D), np.float32)
    rat = np.zeros((B, max_len), np.float32)
    lengths = np.zeros(B, np.int64)
    for i, h in enumerate(histories):
        h = h[-max_len:]
        lengths[i] = len(h)
        if h:
            rows = [r for r, _ in h]
            hist[i, : len(h)] = E[rows]
            rat[i, : len(h)] = [(x - 0.5) / 4.5 for _, x in h]
    return torch.from_numpy(hist), torch.from_numpy(rat), torch.from_numpy(lengths)


def examples(seqs: dict[int, list[tuple[int, float]]], hold_last: int = 1, min_hist: int = 1):
    """Training pairs (history prefix, next item) from every user's sequence minus the held-out tail."""
    out = []
    for s in seqs.values():
        train = s[: len(s) - hold_last] if hold_last else s
        for t in range(min_hist, len(train)):
            out.append((train[max(0, t - MAX_LEN):t], train[t][0]))
    return out


@dataclass
class SequenceModel:
    model: NextItemModel
    fusion_version: str
    metrics: dict = field(default_factory=dict)

    def predict(self, E: np.ndarray, history: list[tuple[int, float]]) -> np.ndarray:
        return self.predict_vectors(E[[r for r, _ in history]], [x for _, x in history])

    def predict_vectors(self, vectors: np.ndarray, ratings: list[float]) -> np.ndarray:
        self.model.eval()
        L = self.model.config.max_len
        v, r = vectors[-L:], list(ratings)[-L:]
        hist = torch.zeros(1, L, self.model.dim)
        hist[0, : len(v)] = torch.from_numpy(np.asarray(v, np.float32))
        rat = torch.zeros(1, L)
        rat[0, : len(r)] = torch.tensor([(x - 0.5) / 4.5 for x in r])
        with torch.inference_mode():
            return self.model(hist, rat, torch.tensor([len(v)]))[0].numpy()

    def save(self, folder: str | Path) -> None:
        save_checkpoint(folder, self.model.state_dict(), {
            "config": asdict(self.model.config), "dim": self.model.dim, "fusion_version": self.fusion_version,
            "metrics": self.metrics})

    @classmethod
    def load(cls, folder: str | Path, fusion_version: str | None = None) -> SequenceModel:
        meta, state = load_checkpoint(folder, "sequence model", "`reelvec build` trains one")
        if fusion_version and meta.get("fusion_version") != fusion_version:
            raise FusionError(f"sequence model in {folder} was trained on {meta.get('fusion_version')}, the index uses "
                              f"{fusion_version}; rebuild with `reelvec build`")
        try:
            m = NextItemModel(meta["dim"], SequenceConfig(**meta["config"]))
            m.load_state_dict(state)
        except (KeyError, TypeError, RuntimeError) as exc:
            raise FusionError(f"sequence model in {folder} does not match its config ({exc}); "
                              "`reelvec build` trains a new one") from exc
        m.eval()
        return cls(m, meta["fusion_version"], meta.get("metrics", {}))


def fit_sequence(E: np.ndarray, pairs, config: SequenceConfig) -> NextItemModel:
    torch.manual_seed(config.seed)
    rng = np.random.default_rng(config.seed)
    model = NextItemModel(E.shape[1], config)
    opt = torch.optim.AdamW(model.parameters(), lr=config.lr, weight_decay=1e-4)
    Et = torch.from_numpy(E.astype(np.float32))
    for epoch in range(config.epochs):
        model.train()
        order = rng.permutation(len(pairs))
        losses = []
        for s in range(0, len(order), config.batch_size):
            idx = order[s:s + config.batch_size]
            hist, rat, lengths = _batch(E, [pairs[i][0] for i in idx], config.max_len)
            target = torch.tensor([pairs[i][1] for i in idx])
            pred = model(hist, rat, lengths)
            loss = nn.functional.cross_entropy(pred @ Et.T / config.temperature, target)
            opt.zero_grad()
            loss.backward()
            opt.step()
            losses.append(float(loss.detach()))
        logger.info("sequence %s epoch %d/%d loss %.3f", config.kind, epoch + 1, config.epochs, np.mean(losses))
    model.eval()
    return model


def rank_eval(score_rows, users, seqs):
    """Leave-last-out: per user, the last liked movie is the target; rank the whole catalogue
    minus everything in the user's history. score_rows(user) -> scores over the catalogue."""
    from reelvec.fusion import metrics as M

    out = {"R@10": [], "R@20": [], "NDCG@10": []}
    for u in users:
        s = seqs[u]
        hist, target = s[:-1], s[-1][0]
        scores = np.asarray(score_rows(u, hist), np.float64).copy()
        scores[[r for r, _ in hist]] = -np.inf
        top = np.argpartition(-scores, 20)[:20] if len(scores) > 20 else np.arange(len(scores))
        top = top[np.argsort(-scores[top])].tolist()  # a catalogue under 21 movies ranks all of them
        out["R@10"].append(M.recall_at_k(top, {target}, 10))
        out["R@20"].append(M.recall_at_k(top, {target}, 20))
        out["NDCG@10"].append(M.ndcg_at_k(top, {target}, 10))
    return out


def train_sequence(E: np.ndarray, seqs: dict, kinds=("gru",),
                   base: SequenceConfig = SequenceConfig(), hold_last: int = 1) -> tuple[NextItemModel, dict]:
    """Pick the architecture on a validation split (second-to-last item), then train on all but
    each user's last item. Returns the model and the validation numbers. Builds train the GRU
    only: it beat the transformer on validation here (R@20 0.149 vs 0.126); `reelvec eval-history`
    measures both again."""
    import dataclasses

    if len(kinds) == 1:
        t0 = time.perf_counter()
        model = fit_sequence(E, examples(seqs, hold_last=hold_last), dataclasses.replace(base, kind=kinds[0]))
        return model, {"validation_R@20": {}, "chosen": kinds[0], "seconds": round(time.perf_counter() - t0, 1)}
    val_users = [u for u, s in seqs.items() if len(s) >= 3]
    val_seqs = {u: s[:-1] for u, s in seqs.items()}  # drop the test item; its last is the validation target
    pairs_val = examples(val_seqs, hold_last=1)
    results = {}
    best, best_r = None, -1.0
    t0 = time.perf_counter()
    for kind in kinds:
        cfg = dataclasses.replace(base, kind=kind)
        m = fit_sequence(E, pairs_val, cfg)
        sm = SequenceModel(m, "")
        r = rank_eval(lambda u, h: E @ sm.predict(E, h), val_users, val_seqs)
        results[kind] = float(np.mean(r["R@20"]))
        logger.info("sequence model %s: validation R@20 %.4f", kind, results[kind])
        if results[kind] > best_r:
            best, best_r = kind, results[kind]
    model = fit_sequence(E, examples(seqs, hold_last=1), dataclasses.replace(base, kind=best))
    return model, {"validation_R@20": results, "chosen": best, "seconds": round(time.perf_counter() - t0, 1)}
