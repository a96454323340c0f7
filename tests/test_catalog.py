import json

import pytest

from reelvec.cli import main
from reelvec.errors import IngestError
from reelvec.ingest.catalog import Catalog, build_catalog, write_catalog
from reelvec.ingest.merge import combine, merge_sources
from reelvec.ingest.movie import Movie


def test_merge_priority_and_conflicts():
    t = Movie(key="tmdb:1", title="Alien", tmdb_id=1, year=1979, genres=("Horror",), sources=("tmdb",),
              provenance=(("genres", "tmdb"), ("title", "tmdb"), ("year", "tmdb")))
    w = Movie(key="wiki:Alien", title="Alien", year=1980, genres=("Science Fiction",), cast=("S. Weaver",),
              sources=("wikipedia",), provenance=(("cast", "wikipedia"), ("genres", "wikipedia"), ("year", "wikipedia")))
    merged, report = merge_sources([t], [], [w])
    assert len(merged) == 1
    m = merged[0]
    assert m.year == 1979 and m.genres == ("Horror",) and m.cast == ("S. Weaver",)
    assert m.source_of("cast") == "wikipedia" and m.source_of("year") == "tmdb"
    assert m.sources == ("tmdb", "wikipedia")
    assert report.conflicts == {"year": 1, "genres": 1} and report.merged_wikipedia == 1


def test_lower_priority_base_loses_to_tmdb():
    ml = Movie(key="tmdb:1", title="A", tmdb_id=1, year=2001, sources=("movielens",), provenance=(("year", "movielens"),))
    t = Movie(key="tmdb:1", title="A", tmdb_id=1, year=2000, sources=("tmdb",), provenance=(("year", "tmdb"),))
    assert combine(ml, t).year == 2000


def test_wikipedia_join_needs_year_within_one():
    t = Movie(key="tmdb:1", title="Dune", tmdb_id=1, year=1984, sources=("tmdb",))
    w_far = Movie(key="wiki:Dune_2021", title="Dune", year=2021, sources=("wikipedia",))
    w_near = Movie(key="wiki:Dune_1984", title="Dune", year=1985, sources=("wikipedia",))
    merged, report = merge_sources([t], [], [w_far, w_near])
    assert sorted(m.key for m in merged) == ["tmdb:1", "wiki:Dune_2021"]
    assert report.merged_wikipedia == 1 and report.only == {"wikipedia": 1, }


def test_build_catalog_on_tiny_data(tiny_data, tmp_path):
    cat, report = build_catalog(tiny_data)
    matrix = cat.by_tmdb(603)
    assert matrix.movielens_id == 2571 and matrix.imdb_id == "tt0133093"
    assert matrix.cast == ("Keanu Reeves",)  # wikipedia 1998 joined with year ±1
    assert matrix.poster.endswith("603.jpg") and matrix.source_of("poster") == "posters"
    assert cat.by_tmdb(348).director == "Ridley Scott"
    assert cat.get("ml:5").title == "Only In Lens"
    assert cat.get("wiki:Star_Wars_(film)") is not None
    assert all(s.reconciles for s in report.sources)
    assert report.merge.merged_tmdb_movielens == 2 and report.merge.merged_wikipedia == 2
    out = tmp_path / "cat.jsonl"
    qpath = write_catalog(cat, report, out)
    again = Catalog.load(out)
    assert again.movies == cat.movies
    assert [json.loads(l)["reason"] for l in qpath.read_text().splitlines()] == ["bad year: None"]


def test_build_catalog_missing_parts(tmp_path):
    with pytest.raises(IngestError, match="does not exist"):
        build_catalog(tmp_path / "nope")
    (tmp_path / "d").mkdir()
    with pytest.raises(IngestError, match="no source"):  # any one source will do; none is an error
        build_catalog(tmp_path / "d")


def test_catalog_load_errors_name_the_line(tmp_path):
    p = tmp_path / "c.jsonl"
    p.write_text('{"key": "a", "title": "A"}\nnot json\n')
    with pytest.raises(IngestError, match=r"c.jsonl:2"):
        Catalog.load(p)
    with pytest.raises(IngestError, match="reelvec catalog"):
        Catalog.load(tmp_path / "missing.jsonl")


