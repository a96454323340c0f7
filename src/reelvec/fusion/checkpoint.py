"""One way to save and load a trained model folder: ``config.json`` (metadata) beside
``model.safetensors`` (weights). The fusion model and the sequence model both use it.

Weights are written first and the config last, each atomically: a folder with a config always
has the weights that config describes (a crash in between leaves the previous config, which a
version check then rejects).
"""
from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from reelvec.errors import FusionError
from reelvec.fsutil import atomic_path, atomic_write_json, file_digest

CONFIG = "config.json"
WEIGHTS = "model.safetensors"


def save_checkpoint(folder: str | Path, state_dict: dict, meta: dict[str, Any]) -> Path:
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file({k: v.contiguous() for k, v in state_dict.items()}, str(tmp))
        digest = file_digest(tmp)
    atomic_write_json(folder / CONFIG, meta | {"weights_xxh3": digest})
    return folder


def check_weights(folder: Path, meta: dict, what: str, fix: str) -> None:
    """The weights file matches the checksum its config recorded (configs written before
    checksums have none: accepted). A mismatch is a FusionError naming the file and `fix`."""
    want = meta.get("weights_xxh3")
    if want is not None and file_digest(folder / WEIGHTS) != want:
        raise FusionError(f"{what} in {folder} is damaged ({WEIGHTS} does not match the checksum in {CONFIG}); {fix}")


def check_finite(state: dict, folder: Path, what: str, fix: str) -> None:
    """No NaN or inf weight (a damaged file would embed every movie as NaN)."""
    import numpy as np

    for k, v in state.items():
        if not np.isfinite(np.asarray(v, np.float32)).all():
            raise FusionError(f"{what} in {folder} is damaged (weight {k} is not finite); {fix}")


def load_checkpoint(folder: str | Path, what: str, fix: str) -> tuple[dict[str, Any], dict]:
    """(meta, state_dict) from `folder`; a missing or unreadable file is a FusionError naming
    the file and `fix` (the command that makes a new one)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        meta = json.loads((folder / CONFIG).read_text())
        if not isinstance(meta, dict):
            raise ValueError(f"{CONFIG} holds a {type(meta).__name__}, not an object")
        check_weights(folder, meta, what, fix)
        state = load_file(str(folder / WEIGHTS))
        check_finite({k: v.detach().float().numpy() for k, v in state.items()}, folder, what, fix)
    except FusionError:
        raise
    except FileNotFoundError as exc:
        raise FusionError(f"no {what} in {folder} ({Path(exc.filename).name} missing); {fix}") from exc
    except Exception as exc:
        raise FusionError(f"{what} in {folder} is unreadable ({exc}); {fix}") from exc
    return meta, state
