"""`reelvec build --text-profile fast`: the build distils a static table from the shipped MiniLM
(no download), encodes descriptions with it, trains the fusion model on them and records the
profile; queries, text search and live edits then encode with the same table, without torch."""
import json
import subprocess
import sys

import pytest
from helpers_blocked import BLOCK_BUILD_EXTRA

import reelvec
from reelvec.app import BuildConfig
from reelvec.app import build as run_build

pytestmark = [pytest.mark.slow, pytest.mark.timeout(900)]  # distilling MiniLM's 30k word pieces: ~1 minute

NO_TORCH = BLOCK_BUILD_EXTRA + r"""
import reelvec
with reelvec.open(sys.argv[1]) as e:
    assert e.text_encoder.name == "static-minilm"
    print([h.tmdb_id for h in e.search_text("a heist comedy in paris", k=3)])
    assert e.upsert({"id": "x1", "title": "Void Stalker", "genres": ["Horror"],
                     "overview": "A space crew meets a deadly alien creature aboard their ship."}) == ["own:x1"]
assert not [m for m in sys.modules if m.split(".")[0] in BLOCKED]
print("ok")
"""


def test_a_fast_profile_home_encodes_with_its_distilled_table(tmp_path):
    from datagen import make_dataset

    data = make_dataset(tmp_path / "data")
    home = tmp_path / "home"
    rep = run_build(BuildConfig(data=data, home=home, progress=False, text_profile="fast"))
    assert rep.stages["encode"]["text_path"] == "static"
    manifest = json.loads((home / "manifest.json").read_text())
    assert manifest["text_encoder"] == "static-minilm"
    assert (home / manifest["encoders"] / "static-minilm" / "table.npy").exists()
    assert json.loads((home / "model" / "config.json").read_text())["text_version"].startswith("static-minilm:")
    with reelvec.open(home) as e:
        hits = [h.tmdb_id for h in e.search_text("a heist comedy in paris", k=3)]
        assert hits and e.similar("Alien", k=3)
    out = subprocess.run([sys.executable, "-c", NO_TORCH, str(home)], capture_output=True, text=True, cwd=tmp_path)
    assert out.returncode == 0 and out.stdout.strip().endswith("ok"), out.stderr[-2000:]
    assert json.loads(out.stdout.splitlines()[0]) == hits  # the same table with and without torch
    with pytest.raises(reelvec.ReelvecError, match="unknown text profile"):
        run_build(BuildConfig(data=data, home=tmp_path / "other", text_profile="turbo"))