def test_cli_catalog_json_and_rerun_is_idempotent(tiny_data, tmp_path, capsys):
    out = tmp_path / "o" / "cat.jsonl"
    assert main(["catalog", "--data", str(tiny_data), "--out", str(out), "--json"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["merge"]["movies"] == 5 and first["quarantined"] == 1
    data1 = out.read_bytes()
    assert main(["catalog", "--data", str(tiny_data), "--out", str(out), "--json"]) == 0
    capsys.readouterr()
    assert out.read_bytes() == data1


def test_cli_table_output_and_errors(tiny_data, tmp_path, capsys):
    assert main(["catalog", "--data", str(tiny_data), "--out", str(tmp_path / "c.jsonl"), "--quiet"]) == 0
    text = capsys.readouterr().out
    assert "reconciles" in text and "merged Wikipedia" in text and "wikipedia: bad year" in text
    assert main(["catalog", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "c.jsonl")]) == 2
    assert "does not exist" in capsys.readouterr().err


def test_cli_help_lists_commands(capsys):
    with pytest.raises(SystemExit):
        main(["--help"])
    assert "catalog" in capsys.readouterr().out


def test_import_is_light():
    import subprocess
    import sys
    code = "import sys, reelvec; assert 'torch' not in sys.modules and 'pandas' not in sys.modules, sorted(sys.modules)"
    subprocess.run([sys.executable, "-c", code], check=True)


def test_train_config_from_eval_report(tmp_path):
    from reelvec.app import fusion_config
    from reelvec.errors import ReelvecError

    rep = tmp_path / "report.json"
    rep.write_text(json.dumps({"best_config": {"lr": 0.0005, "miner": "semi-hard", "out_dim": 128}}))
    cfg = fusion_config(rep, epochs=3, miner=None)
    assert (cfg.lr, cfg.miner, cfg.out_dim, cfg.epochs) == (0.0005, "semi-hard", 128, 3)
    (tmp_path / "bad.json").write_text("[1, 2]")
    with pytest.raises(ReelvecError, match="bad.json"):
        fusion_config(tmp_path / "bad.json")


def test_wikipedia_spelling_of_a_title_joins_as_an_alias():
    """An entry no title matched joins the film of its year that spells the title otherwise
    (Seven / Se7en), word for word and with a genre in common; its title becomes an alias. Films
    that share only some words (In America / Ciao America) or no genre stay apart."""
    def tm(i, title, year, genres):
        return Movie(key=f"tmdb:{i}", title=title, tmdb_id=i, year=year, genres=genres, sources=("tmdb",))

    def wk(title, year, genres):
        return Movie(key=f"wiki:{title}", title=title, year=year, genres=genres, sources=("wikipedia",))
    tmdb = [tm(1, "Se7en", 1995, ("Crime", "Thriller")), tm(2, "In America", 2002, ("Drama",)),
            tm(3, "Mouse Hunt", 1997, ("Comedy",)), tm(4, "Timecode", 2000, ("Drama",))]
    wiki = [wk("Seven", 1995, ("Crime",)), wk("Seven", 1979, ("Action",)), wk("Ciao America", 2002, ("Drama",)),
            wk("MouseHunt", 1997, ("Comedy",)), wk("Time Code", 2000, ("Horror",))]
    merged, report = merge_sources(tmdb, [], wiki)
    by_key = {m.key: m for m in merged}
    assert by_key["tmdb:1"].aliases == ("Seven",) and "wikipedia" in by_key["tmdb:1"].sources
    assert by_key["tmdb:3"].aliases == ("MouseHunt",)
    assert not by_key["tmdb:2"].aliases and "wiki:Ciao America" in by_key  # a different film
    assert not by_key["tmdb:4"].aliases  # no genre in common
    assert "wiki:Seven" in by_key and by_key["wiki:Seven"].year == 1979  # the 1979 film stays itself
    assert report.merged_wikipedia_by_spelling == 2
