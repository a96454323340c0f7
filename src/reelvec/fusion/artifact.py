"""Saving and loading a trained fusion model: config JSON + safetensors weights + the encoder
versions and structured vocabularies it was trained with. Loading against other encoder
versions is an error, because the model's inputs would silently mean something else."""
from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from reelvec.errors import FusionError, SearchError
from reelvec.fusion.blend import MODES, blends_from
from reelvec.fusion.checkpoint import load_checkpoint, save_checkpoint
from reelvec.fusion.features import StructuredSpec, structured_matrix, tag_matrix
from reelvec.fusion.model import FusionConfig, RecommenderSystem

FORMAT = 1


@dataclass
class FusionModel:
    model: RecommenderSystem
    spec: StructuredSpec
    text_version: str
    image_version: str
    metrics: dict = field(default_factory=dict)
    blends: dict = field(default_factory=lambda: dict(MODES))  # `similar` presets saved with the model

    @property
    def config(self) -> FusionConfig:
        return self.model.config

    @property
    def version(self) -> str:
        import hashlib

        h = hashlib.sha256()
        for k, v in sorted(self.model.state_dict().items()):
            h.update(k.encode())
            h.update(v.detach().cpu().numpy().tobytes())
        return f"fusion-{h.hexdigest()[:12]}"

    def inputs(self, movies, features, rows=None):
        from reelvec.fusion.data import to_inputs

        idx = features.index()
        sel = [idx[m.key] for m in movies]
        return to_inputs(features.text[sel], features.image[sel], features.has_image[sel],
                         structured_matrix(movies, self.spec), tag_matrix(movies, self.spec))

    def embed(self, inputs, weights=None) -> np.ndarray:
        from reelvec.fusion.train import embed

        return embed(self.model, inputs, weights=weights)

    def check_encoders(self, text_version: str, image_version: str) -> None:
        if (text_version, image_version) != (self.text_version, self.image_version):
            raise FusionError(
                "fusion model was trained on encoder versions "
                f"text={self.text_version}, image={self.image_version} but the features are "
                f"text={text_version}, image={image_version}; retrain with `reelvec train` or re-encode")

    def save(self, folder: str | Path) -> Path:
        meta = {"format": FORMAT, "config": self.config.to_dict(), "spec": self.spec.to_dict(),
                "struct_dim": self.model.struct_dim, "n_tags": self.model.n_tags,
                "text_version": self.text_version, "image_version": self.image_version,
                "version": self.version, "metrics": self.metrics,
                # only presets chosen for this model (e.g. by `reelvec eval`): a built-in one is read
                # from the code that loads the model, so an upgrade's presets reach an old home
                "blends": {name: b.to_dict() for name, b in self.blends.items() if MODES.get(name) != b}}
        return save_checkpoint(folder, self.model.state_dict(), meta)

    @classmethod
    def load(cls, folder: str | Path, text_version: str | None = None, image_version: str | None = None) -> FusionModel:
        """The model saved in `folder`; with encoder versions given, a model trained on other
        encoders is a FusionError (its inputs would silently mean something else)."""
        meta, state = load_checkpoint(folder, "fusion model", "train one with `reelvec train` or `reelvec build`")
        if meta.get("format") != FORMAT:
            raise FusionError(f"fusion model in {folder} has format {meta.get('format')}, expected {FORMAT}")
        try:
            model = RecommenderSystem(FusionConfig.from_dict(meta["config"]), meta["struct_dim"], meta["n_tags"])
            model.load_state_dict(state)
            fm = cls(model, StructuredSpec.from_dict(meta["spec"]), meta["text_version"], meta["image_version"],
                     meta.get("metrics", {}), blends_from(meta))
        except (KeyError, TypeError, ValueError, RuntimeError, SearchError) as exc:
            raise FusionError(f"fusion model in {folder} does not match its config ({exc}); "
                              "retrain with `reelvec train` or `reelvec build`") from exc
        model.eval()
        if text_version is not None and image_version is not None:
            fm.check_encoders(text_version, image_version)
        return fm
