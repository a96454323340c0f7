"""The fusion model's forward pass in numpy: what a live edit needs to embed a new movie in a
serving install (no torch). Same weights file as `FusionModel`, same vectors (checked against
the torch model to 1e-5 by the tests); inference only (dropout is off, as in `model.eval()`)."""
from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reelvec.errors import FusionError
from reelvec.fusion.checkpoint import CONFIG, WEIGHTS, check_finite, check_weights
from reelvec.fusion.features import StructuredSpec, structured_matrix, tag_matrix

MODALITIES = ("text", "image", "struct", "tags")  # the order RecommenderSystem concatenates them in


def _relu_linear(x: np.ndarray, w: np.ndarray, b: np.ndarray) -> np.ndarray:
    return np.maximum(x @ w.T + b, 0.0)


@dataclass(frozen=True)
class FusionRuntime:
    """A saved fusion model, ready to embed movies with numpy."""

    state: dict[str, np.ndarray]
    spec: StructuredSpec
    use: tuple[str, ...]
    version: str
    text_version: str
    image_version: str

    @classmethod
    def load(cls, folder: str | Path) -> FusionRuntime:
        from safetensors.numpy import load_file

        folder = Path(folder)
        try:
            meta = json.loads((folder / CONFIG).read_text())
            fix = "run `reelvec build --retrain` to train it again"
            check_weights(folder, meta, "fusion model", fix)
            state = {k: np.asarray(v, np.float32) for k, v in load_file(str(folder / WEIGHTS)).items()}
            check_finite(state, folder, "fusion model", fix)
            need = {f"{a}.{m}.0.{b}" for a in ("proj",) for m in ("text", "image", "struct") for b in ("weight", "bias")}
            need |= {"tag_emb.weight", "fusion.0.weight", "fusion.0.bias", "fusion.3.weight", "fusion.3.bias"}
            need |= {f"placeholder.{m}" for m in MODALITIES}
            missing = sorted(need - set(state))
            if missing:
                raise FusionError(f"fusion model in {folder} is damaged ({WEIGHTS} lacks {', '.join(missing[:3])}); "
                                  f"{fix}")
            return cls(state, StructuredSpec.from_dict(meta["spec"]), tuple(meta["config"].get("use", MODALITIES)),
                       meta["version"], meta["text_version"], meta["image_version"])
        except FusionError:
            raise
        except FileNotFoundError as exc:
            raise FusionError(f"no fusion model in {folder} ({Path(exc.filename).name} missing); run "
                              "`reelvec build` first") from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FusionError(f"fusion model in {folder} is unreadable ({exc}); run `reelvec build --retrain`") from exc

    def embed(self, text: np.ndarray, image: np.ndarray, has_image: np.ndarray, struct: np.ndarray,
              tags: np.ndarray) -> np.ndarray:
        """(N, out_dim) unit rows, as `RecommenderSystem.forward` in eval mode."""
        s = self.state
        has_image = np.asarray(has_image, bool)
        image = np.where(has_image[:, None], np.nan_to_num(np.asarray(image, np.float32), nan=0.0), 0.0)
        emb = {m: _relu_linear(np.asarray(x, np.float32), s[f"proj.{m}.0.weight"], s[f"proj.{m}.0.bias"])
               for m, x in (("text", text), ("image", image), ("struct", struct))}
        pad = s["tag_emb.weight"].shape[0] - 1
        mask = (tags != pad).astype(np.float32)
        emb["tags"] = (s["tag_emb.weight"][tags] * mask[..., None]).sum(1) / np.maximum(mask.sum(1, keepdims=True), 1)
        present = {"text": None, "image": has_image, "struct": None, "tags": mask.sum(1) > 0}
        for m in MODALITIES:
            keep = present[m] if m in self.use else np.zeros(len(text), bool)
            if keep is not None:
                emb[m] = np.where(keep[:, None], emb[m], s[f"placeholder.{m}"][None, :])
        h = _relu_linear(np.concatenate([emb[m] for m in MODALITIES], axis=1), s["fusion.0.weight"], s["fusion.0.bias"])
        z = h @ s["fusion.3.weight"].T + s["fusion.3.bias"]
        return (z / np.maximum(np.linalg.norm(z, axis=1, keepdims=True), 1e-12)).astype(np.float32)

    def embed_movies(self, movies: Sequence, text: np.ndarray, image: np.ndarray, has_image: np.ndarray) -> np.ndarray:
        """The fused vectors of `movies`, given their text and poster vectors (rows in the same order)."""
        return self.embed(text, image, has_image, structured_matrix(movies, self.spec), tag_matrix(movies, self.spec))
