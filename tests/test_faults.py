"""A crafted fault corpus: every bad input ends as a quarantined row with file:line and reason
(or a clean merge), the run completes, `rows read = accepted + quarantined` still holds, and the
CLI never shows a traceback."""
import json
import subprocess
import sys

import pytest
from conftest import tmdb_row, write_tmdb

from reelvec.cli import main
from reelvec.ingest.catalog import Catalog, build_catalog, write_catalog
from reelvec.ingest.movielens import load_ratings


def catalog_of(data, tmp_path):
    cat, rep = build_catalog(data)
    q = write_catalog(cat, rep, tmp_path / "out" / "catalog.jsonl")
    assert all(s.reconciles for s in rep.sources)
    rejected = [json.loads(line) for line in q.read_text(encoding="utf-8").splitlines()]
    return Catalog.load(tmp_path / "out" / "catalog.jsonl"), rep, rejected


def reason_for(rejected, where_prefix):
    hits = [r for r in rejected if r["where"].startswith(where_prefix)]
    assert hits, f"nothing quarantined at {where_prefix}: {rejected}"
    return hits[0]["reason"]


BAD_TMDB = [
    (tmdb_row(901, "Long One", overview="x" * 200_000), "field overview is 200000 characters"),
    (tmdb_row(902, "String Genres") | {"genres": '"Action"'}, "broken JSON in column genres"),
    (tmdb_row(903, "Mixed Genres") | {"genres": '[null, 3, {"name": ["x"]}]'}, "broken JSON in column genres"),
    (tmdb_row(904, "Fractional Votes", vote_count="12.7"), "vote_count is not a whole number"),
    (tmdb_row(-3, "Negative Id"), "bad id"),
    (tmdb_row(905, "Negative Budget", budget="-5"), "negative budget"),
]


def test_tmdb_faults_are_quarantined_with_file_line_and_reason(tiny_data, tmp_path):
    path = tiny_data / "tmdb" / "tmdb_5000_movies.csv"
    rows = [tmdb_row(603, "The Matrix"), tmdb_row(348, "Alien"), *[r for r, _ in BAD_TMDB]]
    write_tmdb(path, rows)
    with open(path, "ab") as fh:  # one row with a byte that is not UTF-8
        fh.write(b'0,"[]",,906,"[]",en,Caf\xe9,"A plot.",1.0,"[]","[]",1999-01-01,0,90,"[]",Released,,Caf\xe9,5.0,10\r\n')
    cat, rep, rejected = catalog_of(tiny_data, tmp_path)
    tmdb = next(s for s in rep.sources if s.source == "tmdb")
    assert tmdb.rows_read == 9 and tmdb.accepted == 2 and tmdb.quarantined == 7
    for i, (_, reason) in enumerate(BAD_TMDB):
        assert reason in reason_for(rejected, f"tmdb_5000_movies.csv:{4 + i}")
    assert "invalid UTF-8" in reason_for(rejected, "tmdb_5000_movies.csv:10")
    assert "\\xe9" in next(r["raw"] for r in rejected if "UTF-8" in r["reason"])  # the byte, shown
    assert {m.tmdb_id for m in cat if m.tmdb_id in (603, 348)} == {603, 348}


def test_bom_and_missing_links_and_broken_files(tiny_data, tmp_path):
    path = tiny_data / "tmdb" / "tmdb_5000_movies.csv"
    path.write_bytes(b"\xef\xbb\xbf" + path.read_bytes())  # a UTF-8 BOM before the first column name
    ml = tiny_data / "movielens"
    (ml / "movies.csv").write_bytes(b"\xef\xbb\xbf" + (ml / "movies.csv").read_bytes()
                                    + b'7,Alien (1979),Horror|Sci-Fi\r\n')  # links.csv: no TMDB id for 7
    (ml / "links.csv").write_text((ml / "links.csv").read_text() + "7,0078748,\r\n")
    wiki = tiny_data / "wikipedia"
    (wiki / "folder.json").mkdir()
    (wiki / "deep.json").write_text("[" * 100_000 + "]" * 100_000)
    (wiki / "bad-entries.json").write_text(json.dumps([{"title": "Typed", "year": 1990, "genres": [None, 3]}]))
    cat, rep, rejected = catalog_of(tiny_data, tmp_path)
    assert cat.by_tmdb(603).budget == 1000  # the BOM did not eat the first column
    alien = [m for m in cat if m.title == "Alien"]
    assert len(alien) == 1 and alien[0].tmdb_id == 348 and alien[0].movielens_id == 7  # joined on title + year
    assert rep.merge.merged_movielens_by_title == 1
    assert "not a readable file" in reason_for(rejected, "folder.json")
    assert "nested too deep" in reason_for(rejected, "deep.json")
    assert "lists of names" in reason_for(rejected, "bad-entries.json[0]")


