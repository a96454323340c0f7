"""Peak memory of a cold `reelvec build`, stage by stage.

    python bench/build_rss.py [--data ../shared/data] [--warm-speed-paths]

Runs `reelvec.app.build` in this process on an empty home (and, unless --warm-speed-paths, an
empty $REELVEC_CACHE, so the text speed-path micro-benchmark runs as on a fresh machine) while a
thread samples VmRSS every 50 ms. Prints the peak RSS of each stage, the process's VmHWM, and the
build's own stage timings. Goal (issue 13): peak <= 3 GiB.
"""
from __future__ import annotations

import argparse
import json
import os
import tempfile
import threading
import time
from pathlib import Path


def status_mb(field: str) -> float:
    """A memory line of /proc/self/status (VmRSS: now, VmHWM: the peak so far), in MB."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith(field + ":"):
                return int(line.split()[1]) / 1024
    return 0.0


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--data", default=os.environ.get("REELVEC_DATA", "../shared/data"))
    ap.add_argument("--warm-speed-paths", action="store_true")
    args = ap.parse_args()
    tmp = tempfile.mkdtemp()
    if not args.warm_speed_paths:
        os.environ["REELVEC_CACHE"] = str(Path(tmp) / "cache")

    import sys

    from reelvec.app import BuildConfig, build

    build_module = sys.modules["reelvec.app.build"]  # (reelvec.app.build is also the function's name)

    stage = {"name": "start"}
    peaks: dict[str, float] = {}
    stop = threading.Event()

    def sample():
        while not stop.is_set():
            r = status_mb("VmRSS")
            peaks[stage["name"]] = max(peaks.get(stage["name"], 0.0), r)
            time.sleep(0.05)

    Stage = build_module._Stage
    enter = Stage.__enter__

    def tracked(self):
        stage["name"] = self.name
        return enter(self)
    Stage.__enter__ = tracked
    t = threading.Thread(target=sample, daemon=True)
    t.start()
    t0 = time.perf_counter()
    rep = build(BuildConfig(data=Path(args.data), home=Path(tmp) / "home", progress=False))
    stop.set()
    t.join()
    print(json.dumps({"seconds": round(time.perf_counter() - t0, 1),
                      "peak_rss_mb_by_stage": {k: round(v) for k, v in peaks.items()},
                      "vmhwm_mb": round(status_mb("VmHWM")), "stages": rep.stages}, indent=1, default=str))


if __name__ == "__main__":
    main()
