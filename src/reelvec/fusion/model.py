"""`RecommenderSystem`: per-modality projections -> fusion MLP (Linear -> ReLU -> Dropout) ->
L2-normalised joint embedding.

Each modality has a learned placeholder. A missing poster uses it; so does modality dropout in
training, which is what makes query-time weights meaningful: weight w blends a modality's
projection with its placeholder (w=0 is exactly "this modality absent", as trained).
"""
from __future__ import annotations

from dataclasses import asdict, dataclass, fields

import torch
from torch import nn

MODALITIES = ("text", "image", "struct", "tags")


@dataclass(frozen=True)
class FusionConfig:
    text_dim: int = 384
    image_dim: int = 1280
    proj_dim: int = 256
    hidden: int = 512
    out_dim: int = 256
    dropout: float = 0.2
    modality_dropout: float = 0.15
    use: tuple[str, ...] = MODALITIES  # ablations switch inputs off here
    # training
    lr: float = 1e-3
    weight_decay: float = 1e-4
    margin: float = 0.2
    soft_margin: bool = False
    miner: str = "random"  # measured best here; batch-hard collapses, semi-hard trains but ranks worse
    epochs: int = 20
    batch_size: int = 128
    positives: str = "co-liked"  # co-liked | content | mixed (content positives hurt co-liked ranking here)
    content_weight: float = 0.2  # share of content positives in 'mixed'
    genre_balanced: bool = False
    # extra negatives per batch drawn from the whole catalogue in proportion to how often a movie is
    # someone's positive (to the power pop_alpha): famous films get pushed away from the anchors
    # that do not like them, instead of becoming everyone's neighbour (0 = in-batch negatives only)
    pop_negatives: int = 0
    pop_alpha: float = 0.75
    seed: int = 0

    def to_dict(self) -> dict:
        d = asdict(self)
        d["use"] = list(self.use)
        return d

    @classmethod
    def from_dict(cls, d: dict) -> FusionConfig:
        known = {f.name for f in fields(cls)}
        kw = {k: v for k, v in d.items() if k in known}
        if "use" in kw:
            kw["use"] = tuple(kw["use"])
        return cls(**kw)


@dataclass
class FusionInputs:
    """One batch of model inputs (tensors on CPU)."""

    text: torch.Tensor  # (N, 384)
    image: torch.Tensor  # (N, 1280), zeros where missing
    has_image: torch.Tensor  # (N,) bool
    struct: torch.Tensor  # (N, S)
    tags: torch.Tensor  # (N, T) int64, padded with n_tags

    def index(self, idx) -> FusionInputs:
        return FusionInputs(self.text[idx], self.image[idx], self.has_image[idx], self.struct[idx], self.tags[idx])

    def __len__(self) -> int:
        return len(self.text)


class RecommenderSystem(nn.Module):
    def __init__(self, config: FusionConfig, struct_dim: int, n_tags: int):
        super().__init__()
        c = self.config = config
        self.struct_dim, self.n_tags = struct_dim, n_tags
        p = c.proj_dim
        self.proj = nn.ModuleDict({
            "text": nn.Sequential(nn.Linear(c.text_dim, p), nn.ReLU()),
            "image": nn.Sequential(nn.Linear(c.image_dim, p), nn.ReLU()),
            "struct": nn.Sequential(nn.Linear(struct_dim, p), nn.ReLU()),
        })
        self.tag_emb = nn.Embedding(n_tags + 1, p, padding_idx=n_tags)
        self.placeholder = nn.ParameterDict({m: nn.Parameter(torch.zeros(p)) for m in MODALITIES})
        self.fusion = nn.Sequential(
            nn.Linear(p * len(MODALITIES), c.hidden), nn.ReLU(), nn.Dropout(c.dropout),
            nn.Linear(c.hidden, c.out_dim),
        )

    def modality_embeddings(self, x: FusionInputs) -> dict[str, torch.Tensor]:
        pad = self.n_tags
        mask = (x.tags != pad).float()
        tags = (self.tag_emb(x.tags) * mask.unsqueeze(-1)).sum(1) / mask.sum(1, keepdim=True).clamp(min=1)
        out = {"text": self.proj["text"](x.text), "image": self.proj["image"](x.image),
               "struct": self.proj["struct"](x.struct), "tags": tags}
        present = {"text": None, "image": x.has_image, "struct": None, "tags": mask.sum(1) > 0}
        for m in MODALITIES:
            keep = present[m]
            if m not in self.config.use:
                keep = torch.zeros(len(x), dtype=torch.bool)
            if keep is not None:
                out[m] = torch.where(keep.unsqueeze(1), out[m], self.placeholder[m].expand_as(out[m]))
        return out

    def forward(self, x: FusionInputs, weights: dict[str, float] | None = None) -> torch.Tensor:
        emb = self.modality_embeddings(x)
        if self.training and self.config.modality_dropout > 0:
            for m in MODALITIES:
                drop = torch.rand(len(x)) < self.config.modality_dropout
                emb[m] = torch.where(drop.unsqueeze(1), self.placeholder[m].expand_as(emb[m]), emb[m])
        if weights:
            for m, w in weights.items():
                if m not in emb:
                    raise ValueError(f"unknown modality {m!r}; known: {', '.join(MODALITIES)}")
                emb[m] = w * emb[m] + (1.0 - w) * self.placeholder[m]
        z = self.fusion(torch.cat([emb[m] for m in MODALITIES], dim=1))
        return nn.functional.normalize(z, dim=1)
