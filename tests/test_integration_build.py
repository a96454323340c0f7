"""End to end on ../shared/data: build the real index, check recall of HNSW against exact search,
and that the demo's well-known titles give sensible neighbours (slow; runs in CI)."""
import re

import numpy as np
import pytest

import reelvec
from reelvec.app import BuildConfig
from reelvec.app import build as run_build
from reelvec.index import QuerySpec

pytestmark = [pytest.mark.slow, pytest.mark.timeout(1800)]  # the real build: ~9 min on a 2-core CPU without bf16


@pytest.fixture(scope="module")
def real_home(shared_data, tmp_path_factory):
    home = tmp_path_factory.mktemp("real")
    rep = run_build(BuildConfig(data=shared_data, home=home, progress=False))
    return home, rep


def test_build_counts(real_home):
    _, rep = real_home
    assert rep.stages["index"]["points"] == rep.stages["catalog"]["movies"] or rep.stages["index"]["points"] > 10_000
    assert rep.stages["encode"]["image_computed"] + rep.stages["encode"]["image_cached"] == 5052


def test_hnsw_recall_against_exact_search(real_home):
    """The writer's Qdrant Edge collection (HNSW) against exact search over its published copy."""
    from reelvec.index.edge import EdgeStore

    home, _ = real_home
    engine = reelvec.open(home)
    coll = engine.collection
    recs = list(engine.store.scroll(coll, batch=4000, with_vectors=True))
    ids = [r.id for r in recs]
    E = np.array([r.vectors["fused"] for r in recs], np.float32)
    E /= np.linalg.norm(E, axis=1, keepdims=True)
    rng = np.random.default_rng(0)
    recall = []
    edge = EdgeStore(home / "store")
    for qi in rng.choice(len(E), size=200, replace=False):
        exact = [ids[j] for j in np.argsort(-(E @ E[qi]))[:10]]
        got = [f.id for f in edge.query(coll, QuerySpec(E[qi], "fused", 10))]
        recall.append(len(set(exact) & set(got)) / 10)
    edge.close()
    assert np.mean(recall) >= 0.99
    engine.close()


def test_demo_titles(real_home):
    home, _ = real_home
    with reelvec.open(home) as engine:
        aliens = engine.similar("Alien", k=10)
        assert len(aliens) == 10 and "Aliens" in [h.title for h in aliens]
        toy = engine.similar("Toy Story", k=10)
        assert "Toy Story 2" in [h.title for h in toy]
        filtered = engine.similar("The Matrix", k=10, genres=["Science Fiction"], years=(1990, 2005))
        assert len(filtered) == 10 and all("Science Fiction" in h.genres and 1990 <= h.year <= 2005 for h in filtered)


@pytest.mark.parametrize("title, sequels, franchise", [
    ("The Matrix", {"The Matrix Reloaded", "The Matrix Revolutions"}, None),  # README: "What 'similar' means here"
    ("Ice Age", {"Ice Age: The Meltdown"}, "ice age"),
    ("Alien", {"Aliens", "Alien³"}, "alien"),  # "Aliens" is no title-derived sequel, "Alien³" is
    ("Toy Story", {"Toy Story 2", "Toy Story 3"}, "toy story"),
])
def test_default_similar_keeps_the_franchise(real_home, title, sequels, franchise):
    home, _ = real_home
    with reelvec.open(home) as engine:
        hits = engine.similar(title, k=10)
        assert sequels <= {h.title for h in hits}
        assert all(h.explanation.placed_by for h in hits)
        if franchise:  # the payload's franchise field (filterable in the Qdrant console) names it
            assert franchise in {h.explanation.same_franchise for h in hits if h.title in sequels}


def test_rerun_reuses_every_cache(real_home, shared_data):
    home, _ = real_home
    rep = run_build(BuildConfig(data=shared_data, home=home, progress=False))
    assert rep.stages["catalog"]["reused"] and rep.stages["train"]["reused"] and rep.stages["index"]["reused"]
    assert rep.stages["encode"]["text_computed"] == 0 and rep.stages["encode"]["image_computed"] == 0


