"""Any subset of the sources builds: TMDB alone (the seed's own data), or without Wikipedia;
absent sources are reported, not errors; without ratings training uses content positives and the
watch-history model is skipped (for_history falls back)."""
import shutil

import pytest
from datagen import make_dataset

import reelvec
from reelvec.app import BuildConfig, build
from reelvec.cli import main
from reelvec.errors import IngestError
from reelvec.ingest.catalog import build_catalog


def test_tmdb_and_posters_only(tmp_path, capsys):
    data = make_dataset(tmp_path / "data")
    shutil.rmtree(data / "movielens")
    shutil.rmtree(data / "wikipedia")
    cat, rep = build_catalog(data)
    assert rep.absent == ["movielens", "wikipedia"] and len(cat) == 16
    assert main(["catalog", "--data", str(data), "--out", str(tmp_path / "c.jsonl")]) == 0
    assert "absent" in capsys.readouterr().out
    r = build(BuildConfig(data=data, home=tmp_path / "home", progress=False, gate=True))
    assert r.stages["index"]["points"] == 16 and r.stages["index"]["swapped"]
    assert "skipped" in r.stages["sequence"] and "gate_ndcg@10" not in r.stages["train"]
    with reelvec.open(tmp_path / "home") as e:
        assert len(e.similar("Alien", k=3)) == 3
        assert "recency-weighted" in e.for_history(["Alien", "Aliens", "Predator"], k=2)[0].explanation.note


def test_without_wikipedia_and_links(tmp_path):
    data = make_dataset(tmp_path / "data")
    shutil.rmtree(data / "wikipedia")
    (data / "movielens" / "links.csv").unlink()
    cat, rep = build_catalog(data)
    assert rep.absent == ["wikipedia"]
    assert {m.movielens_id for m in cat if m.tmdb_id == 348} == {1}  # joined on title + year instead of links


def test_no_source_at_all_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(IngestError, match="no source"):
        build_catalog(tmp_path / "empty")
