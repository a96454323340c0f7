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
from reelvec.fsutil import atomic_path, atomic_write_json

CONFIG = "config.json"
WEIGHTS = "model.safetensors"


def save_checkpoint(folder: str | Path, state_dict: dict, meta: dict[str, Any]) -> Path:
    from safetensors.torch import save_file

    folder = Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    with atomic_path(folder / WEIGHTS) as tmp:
        save_file({k: v.contiguous() for k, v in state_dict.items()}, str(tmp))
    atomic_write_json(folder / CONFIG, meta)
    return folder


def load_checkpoint(folder: str | Path, what: str, fix: str) -> tuple[dict[str, Any], dict]:
    """(meta, state_dict) from `folder`; a missing or unreadable file is a FusionError naming
    the file and `fix` (the command that makes a new one)."""
    from safetensors.torch import load_file

    folder = Path(folder)
    try:
        meta = json.loads((folder / CONFIG).read_text())
        if not isinstance(meta, dict):
            raise ValueError(f"{CONFIG} holds a {type(meta).__name__}, not an object")
        state = load_file(str(folder / WEIGHTS))
    except FileNotFoundError as exc:
        raise FusionError(f"no {what} in {folder} ({Path(exc.filename).name} missing); {fix}") from exc
    except Exception as exc:
        raise FusionError(f"{what} in {folder} is unreadable ({exc}); {fix}") from exc
    return meta, state
