"""What this CPU can do fast, decided by measuring rather than by flags alone.

oneDNN reports bf16 "support" on any AVX-512 CPU, but without native bf16 instructions
(AVX512_BF16 / AMX_BF16) it emulates them: on a Xeon with AVX-512 but no bf16, MiniLM under
bf16 autocast ran 3x slower than fp32 (28 vs 89 texts/s). So a speed path is a *candidate* only
where the CPU has the native instructions, and among candidates `auto` takes the one a short
micro-benchmark on this machine measured fastest within tolerance. The choice is cached per CPU
model, torch version and thread count in ``$REELVEC_CACHE`` (default ``~/.cache/reelvec``).
"""
from __future__ import annotations

import json
import logging
import os
import platform
from collections.abc import Callable
from functools import lru_cache
from pathlib import Path

from reelvec.fsutil import atomic_write_json

logger = logging.getLogger(__name__)


@lru_cache(maxsize=1)
def cpu_flags() -> frozenset[str]:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("flags"):
                return frozenset(line.split(":", 1)[1].split())
    except OSError:
        pass
    return frozenset()


@lru_cache(maxsize=1)
def cpu_model() -> str:
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine() or "unknown CPU"


def native_bf16(flags: frozenset[str] | None = None) -> bool:
    """True where bf16 matmuls run on real instructions, not emulation."""
    flags = cpu_flags() if flags is None else flags
    return bool({"avx512_bf16", "amx_bf16"} & flags)


def cache_dir() -> Path:
    return Path(os.environ.get("REELVEC_CACHE") or Path.home() / ".cache" / "reelvec")


def pick_fastest(rates: dict[str, float], fidelity: dict[str, float], min_cosine: float, default: str) -> str:
    """The fastest path (items/s) whose minimum cosine to the reference reaches `min_cosine`."""
    ok = {p: r for p, r in rates.items() if fidelity.get(p, 0.0) >= min_cosine}
    return max(ok, key=ok.get) if ok else default  # type: ignore[arg-type]


def choose_path(kind: str, candidates: list[str], measure: Callable[[list[str]], tuple[dict, dict]],
                min_cosine: float, key_extra: str = "") -> str:
    """candidates[0] is the reference path. One candidate: no measurement. Otherwise the cached
    choice for this machine, or `measure(candidates)` -> (rates, fidelity), then cache it."""
    if len(candidates) == 1:
        return candidates[0]
    key = f"{kind}|{cpu_model()}|{os.cpu_count()}|{key_extra}|{','.join(candidates)}"
    path = cache_dir() / "speed-paths.json"
    try:
        cached = json.loads(path.read_text())
    except (OSError, ValueError):
        cached = {}
    if not isinstance(cached, dict):
        cached = {}
    if isinstance(cached.get(key), dict) and cached[key].get("choice") in candidates:
        return cached[key]["choice"]
    rates, fidelity = measure(candidates)
    choice = pick_fastest(rates, fidelity, min_cosine, candidates[0])
    logger.info("%s speed path on %s: %s (measured %s)", kind, cpu_model(), choice,
                ", ".join(f"{p} {r:.0f}/s cos {fidelity.get(p, 0):.4f}" for p, r in rates.items()))
    cached[key] = {"choice": choice, "rates": rates, "fidelity": fidelity}
    try:
        atomic_write_json(path, cached)
    except OSError as exc:  # a read-only home: measure again next time, still correct
        logger.debug("cannot cache the speed path in %s: %s", path, exc)
    return choice
