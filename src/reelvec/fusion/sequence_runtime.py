"""The watch-history model's forward pass in numpy: `for_history` / `reelvec next` in a serving
install (no torch) and without torch's import cost (4-5 s cold) elsewhere. Same weights file as
`fusion.sequence.NextItemModel`, same vectors (checked against the torch model by the tests);
inference only. The GRU kind only: a transformer model needs torch (`SequenceModel`)."""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from reelvec.errors import FusionError
from reelvec.fusion.checkpoint import CONFIG, WEIGHTS, check_finite, check_weights

FIX = "`reelvec build` trains a new one"
NEEDS = ("inp.weight", "inp.bias", "seq.weight_ih_l0", "seq.weight_hh_l0", "seq.bias_ih_l0", "seq.bias_hh_l0",
         "out.weight", "out.bias")


def _sigmoid(x: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-x))


@dataclass(frozen=True)
class SequenceRuntime:
    state: dict[str, np.ndarray]
    max_len: int
    fusion_version: str

    @classmethod
    def load(cls, folder: str | Path, fusion_version: str | None = None) -> SequenceRuntime:
        """A saved GRU history model. FusionError: missing, damaged, another kind, or trained on
        another fusion model than `fusion_version`."""
        from safetensors.numpy import load_file

        folder = Path(folder)
        try:
            meta = json.loads((folder / CONFIG).read_text())
            check_weights(folder, meta, "sequence model", FIX)
            kind = meta.get("config", {}).get("kind", "gru")
            if kind != "gru":
                raise FusionError(f"sequence model in {folder} is a {kind}; its numpy runtime runs GRUs only "
                                  "(install torch for it)")
            if fusion_version and meta.get("fusion_version") != fusion_version:
                raise FusionError(f"sequence model in {folder} was trained on {meta.get('fusion_version')}, the index "
                                  f"uses {fusion_version}; rebuild with `reelvec build`")
            state = {k: np.asarray(v, np.float32) for k, v in load_file(str(folder / WEIGHTS)).items()}
            check_finite(state, folder, "sequence model", FIX)
            missing = [k for k in NEEDS if k not in state]
            if missing:
                raise FusionError(f"sequence model in {folder} is damaged ({WEIGHTS} lacks {', '.join(missing[:3])}); "
                                  f"{FIX}")
            return cls(state, int(meta["config"].get("max_len", 15)), meta["fusion_version"])
        except FusionError:
            raise
        except FileNotFoundError as exc:
            raise FusionError(f"no sequence model in {folder} ({Path(exc.filename or WEIGHTS).name} missing); "
                              f"{FIX}") from exc
        except (OSError, ValueError, KeyError, TypeError) as exc:
            raise FusionError(f"sequence model in {folder} is unreadable ({exc}); {FIX}") from exc

    def predict_vectors(self, vectors: np.ndarray, ratings: list[float]) -> np.ndarray:
        """The predicted next film's unit vector after a history (oldest first) of fused vectors
        with ratings 0.5-5; the last `max_len` items count."""
        s = self.state
        v = np.asarray(vectors, np.float32)[-self.max_len:]
        r = (np.asarray(list(ratings)[-self.max_len:], np.float32) - 0.5) / 4.5
        x = np.maximum(np.concatenate([v, r[:, None]], 1) @ s["inp.weight"].T + s["inp.bias"], 0.0)
        gi = x @ s["seq.weight_ih_l0"].T + s["seq.bias_ih_l0"]  # (L, 3H): reset, update, new (torch's order)
        w_hh, b_hh = s["seq.weight_hh_l0"], s["seq.bias_hh_l0"]
        h = np.zeros(w_hh.shape[1], np.float32)
        for t in range(len(v)):
            gh = w_hh @ h + b_hh
            i_r, i_z, i_n = np.split(gi[t], 3)
            h_r, h_z, h_n = np.split(gh, 3)
            reset, update = _sigmoid(i_r + h_r), _sigmoid(i_z + h_z)
            h = (1.0 - update) * np.tanh(i_n + reset * h_n) + update * h
        mean = v.mean(0)
        out = np.concatenate([h, mean]) @ s["out.weight"].T + s["out.bias"] + mean
        return (out / max(float(np.linalg.norm(out)), 1e-12)).astype(np.float32)
