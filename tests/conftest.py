"""Shared fixtures: tiny hand-written sources (never copies of ../shared/data)."""
from __future__ import annotations

import csv
import json
import os
from pathlib import Path

import pytest

TMDB_HEADER = ["budget", "genres", "homepage", "id", "keywords", "original_language", "original_title",
               "overview", "popularity", "production_companies", "production_countries", "release_date",
               "revenue", "runtime", "spoken_languages", "status", "tagline", "title", "vote_average",
               "vote_count"]


def gj(*names):
    return json.dumps([{"id": i, "name": n} for i, n in enumerate(names)])


def tmdb_row(id, title, genres=("Action",), keywords=("hero",), date="1999-03-30", overview="A plot.", **kw):
    row = {
        "budget": "1000", "genres": gj(*genres), "homepage": "", "id": str(id), "keywords": gj(*keywords),
        "original_language": "en", "original_title": title, "overview": overview, "popularity": "10.5",
        "production_companies": gj("Acme Films"), "production_countries": json.dumps([{"iso_3166_1": "US", "name": "USA"}]),
        "release_date": date, "revenue": "0", "runtime": "120",
        "spoken_languages": json.dumps([{"iso_639_1": "en", "name": "English"}]), "status": "Released",
        "tagline": "Tag.", "title": title, "vote_average": "7.5", "vote_count": "100",
    }
    row.update(kw)
    return row


def write_tmdb(path: Path, rows, header=TMDB_HEADER) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "w", encoding="utf-8", newline="") as fh:
        w = csv.DictWriter(fh, fieldnames=header, extrasaction="ignore")
        w.writeheader()
        for r in rows:
            w.writerow(r)
    return path


@pytest.fixture
def tiny_data(tmp_path) -> Path:
    """A data folder with the layout of ../shared/data and a handful of movies."""
    root = tmp_path / "data"
    write_tmdb(root / "tmdb" / "tmdb_5000_movies.csv", [
        tmdb_row(603, "The Matrix", genres=("Action", "Science Fiction"), keywords=("hacker", "simulation")),
        tmdb_row(348, "Alien", genres=("Horror", "Science Fiction"), keywords=("spaceship", "alien"), date="1979-05-25"),
        tmdb_row(862, "Toy Story", genres=("Animation", "Family"), keywords=("toy",), date="1995-10-30"),
    ])
    ml = root / "movielens"
    ml.mkdir(parents=True)
    (ml / "movies.csv").write_text(
        "movieId,title,genres\r\n1,Toy Story (1995),Adventure|Animation|Children\r\n"
        "2571,\"Matrix, The (1999)\",Action|Sci-Fi|Thriller\r\n5,Only In Lens (2001),Drama\r\n", encoding="utf-8")
    (ml / "links.csv").write_text(
        "movieId,imdbId,tmdbId\r\n1,0114709,862\r\n2571,0133093,603\r\n5,0000005,\r\n", encoding="utf-8")
    (ml / "ratings.csv").write_text(
        "userId,movieId,rating,timestamp\r\n1,1,4.0,964982703\r\n1,2571,5.0,964981247\r\n2,1,x,1\r\n", encoding="utf-8")
    (ml / "tags.csv").write_text("userId,movieId,tag,timestamp\r\n1,1,pixar,1\r\n", encoding="utf-8")
    wiki = root / "wikipedia"
    wiki.mkdir()
    (wiki / "movies-1970s.json").write_text(json.dumps([
        {"title": "Alien", "year": 1979, "cast": ["Sigourney Weaver", "Tom Skerritt"], "genres": ["Science Fiction", "Horror"],
         "href": "Alien_(film)", "extract": "Alien is a 1979 film directed by Ridley Scott and written by Dan O'Bannon.",
         "thumbnail": "https://example.invalid/alien.jpg"},
        {"title": "Star Wars", "year": 1977, "cast": ["Mark Hamill"], "genres": ["Science Fiction"], "href": "Star_Wars_(film)"},
    ]), encoding="utf-8")
    (wiki / "movies-1990s.json").write_text(json.dumps([
        {"title": "The Matrix", "year": 1998, "cast": ["Keanu Reeves"], "genres": ["Action"], "href": "The_Matrix"},
        {"title": "No Year"},
    ]), encoding="utf-8")
    posters = root / "posters"
    posters.mkdir()
    from PIL import Image
    Image.new("RGB", (40, 60), (200, 30, 30)).save(posters / "603.jpg")
    (posters / "manifest.csv").write_text(
        "tmdb_id,imdb_id,file,width,height,mode,bytes,source\n603,tt0133093,603.jpg,40,60,RGB,1,test\n")
    return root


@pytest.fixture(scope="session")
def shared_data() -> Path:
    root = Path(os.environ.get("REELVEC_DATA") or Path(__file__).resolve().parents[2] / "shared" / "data")
    if not (root / "tmdb" / "tmdb_5000_movies.csv").exists():
        pytest.skip(f"shared data not found at {root}")
    return root


@pytest.fixture(scope="session")
def built_home(tmp_path_factory) -> tuple[Path, Path]:
    """(data, home): the generated 16-movie dataset built once per test session by the real
    pipeline. Tests that change a home copy it first (`copy_home`)."""
    from datagen import make_dataset

    from reelvec.app import BuildConfig, build
    root = tmp_path_factory.mktemp("built")
    data = make_dataset(root / "data")
    build(BuildConfig(data=data, home=root / "home", progress=False))
    return data, root / "home"


def copy_home(src: Path, dst: Path) -> Path:
    """A copy of a home that keeps the shards' sparse files sparse (a Qdrant Edge WAL is two
    32 MiB preallocated files: copied byte by byte, every test's home took 3x the disk)."""
    import shutil
    import subprocess

    dst.parent.mkdir(parents=True, exist_ok=True)
    if subprocess.run(["cp", "-a", "--sparse=always", str(src), str(dst)], capture_output=True).returncode != 0:
        shutil.rmtree(dst, ignore_errors=True)
        shutil.copytree(src, dst)
    return dst


def local_server_copy(home: Path):
    """(store, collection): the live collection of a built home copied into qdrant-client's local
    mode (the server backend without a server), alias included."""
    import reelvec
    from reelvec.index import PointData
    from reelvec.index.server import ServerStore

    with reelvec.open(home) as src:
        coll = src.collection
        pts = [PointData(f.id, f.vectors, f.payload) for f in src.store.scroll(coll, with_vectors=True)]
        dims = src.store.collection_vectors(coll)
    store = ServerStore(location=":memory:")
    store.create_collection(coll, dims)
    store.upsert(coll, pts)
    store.set_alias("movies", coll)
    return store, coll