def test_ragged_ratings_line_is_skipped_and_counted(tmp_path):
    p = tmp_path / "ratings.csv"
    p.write_text("userId,movieId,rating,timestamp\n1,1,4.0,1\n2,1,3.0,1,EXTRA\n3,1,x,1\n4,2,5.0,1\n")
    df = load_ratings(p)
    assert list(df["userId"]) == [1, 4] and df.attrs["ragged_lines"] == [3] and df.attrs["rejected"] == 2


def test_cli_errors_are_one_line(tiny_data, capsys):
    assert main(["catalog", "--data", str(tiny_data), "--out", "/dev/null/x/catalog.jsonl", "--quiet"]) == 2
    err = capsys.readouterr().err
    assert err.startswith("reelvec catalog: error:") and "Traceback" not in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("argv", [["similar", "Alien", "--json"], ["search", "--image", "/dev/null"]])
def test_no_traceback_on_a_closed_pipe_or_an_empty_image(argv, tmp_path):
    from datagen import make_dataset

    from reelvec.app import BuildConfig, build
    data = make_dataset(tmp_path / "data")
    build(BuildConfig(data=data, home=tmp_path / "home", progress=False))
    cmd = f"{sys.executable} -m reelvec {' '.join(argv)} --store {tmp_path / 'home'} | head -c 1"
    out = subprocess.run(cmd, shell=True, capture_output=True, text=True)
    assert "Traceback" not in out.stderr, out.stderr


# ------------------------------------------------------------------------------- damaged stores
@pytest.fixture
def built(tmp_path):
    from datagen import make_dataset

    from reelvec.app import BuildConfig, build
    data = make_dataset(tmp_path / "data")
    cfg = BuildConfig(data=data, home=tmp_path / "home", progress=False)
    build(cfg)
    return cfg


def test_damaged_aliases_ledger_and_cache_are_named_and_rebuilt(built, caplog):
    import shutil

    import reelvec
    from reelvec.app import build
    from reelvec.errors import StoreError
    home = built.home
    aliases = home / "store" / "aliases.json"
    good = aliases.read_text()
    for bad in ('{"movies": "movies_', "[1, 2]"):
        aliases.write_text(bad)
        with pytest.raises(StoreError, match="aliases.json"):
            with reelvec.open(home) as e:
                e.similar("Alien")
        assert main(["similar", "Alien", "--store", str(home)]) == 2
    aliases.write_text(good)
    live = json.loads(good)["movies"]
    (home / "jobs" / f"{live}.json").write_text("{not json")
    (home / "features" / "index.sqlite").write_bytes(b"this is not a database" * 100)
    shutil.rmtree(home / "model" / "sequence")
    rep = build(built)
    assert rep.stages["index"]["swapped"]  # the unverified collection was indexed anew
    assert rep.stages["encode"]["text_computed"] == 16  # the unreadable cache index was set aside
    assert rep.stages["sequence"]["reused"] is False and (home / "model" / "sequence" / "config.json").exists()
    assert list((home / "features").glob("index.sqlite.corrupt-*"))
    assert "job ledger" in caplog.text and "unreadable" in caplog.text


def test_a_damaged_collection_or_copy_is_never_served_half(built):
    import shutil

    import reelvec
    from reelvec.app import build
    from reelvec.errors import StoreError
    home = built.home
    live = json.loads((home / "store" / "aliases.json").read_text())["movies"]
    shard = home / "store" / "collections" / live
    for part in ("segments", "wal"):  # the writer's shard loses its data (the WAL would replay it)
        for d in (shard / part).iterdir():
            shutil.rmtree(d) if d.is_dir() else d.unlink()
    with reelvec.open(home) as e:  # readers search the published copy: still whole
        assert e.store.count(live) == 16 and e.similar("Alien", k=3)
    rep = build(built)  # the writer notices and indexes a new, complete collection
    assert rep.stages["index"]["swapped"] and rep.stages["index"]["points"] == 16
    live = rep.stages["index"]["collection"]
    copy = home / "store" / "published" / live
    (copy / "payload.jsonl").write_bytes((copy / "payload.jsonl").read_bytes()[:-500])  # a truncated copy
    with pytest.raises(StoreError, match="damaged"):
        with reelvec.open(home) as e:
            e.similar("Alien")
    build(built)  # publishes it again
    with reelvec.open(home) as e:
        assert len(e.similar("Alien", k=3)) == 3
    ledger = home / "jobs" / f"{live}.json"  # the job verified more points than the collection holds
    ledger.write_text(ledger.read_text().replace('"total": 16', '"total": 17'))
    with pytest.raises(StoreError, match="holds 16 of the 17 points"):
        with reelvec.open(home) as e:
            e.similar("Alien")