def test_readme_examples_run_as_written(real_home, shared_data, capsys):
    """The README's first Python example, on the real index (only the server line is left out)."""
    import re
    from pathlib import Path

    home, _ = real_home
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    code = re.search(r"```python\n(.*?)```", readme, re.S).group(1)
    code = "\n".join(line for line in code.splitlines() if "url=" not in line)
    poster = next((shared_data / "posters").glob("*.jpg"))
    code = code.replace('".reelvec"', repr(str(home))).replace('"poster.jpg"', repr(str(poster)))
    exec(compile(code, "README.md", "exec"), {})
    assert "Aliens" in capsys.readouterr().out


def test_the_top_10_is_the_same_for_every_k_on_every_movie(real_home):
    """The first 10 hits of k=50 and k=100 are the top 10 of k=10 (precomputed or computed), for
    every movie of the real index with a TMDB id, and with a filter for a sample of them."""
    home, _ = real_home
    with reelvec.open(home) as engine:
        movies = [e.tmdb_id for e in engine.titles.entries if e.tmdb_id is not None]
        assert len(movies) > 4000
        differ = []
        for m in movies:
            top = [h.key for h in engine.similar(m, k=10)]
            if any([h.key for h in engine.similar(m, k=k)][:10] != top for k in (50, 100)):
                differ.append(m)
        assert not differ, (len(differ), differ[:10])
        flt = {"genres": ["Drama", "Comedy"], "years": (1970, 2010)}
        for m in movies[::40]:
            top = [h.key for h in engine.similar(m, k=10, **flt)]
            assert [h.key for h in engine.similar(m, k=100, **flt)][:10] == top, m


def readme_curls(blocks: list[str]) -> list[str]:
    """The curl commands of bash blocks: continuation lines joined, a quoted multi-line argument
    kept whole, comments dropped."""
    out, cur = [], ""
    for block in blocks:
        for line in block.replace("\\\n", " ").splitlines():
            cur = f"{cur}\n{line}" if cur else line
            if cur.count("'") % 2:  # inside a quoted argument
                continue
            cmd, cur = cur.strip(), ""
            if cmd.startswith("curl"):
                out.append(re.sub(r"\s+#[^'\n]*$", "", cmd))
    return out


def test_readme_service_examples_run_as_written(real_home, shared_data, tmp_path):
    """Every curl line of the README's service section (and its page-building snippet) against a
    real `reelvec serve --allow-edits` on a copy of the real index: each answers 2xx."""
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    from conftest import copy_home

    home = copy_home(real_home[0], tmp_path / "home")
    readme = (Path(__file__).resolve().parents[1] / "README.md").read_text()
    blocks = [b for b in re.findall(r"```bash\n(.*?)```", readme, re.S) if "127.0.0.1:8080" in b]
    commands = readme_curls(blocks)
    assert len(commands) >= 9
    shutil.copy(next((shared_data / "posters").glob("*.jpg")), tmp_path / "poster.jpg")
    p = subprocess.Popen([sys.executable, "-m", "reelvec", "serve", "--port", "0", "--store", str(home),
                          "--allow-edits"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        line = p.stdout.readline()
        assert "serving on" in line, p.stderr.read()
        where = line.split("serving on http://")[1].split()[0]
        for cmd in commands:
            run = cmd.replace("127.0.0.1:8080", where).replace("localhost:8080", where)
            run = re.sub(r"(^|; )curl ", r"\1curl -sS --fail-with-body ", run)
            done = subprocess.run(["bash", "-o", "pipefail", "-c", run.replace("python -c", f"{sys.executable} -c")],
                                  cwd=tmp_path, capture_output=True, text=True, timeout=120)
            assert done.returncode == 0, f"{cmd}\n{done.stdout[-500:]}\n{done.stderr[-500:]}"
            if "more like" in cmd:
                assert done.stdout.startswith("more like Heat 1995") and "/posters/" in done.stdout
    finally:
        p.terminate()
        p.wait(timeout=30)
