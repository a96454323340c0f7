"""Every CLI command run in-process on a small generated dataset, in the order a user runs them:
catalog -> fetch-posters -> encode -> train -> eval -> build -> eval-history -> snapshot ->
restore -> reindex (and its gate, refused for a really worse model) -> rollback; plus the
import graph the app layer promises."""
import ast
import json
import threading
from functools import partial
from http.server import SimpleHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path

import pytest
from datagen import make_dataset

from reelvec.cli import build_parser, main


@pytest.fixture(scope="module")
def work(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    return make_dataset(root / "data"), root / "home"


@pytest.fixture(scope="module")
def poster_server(work):
    """Serves the dataset's posters over HTTP on 127.0.0.1 (and nowhere else)."""
    data, _ = work
    handler = partial(SimpleHTTPRequestHandler, directory=str(data / "posters"))
    handler.log_message = lambda *a, **k: None
    srv = ThreadingHTTPServer(("127.0.0.1", 0), handler)
    t = threading.Thread(target=srv.serve_forever, daemon=True)
    t.start()
    yield f"http://127.0.0.1:{srv.server_address[1]}"
    srv.shutdown()
    srv.server_close()


def run(capsys, *argv) -> tuple[int, str, str]:
    code = main([str(a) for a in argv])
    cap = capsys.readouterr()
    return code, cap.out, cap.err


def test_every_command_has_help_with_an_example(capsys):
    sub = next(a for a in build_parser()._actions if a.__class__.__name__ == "_SubParsersAction")
    assert set(sub.choices) >= {"catalog", "fetch-posters", "encode", "train", "eval", "eval-history", "build",
                                "reindex", "rollback", "snapshot", "restore", "similar", "search", "next", "report",
                                "serve", "info"}
    for name, p in sub.choices.items():
        assert "example" in (p.epilog or ""), name
        assert "%%" not in p.format_help(), name  # a description is printed as written, not %-formatted


def test_catalog_fetch_encode_train_eval(work, poster_server, capsys, tmp_path):
    data, home = work
    code, out, _err = run(capsys, "catalog", "--data", data, "--out", home / "catalog.jsonl", "--json")
    assert code == 0 and json.loads(out)["merge"]["movies"] == 16

    # fetch-posters: a catalog whose posters are URLs on the loopback server
    url_catalog, urls = [], []
    for line in (home / "catalog.jsonl").read_text().splitlines():
        m = json.loads(line)
        if m["tmdb_id"] and (data / "posters" / f"{m['tmdb_id']}.jpg").exists():
            m["poster"] = f"{poster_server}/{m['tmdb_id']}.jpg"
            urls.append(m["poster"])
        url_catalog.append(json.dumps(m))
    (tmp_path / "url-catalog.jsonl").write_text("\n".join(url_catalog) + "\n")
    code, out, _err = run(capsys, "fetch-posters", "--catalog", tmp_path / "url-catalog.jsonl", "--cache",
                    tmp_path / "posters", "--allow-host", "127.0.0.1", "--json", "--quiet")
    summary = json.loads(out)
    assert code == 0 and summary["done"] == len(urls) == 8 and summary["total"] == 8
    code, out, _err = run(capsys, "fetch-posters", "--catalog", tmp_path / "url-catalog.jsonl", "--cache",
                    tmp_path / "posters2", "--json", "--quiet")  # loopback refused without --allow-host
    assert code == 0 and json.loads(out).get("done", 0) == 0

    for part in ("1/2", "2/2"):  # two processes' shares, then the whole: nothing left to compute
        code, out, _err = run(capsys, "encode", "--catalog", home / "catalog.jsonl", "--posters", data / "posters",
                              "--cache", home / "features", "--part", part, "--json", "--quiet")
        assert code == 0 and json.loads(out)["movies"] == 8 and json.loads(out)["part"] == part
    code, out, _err = run(capsys, "encode", "--catalog", home / "catalog.jsonl", "--posters", data / "posters",
                    "--cache", home / "features", "--json", "--quiet")
    enc = json.loads(out)
    assert code == 0 and enc["movies"] == 16 and enc["with_image"] == 8
    assert enc["absorbed_from_parts"] > 16 and enc["text_computed"] == 0 and enc["image_computed"] == 0
    assert not (home / "features" / "parts").exists()
    code, out, _err = run(capsys, "encode", "--catalog", home / "catalog.jsonl", "--posters", data / "posters",
                          "--cache", home / "features", "--part", "2/2", "--json", "--quiet")
    assert code == 0 and json.loads(out)["text_computed"] == 0  # a part rerun reads what the whole has
    for bad in ("0/2", "3/2", "x"):
        code, _, err = run(capsys, "encode", "--catalog", home / "catalog.jsonl", "--part", bad)
        assert code == 2 and f"--part '{bad}'" in err, err
    assert (home / "features" / "encode.quarantine.jsonl").exists()

    code, out, _err = run(capsys, "train", "--catalog", home / "catalog.jsonl", "--features",
                    home / "features" / "features.npz", "--data", data, "--out", home / "model", "--epochs", "5",
                    "--quiet")
    assert code == 0 and out.startswith("trained fusion-") and (home / "model" / "model.safetensors").exists()

    code, out, _err = run(capsys, "eval", "--catalog", home / "catalog.jsonl", "--features",
                    home / "features" / "features.npz", "--data", data, "--seeds", "0", "--trials", "1",
                    "--no-studies", "--epochs", "5", "--report", tmp_path / "report", "--quiet")
    assert code == 0 and "reelvec-fusion" in out and (tmp_path / "report" / "report.json").exists()
    code, _, err = run(capsys, "train", "--catalog", home / "catalog.jsonl", "--features", tmp_path / "missing.npz",
                  "--data", data, "--out", tmp_path / "m")
    assert code == 2 and "missing.npz" in err


def test_build_eval_history_snapshot_restore_reindex_gate_rollback(work, capsys, tmp_path):
    data, home = work
    code, out, _err = run(capsys, "build", "--data", data, "--store", home, "--quiet", "--json")
    first = json.loads(out)["stages"]["index"]
    assert code == 0 and first["points"] == 16
    live = first["collection"]

    code, out, _err = run(capsys, "eval-history", "--store", home, "--data", data, "--report", tmp_path, "--quiet")
    assert code == 0 and "qdrant recommend" in out and (tmp_path / "history.md").exists()

    code, out, _err = run(capsys, "snapshot", "--store", home, "--out", tmp_path / "snaps")
    assert code == 0 and f"snapshot of {live}" in out
    snap = next((tmp_path / "snaps").glob("*.tar.gz"))
    code, out, _err = run(capsys, "restore", snap, "--store", home, "--name", "movies_restored_t")
    assert code == 0 and "as movies_restored_t" in out and "alias" not in out
    code, _, err = run(capsys, "restore", snap, "--store", home, "--name", "movies_restored_t")
    assert code == 2 and "already exists" in err

    # a gated reindex records the live model's score; a really worse model (one epoch at a tiny
    # learning rate: almost untrained) is then refused with exit code 3 and the alias stays put
    code, out, _err = run(capsys, "reindex", "--data", data, "--store", home, "--gate", "--quiet", "--json")
    gated = json.loads(out)["stages"]
    assert code == 0 and gated["index"]["swapped"] and gated["train"]["gate_ndcg@10"] > 0.95
    good = gated["index"]["collection"]
    code, out, _err = run(capsys, "reindex", "--data", data, "--store", home, "--retrain", "--epochs", "1", "--lr", "1e-6",
                    "--gate", "--quiet", "--json")
    worse = json.loads(out)["stages"]
    assert code == 3 and not worse["index"]["swapped"]
    assert worse["train"]["gate_ndcg@10"] < gated["train"]["gate_ndcg@10"]
    assert "gate" in worse["index"]["message"]
    import reelvec
    with reelvec.open(home) as engine:
        assert engine.collection == good

    code, out, _err = run(capsys, "rollback", "--store", home)
    assert code == 0 and out.strip() == f"alias movies -> {live}"
    code, out, _err = run(capsys, "restore", snap, "--store", home, "--activate")
    assert code == 0 and "alias movies -> movies_restored_" in out
    code, out, _err = run(capsys, "similar", "Alien", "-k", "2", "--store", home, "--json")
    assert code == 0 and len(out.splitlines()) == 2
    assert all(json.loads(line)["explanation"]["placed_by"] for line in out.splitlines())
    code, out, _err = run(capsys, "similar", "Alien", "-k", "2", "--store", home, "--mode", "also-liked")
    assert code == 0 and "mode also-liked" in out.splitlines()[0]


def test_info_describes_the_live_index(work, capsys):
    _, home = work  # built by the test above
    code, out, _err = run(capsys, "info", "--store", home, "--json")
    info = json.loads(out)
    assert code == 0 and info["points"] == 16 and info["collection"] == info["alias"]["movies"]
    assert info["vectors"]["fused"]["distance"] == "Cosine" and info["vectors"]["text"]["size"] == 384
    assert {"title", "genres", "year", "model"} <= set(info["payload_fields"]) and "verified" in info
    assert info["model"]["fusion"].startswith("fusion-") and info["disk_bytes"]["store"] > 0
    code, out, _err = run(capsys, "info", "--store", home)
    assert code == 0 and "collection" in out


def test_errors_are_one_line_with_exit_2(capsys, tmp_path):
    code, _, err = run(capsys, "rollback", "--store", tmp_path / "empty")
    assert code == 2 and "nothing to roll back" in err
    code, _, err = run(capsys, "snapshot", "--store", tmp_path / "empty")
    assert code == 2 and "nothing to snapshot" in err
    code, _, err = run(capsys, "train", "--config", tmp_path / "nope.json", "--catalog", tmp_path / "c.jsonl")
    assert code == 2 and "nope.json" in err
    code, _, err = run(capsys, "export", "--store", tmp_path / "empty")
    assert code == 2 and "--qdrant-url" in err


# ------------------------------------------------------------------------------- import graph
ROOMS = ["errors", "fsutil", "ingest", "encoders", "fusion", "index", "search", "app", "cli"]
ALLOWED = {  # room -> rooms it may import (errors and fsutil are the floor everyone stands on)
    "errors": set(), "fsutil": set(), "ingest": set(), "encoders": {"ingest"}, "fusion": {"ingest"},
    "index": {"ingest"}, "search": {"index", "fusion", "encoders", "ingest"},
    "app": {"search", "index", "fusion", "encoders", "ingest"},
    "cli": {"app", "search", "index", "fusion", "encoders", "ingest"},
}


def _room(module: str) -> str | None:
    parts = module.split(".")
    return parts[1] if len(parts) > 1 and parts[0] == "reelvec" and parts[1] in ROOMS else None


def test_import_graph_flows_one_way():
    src = Path(__file__).resolve().parents[1] / "src" / "reelvec"
    bad = []
    for path in src.rglob("*.py"):
        rel = path.relative_to(src)
        here = rel.parts[0].removesuffix(".py")
        if here not in ROOMS:
            continue
        for node in ast.walk(ast.parse(path.read_text())):
            names = ([a.name for a in node.names] if isinstance(node, ast.Import)
                     else [node.module] if isinstance(node, ast.ImportFrom) and node.module and node.level == 0 else [])
            for name in names:
                there = _room(name)
                if there and there != here and there not in ALLOWED[here] | {"errors", "fsutil"}:
                    bad.append(f"{rel}: imports {name}")
    assert not bad, "\n".join(bad)


def test_command_table_matches_the_modules():
    """`reelvec COMMAND` imports only the module `COMMANDS` names: it must be the one registering it."""
    import argparse
    import importlib

    from reelvec.cli import COMMANDS, MODULES, build_parser
    seen = {}
    for name in MODULES:
        sub = argparse.ArgumentParser().add_subparsers()
        importlib.import_module(f"reelvec.cli.{name}").register(sub)
        seen.update(dict.fromkeys(sub.choices, name))
    assert seen == COMMANDS
    assert set(build_parser(["similar", "Alien"])._subparsers._group_actions[0].choices) == {
        c for c, m in COMMANDS.items() if m == "query"}
    assert set(build_parser(["--help"])._subparsers._group_actions[0].choices) == set(COMMANDS)


def test_tables_fit_the_terminal_by_wrapping_never_cutting(monkeypatch):
    from reelvec.cli.common import table

    rows = [[1, "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb", "1964",
             "same director: Stanley Kubrick; cos fused 0.91, text 0.52, poster 0.40; genres Comedy, War"]]
    out = table(rows, ["#", "title", "year", "why"], width=60, wrap=(1, 3))
    assert max(len(line) for line in out.splitlines()) <= 60
    words = " ".join(out.split())
    for w in ("Dr.", "Strangelove", "Bomb", "Kubrick;", "War"):
        assert w in words  # every word is still there
    assert len(table(rows, ["#", "title", "year", "why"]).splitlines()) == 3  # no width: one line a row
