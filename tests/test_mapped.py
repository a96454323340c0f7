"""A catalogue of one's own: a file with other column names, mapped with --map, alone or merged
with the built-in sources; bad rows quarantined with their row numbers."""
import csv
import json
import shutil

import pytest
from datagen import make_dataset

import reelvec
from reelvec.app import BuildConfig, build
from reelvec.cli import main
from reelvec.errors import IngestError
from reelvec.ingest.catalog import build_catalog
from reelvec.ingest.mapped import parse_map, read_mapped

MAP = "title=name,overview=plot,genres=tags,year=released,poster=image_url,id=sku,cast=stars,director=by"
ROWS = [
    {"sku": "A1", "name": "Space Truckers", "plot": "Truckers haul cargo across the galaxy and fight space pirates.",
     "tags": "Sci-Fi|Comedy|Space Western", "released": "1996", "stars": '["Dennis Hopper"]', "by": "Stuart Gordon"},
    {"sku": "A2", "name": "The Louvre Job", "plot": "A comic crew robs the Louvre in Paris during a heatwave.",
     "tags": '["Comedy", "Crime"]', "released": "2003-05-01", "stars": "Jean Reno, Audrey Tautou"},
    {"sku": "A3", "name": "", "plot": "No title at all.", "tags": "Drama", "released": "2001"},
    {"sku": "A4", "name": "Bad Year", "plot": "x", "tags": "Drama", "released": "-5"},
    {"sku": "A5", "name": "Alien", "plot": "In space no one can hear you scream; a crew meets a creature.",
     "tags": "Horror", "released": "1979"},  # the same film as the TMDB row: merged on title + year
    {"sku": "A6", "name": "Moon Crawlers", "plot": "Miners on the moon find a creature in the dark tunnels.",
     "tags": "Sci-Fi|Horror", "released": "2010"},
    {"sku": "A7", "name": "Desert Spice Wars", "plot": "A noble house fights for a desert planet's spice.",
     "tags": "Science Fiction|Adventure", "released": "2015"},
]


def write_csv(path, rows, sep=","):
    cols = ["sku", "name", "plot", "tags", "released", "image_url", "stars", "by"]
    with open(path, "w", newline="", encoding="utf-8") as fh:
        w = csv.DictWriter(fh, fieldnames=cols, delimiter=sep)
        w.writeheader()
        for r in rows:
            w.writerow({c: r.get(c, "") for c in cols})
    return path


def test_read_mapped_parses_lists_dates_and_quarantines(tmp_path):
    movies, rej, rep = read_mapped(write_csv(tmp_path / "shop.csv", ROWS + [ROWS[0]]), parse_map(MAP))
    by = {m.key: m for m in movies}
    st = by["shop:A1"]
    assert st.genres == ("Science Fiction", "Comedy", "Space Western") and st.cast == ("Dennis Hopper",)
    assert st.year == 1996 and st.director == "Stuart Gordon" and st.sources == ("mapped",)
    assert by["shop:A2"].year == 2003 and by["shop:A2"].cast == ("Jean Reno", "Audrey Tautou")
    assert rep.rows_read == 8 and rep.accepted == 6 and rep.duplicates_merged == 1
    assert {(r.where, r.reason) for r in rej} == {("shop.csv:4", "no title"), ("shop.csv:5", "negative year: '-5'")}
    assert rep.unknown_genres == {"Space Western": 1}


@pytest.mark.parametrize("suffix", ["tsv", "jsonl", "parquet"])
def test_other_formats(tmp_path, suffix):
    if suffix == "tsv":
        path = write_csv(tmp_path / "shop.tsv", ROWS[:2], sep="\t")
    elif suffix == "parquet":
        import pandas as pd

        path = tmp_path / "shop.parquet"
        pd.DataFrame(ROWS[:2]).to_parquet(path)
    else:
        path = tmp_path / "shop.jsonl"
        path.write_text("\n".join(json.dumps(r) for r in ROWS[:2]) + "\n")
    movies, rej, _ = read_mapped(path, parse_map(MAP.replace(",poster=image_url", "").replace(",director=by", "")))
    assert [m.title for m in movies] == ["Space Truckers", "The Louvre Job"] and not rej


