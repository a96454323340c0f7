"""Helpers for the bench scripts: where the data is, a timer."""
from __future__ import annotations

import os
import time
from contextlib import contextmanager
from pathlib import Path


def data_dir() -> Path:
    root = Path(os.environ.get("REELVEC_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
    if not (root / "tmdb").is_dir():
        raise SystemExit(f"data not found at {root}; set REELVEC_DATA")
    return root


@contextmanager
def timer(result: dict, key: str):
    t = time.perf_counter()
    yield
    result[key] = time.perf_counter() - t
