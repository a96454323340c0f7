"""Encoder speed: reelvec's default paths vs the obvious baselines, same inputs, same run.

    python bench/encoders.py [--n 512]

text:  reelvec TextEncoder (default precision, the build's token budget: --max-tokens, default
       BUILD_TEXT_TOKENS) vs SentenceTransformer.encode fp32 defaults (MiniLM's 256)
image: reelvec pipeline (thread-pool decode + ONNX Runtime) vs PIL decode + torchvision eager fp32
warm:  both vectors for every movie from a warm feature cache
rss:   peak RSS of a cold `encode_catalog` run on the same movies, in a fresh subprocess
"""
from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from common import data_dir


def pick_movies(n: int):
    from reelvec.ingest.catalog import build_catalog

    cat, _ = build_catalog(data_dir())
    with_poster = [m for m in cat if m.poster and not m.poster.startswith("http")]
    return with_poster[:n]


def bench_text(texts, max_tokens):
    import torch
    from sentence_transformers import SentenceTransformer

    from reelvec.encoders import create
    from reelvec.encoders.text import resolve_text_model

    st = SentenceTransformer(resolve_text_model(None), device="cpu")
    st.encode(texts[:8])
    t = time.perf_counter()
    ref = st.encode(texts, normalize_embeddings=True)
    base = time.perf_counter() - t
    from reelvec.encoders import EncoderSpec

    enc = create(EncoderSpec("minilm", max_tokens=max_tokens))
    enc.encode(texts[:8])
    t = time.perf_counter()
    ours = enc.encode(texts)
    fast = time.perf_counter() - t
    cos = (ref * ours).sum(1)
    return {"baseline_per_s": len(texts) / base, "reelvec_per_s": len(texts) / fast, "speedup": base / fast,
            "baseline_s": base, "reelvec_s": fast, "max_tokens": max_tokens, "precision": enc.precision,
            "cos_min": float(cos.min()), "cos_mean": float(cos.mean()),
            "threads": torch.get_num_threads()}


def bench_image(paths, artifact_dir):
    import torch
    from PIL import Image
    from torchvision.models import MobileNet_V2_Weights, mobilenet_v2

    from reelvec.encoders import EncoderSpec, create
    from reelvec.encoders.image import resolve_mobilenet_weights
    from reelvec.encoders.pipeline import encode_posters

    net = mobilenet_v2()
    net.load_state_dict(torch.load(resolve_mobilenet_weights(), weights_only=True))
    net.eval()
    tf = MobileNet_V2_Weights.IMAGENET1K_V1.transforms()

    def eager(batch_paths):
        x = torch.stack([tf(Image.open(p).convert("RGB")) for p in batch_paths])
        with torch.no_grad():
            return torch.nn.functional.adaptive_avg_pool2d(net.features(x), 1).flatten(1).numpy()

    eager(paths[:4])
    t = time.perf_counter()
    ref = np.concatenate([eager(paths[i:i + 32]) for i in range(0, len(paths), 32)])
    base = time.perf_counter() - t
    enc = create(EncoderSpec("mobilenet_v2", artifact_dir=artifact_dir))
    _ = enc.runner  # export/load outside the timed region, like the baseline's model load
    encode_posters(paths[:8], enc, None)
    t = time.perf_counter()
    ours, has, status, _ = encode_posters(paths, enc, None)
    fast = time.perf_counter() - t
    ref = ref / np.linalg.norm(ref, axis=1, keepdims=True)
    cos = (ref * ours).sum(1)
    return {"baseline_per_s": len(paths) / base, "reelvec_per_s": len(paths) / fast, "speedup": base / fast,
            "baseline_s": base, "reelvec_s": fast, "precision": enc.precision, "cos_min": float(cos.min()),
            "ok": int(has.sum())}


RSS_CHILD = """
import json, sys, time
from pathlib import Path
sys.path.insert(0, {bench!r})
from encoders import pick_movies
from reelvec.encoders import EncoderSpec, FeatureCache, create
from reelvec.encoders.pipeline import encode_catalog
movies = pick_movies({n})
def hwm():  # VmHWM, not ru_maxrss: ru_maxrss survives execve and would report the parent's peak
    for line in open("/proc/self/status"):
        if line.startswith("VmHWM:"):
            return int(line.split()[1])
before = hwm()
te, ie = create("minilm"), create(EncoderSpec("mobilenet_v2", artifact_dir={art!r}))
with FeatureCache({cache!r}) as c:
    t = time.perf_counter(); f = encode_catalog(movies, te, ie, c); cold = time.perf_counter() - t
    t = time.perf_counter(); f = encode_catalog(movies, te, ie, c); warm = time.perf_counter() - t
print(json.dumps({{"peak_rss_mb": hwm() / 1024,
                  "rss_before_encode_mb": before / 1024, "cold_s": cold, "warm_s": warm,
                  "warm_movies_per_s": len(movies) / warm, "stats": f.stats}}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    from reelvec.encoders.base import BUILD_TEXT_TOKENS

    ap.add_argument("--n", type=int, default=512)
    ap.add_argument("--max-tokens", type=int, default=BUILD_TEXT_TOKENS,
                    help="reelvec's text budget (default: the build's, %(default)s); 0 = MiniLM's 256")
    args = ap.parse_args()
    from reelvec.encoders.pipeline import poster_path
    from reelvec.ingest.prep import build_description

    movies = pick_movies(args.n)
    texts = [build_description(m) for m in movies]
    paths = [poster_path(m) for m in movies]
    with tempfile.TemporaryDirectory() as tmp:
        res = {"n": len(movies), "text": bench_text(texts, args.max_tokens or None), "image": bench_image(paths, tmp)}
        child = RSS_CHILD.format(bench=str(Path(__file__).resolve().parent), n=args.n, art=tmp, cache=tmp + "/cache")
        out = subprocess.run([sys.executable, "-c", child], capture_output=True, text=True, check=True).stdout
        res["cache"] = json.loads(out.strip().splitlines()[-1])
    t, i, c = res["text"], res["image"], res["cache"]
    print(f"text : baseline {t['baseline_per_s']:.1f}/s  reelvec {t['reelvec_per_s']:.1f}/s  "
          f"x{t['speedup']:.2f}  ({t['precision']}, cos min {t['cos_min']:.5f})")
    print(f"image: baseline {i['baseline_per_s']:.1f}/s  reelvec {i['reelvec_per_s']:.1f}/s  "
          f"x{i['speedup']:.2f}  ({i['precision']}, cos min {i['cos_min']:.5f})")
    print(f"warm cache: {c['warm_movies_per_s']:.0f} movies/s (both vectors); cold encode {c['cold_s']:.1f} s; "
          f"peak RSS {c['peak_rss_mb']:.0f} MB")
    naive, ours = t["baseline_s"] + i["baseline_s"], t["reelvec_s"] + i["reelvec_s"]
    print(f"cold encode of these {res['n']} movies (text + poster): naive estimate {naive:.1f} s, reelvec {ours:.1f} s, "
          f"x{naive / ours:.2f} (goal >= 2x on AVX2)")
    print(json.dumps(res))


if __name__ == "__main__":
    main()