def test_bad_maps_and_files_name_the_culprit(tmp_path):
    with pytest.raises(IngestError, match="unknown field 'synopsis'"):
        parse_map("title=name,synopsis=plot")
    with pytest.raises(IngestError, match="field=column pairs"):
        parse_map("title")
    path = write_csv(tmp_path / "shop.csv", ROWS[:1])
    with pytest.raises(IngestError, match="no column.*synopsis"):
        read_mapped(path, parse_map("title=name,overview=synopsis"))
    with pytest.raises(IngestError, match="must name the title column"):
        read_mapped(path, parse_map("overview=plot"))
    with pytest.raises(IngestError, match="unknown file type"):
        read_mapped(tmp_path / "shop.xlsx", parse_map("title=name"))
    with pytest.raises(IngestError, match="no such file"):
        read_mapped(tmp_path / "nope.csv", parse_map("title=name"))


def test_merged_with_the_built_in_sources(tmp_path):
    data = make_dataset(tmp_path / "data")
    cat, rep = build_catalog(data, mapped=[(write_csv(tmp_path / "shop.csv", ROWS), parse_map(MAP))])
    alien = next(m for m in cat if m.tmdb_id == 348)
    assert "mapped" in alien.sources and rep.merge.merged_mapped == 1
    assert alien.overview.startswith("In space")  # your own file wins where it says something
    assert len([m for m in cat if m.sources == ("mapped",)]) == 4  # 7 rows, 2 quarantined, 1 merged


def test_a_mapped_file_alone_builds_end_to_end(tmp_path, capsys):
    data = make_dataset(tmp_path / "data")  # its TMDB rows become "your catalogue", with other column names
    rows = [{"sku": f"T{i}", "name": m.title, "plot": m.overview or "", "tags": "|".join(m.genres),
             "released": str(m.year), "stars": json.dumps(list(m.cast))}
            for i, m in enumerate(build_catalog(data)[0]) if m.tmdb_id] + ROWS
    shutil.rmtree(data)
    src = write_csv(tmp_path / "shop.csv", rows)
    home = tmp_path / "home"
    code = main(["build", "--from", str(src), "--map", MAP, "--store", str(home), "--quiet", "--json"])
    out = capsys.readouterr().out
    assert code == 0, out
    stages = json.loads(out.splitlines()[-1])["stages"]
    # 2 rows quarantined; two ids of one file are two items even with one title and year
    assert stages["index"]["points"] == len(rows) - 2 and "skipped" in stages["sequence"]
    with reelvec.open(home) as e:
        hits = e.similar("Moon Crawlers", k=5)
        assert len(hits) == 5 and any("Science Fiction" in h.genres for h in hits)
        assert e.movie("Space Truckers")["genres"] == ["Science Fiction", "Comedy", "Space Western"]
    # a rerun reuses the catalogue; a changed --map rebuilds it
    r = build(BuildConfig(data=None, mapped=((src, parse_map(MAP)),), home=home, progress=False))
    assert r.stages["catalog"]["reused"]
    r = build(BuildConfig(data=None, mapped=((src, parse_map(MAP.replace(",director=by", ""))),), home=home,
                          progress=False))
    assert not r.stages["catalog"]["reused"]


def test_cli_pairs_from_and_map(tmp_path, capsys):
    src = write_csv(tmp_path / "shop.csv", ROWS)
    assert main(["catalog", "--from", str(src), "--out", str(tmp_path / "c.jsonl")]) == 2  # a usage error
    assert "must name the title column of shop.csv" in capsys.readouterr().err
    assert main(["catalog", "--from", str(src), "--from", str(src), "--map", "title=name", "--map", "title=name",
                 "--map", "title=name", "--out", str(tmp_path / "c.jsonl")]) == 2
    assert "one --map per file" in capsys.readouterr().err
    assert main(["catalog", "--from", str(src), "--map", MAP, "--out", str(tmp_path / "c.jsonl")]) == 0
    out = capsys.readouterr().out
    assert "Space Western (1)" in out and "mapped:shop.csv" in out
