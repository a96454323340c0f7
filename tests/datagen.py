"""A small but complete data folder (same layout as ../shared/data) written by the tests:
16 movies in two taste clusters, 40 users whose likes follow the clusters, drawn posters."""
from __future__ import annotations

import json
from pathlib import Path

import numpy as np
from conftest import tmdb_row, write_tmdb
from helpers_images import drawn_poster

SCIFI = [
    (348, "Alien", 1979, ("Horror", "Science Fiction"), ("alien", "spaceship", "creature"), "A space crew meets a deadly alien creature aboard their ship."),
    (679, "Aliens", 1986, ("Action", "Horror", "Science Fiction"), ("alien", "marine", "creature"), "Marines return to the alien planet to fight the creatures."),
    (603, "The Matrix", 1999, ("Action", "Science Fiction"), ("hacker", "simulation", "virtual reality"), "A hacker learns reality is a simulation run by machines."),
    (106, "Predator", 1987, ("Action", "Science Fiction", "Thriller"), ("alien", "jungle", "hunter"), "Commandos in the jungle are hunted by an alien warrior."),
    (78, "Blade Runner", 1982, ("Science Fiction", "Drama"), ("android", "dystopia", "replicant"), "A detective hunts rogue androids in a dystopian city."),
    (62, "2001: A Space Odyssey", 1968, ("Science Fiction", "Mystery"), ("space", "artificial intelligence", "spaceship"), "A voyage to Jupiter with a sentient computer."),
    (841, "Dune", 1984, ("Action", "Science Fiction", "Adventure"), ("desert", "spice", "planet"), "A noble son fights for a desert planet and its spice."),
    (438631, "Dune", 2021, ("Science Fiction", "Adventure"), ("desert", "spice", "planet"), "Paul Atreides travels to the dangerous desert planet Arrakis."),
]
ROMCOM = [
    (194, "Amélie", 2001, ("Comedy", "Romance"), ("paris", "shyness", "waitress"), "A shy waitress in Paris decides to change the lives of others."),
    (114, "Pretty Woman", 1990, ("Comedy", "Romance"), ("prostitute", "rich man", "love"), "A rich man falls for a woman he hires."),
    (509, "Notting Hill", 1999, ("Comedy", "Romance", "Drama"), ("bookshop", "film star", "london"), "A London bookseller falls in love with a film star."),
    (639, "When Harry Met Sally...", 1989, ("Comedy", "Romance", "Drama"), ("friendship", "new york", "love"), "Can men and women be just friends?"),
    (4951, "10 Things I Hate About You", 1999, ("Comedy", "Romance", "Drama"), ("high school", "love", "shrew"), "A high-school boy is paid to date a difficult girl."),
    (11820, "French Kiss", 1995, ("Comedy", "Romance"), ("paris", "france", "heist"), "A woman chases her fiance to Paris and meets a thief."),
    (2108, "The Breakfast Club", 1985, ("Comedy", "Drama"), ("high school", "detention", "teenager"), "Five students in detention discover what they share."),
    (8467, "Dumb and Dumber", 1994, ("Comedy",), ("road trip", "idiot", "aspen"), "Two dim friends drive across the country to return a briefcase."),
]
MOVIES = SCIFI + ROMCOM


def make_dataset(root: Path, posters_for=lambda tmdb_id: tmdb_id % 2 == 0) -> Path:
    root = Path(root)
    rows = [tmdb_row(t, title, genres=g, keywords=k, date=f"{y}-06-01", overview=o,
                     vote_count=str(1000 + 37 * i), popularity=str(10 + i)) for i, (t, title, y, g, k, o) in enumerate(MOVIES)]
    write_tmdb(root / "tmdb" / "tmdb_5000_movies.csv", rows)
    ml = root / "movielens"
    ml.mkdir(parents=True, exist_ok=True)
    movies_csv = ["movieId,title,genres"]
    links = ["movieId,imdbId,tmdbId"]
    for i, (t, title, y, g, _, _) in enumerate(MOVIES, 1):
        movies_csv.append(f"{i},\"{title} ({y})\",{'|'.join(g)}")
        links.append(f"{i},{1000000 + i:07d},{t}")
    (ml / "movies.csv").write_text("\r\n".join(movies_csv) + "\r\n", encoding="utf-8")
    (ml / "links.csv").write_text("\r\n".join(links) + "\r\n", encoding="utf-8")
    rng = np.random.default_rng(0)
    ratings = ["userId,movieId,rating,timestamp"]
    for u in range(1, 41):
        cluster = range(1, 9) if u % 2 else range(9, 17)
        liked = sorted(rng.choice(list(cluster), size=6, replace=False).tolist())
        for j, mid in enumerate(liked):
            ratings.append(f"{u},{mid},{rng.choice([4.0, 4.5, 5.0])},{1_000_000_000 + u * 1000 + j}")
        other = int(rng.choice(list(set(range(1, 17)) - set(cluster))))
        ratings.append(f"{u},{other},2.0,{1_000_000_000 + u * 1000 + 99}")
    (ml / "ratings.csv").write_text("\r\n".join(ratings) + "\r\n", encoding="utf-8")
    (ml / "tags.csv").write_text("userId,movieId,tag,timestamp\r\n", encoding="utf-8")
    wiki = root / "wikipedia"
    wiki.mkdir(exist_ok=True)
    (wiki / "movies-1970s.json").write_text(json.dumps([
        {"title": "Alien", "year": 1979, "cast": ["Sigourney Weaver", "Tom Skerritt"], "genres": ["Science Fiction"],
         "href": "Alien_(film)", "extract": "Alien is a 1979 science fiction horror film directed by Ridley Scott."}]))
    (wiki / "movies-1980s.json").write_text(json.dumps([
        {"title": "Aliens", "year": 1986, "cast": ["Sigourney Weaver", "Michael Biehn"], "genres": ["Science Fiction"],
         "href": "Aliens_(film)", "extract": "Aliens is a 1986 science fiction action film directed by James Cameron."},
        {"title": "Predator", "year": 1987, "cast": ["Arnold Schwarzenegger"], "genres": ["Action"],
         "href": "Predator_(film)", "extract": "Predator is a 1987 American science fiction action film directed by John McTiernan."}]))
    posters = root / "posters"
    posters.mkdir(exist_ok=True)
    man = ["tmdb_id,imdb_id,file,width,height,mode,bytes,source"]
    for i, (t, *_rest) in enumerate(MOVIES):
        if posters_for(t):
            img = drawn_poster(seed=i)  # distinct colours for the 16 movies
            img.save(posters / f"{t}.jpg", quality=90)
            man.append(f"{t},tt{1000000 + i + 1:07d},{t}.jpg,182,268,RGB,1,test")
    (posters / "manifest.csv").write_text("\n".join(man) + "\n")
    return root
