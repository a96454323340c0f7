"""What a film buff checks first in a list of "similar" films, as measures over a catalogue.

Each check is a set of query rows with what counts as a hit for each (derived from the sources'
own words, not from the ranking's title parser), and a function of the top 10 of those rows:

- **series recall@10**: the other films of the query's series (catalogue `series`, from the
  Wikipedia lead sentences: "the second film in the Mad Max series"), of min(10, mates); the
  series split into dev / test by name (`ingest.series.series_split`); *title-disjoint* mates
  (no title word in common: *Casino Royale* / *Skyfall*) reported apart.
- **director recall@10**: the other films of the query's director(s).
- **hub share**: over the top 10 of the `HUB_QUERIES` most-voted films, the share of slots the
  20 most frequent hits take (one 0/1 value per slot, so it bootstraps like the others).
- **title-lookalike rate**: of the films that have a lookalike in the catalogue (shares a title
  word of 3+ letters, not the same series, no director or lead actor in common, genre Jaccard
  below 0.5, description cosine below `LOOKALIKE_TEXT`: *Toy Story* / *The Toy*), the share with
  one in their top 10.

numpy only; the ranking comes in as top-10 lists (`evaluate.top_lists`).
"""
from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from reelvec.fusion.blend import lead_people
from reelvec.ingest.franchise import title_tokens
from reelvec.ingest.series import series_split

HUB_QUERIES = 500  # the most-voted films whose lists the hub share reads
HUB_TOP = 20  # the most frequent hits whose share of slots is the hub share
LOOKALIKE_TEXT = 0.35  # description cosine below which a title lookalike's plot counts as unrelated
LOOKALIKE_GENRES = 0.5  # genre Jaccard below which it counts as another kind of film
DIRECTOR_QUERIES = 800  # films with a director in common with another, sampled (seeded)
LOOKALIKE_QUERIES = 1500  # films sampled for the lookalike rate (seeded)


@dataclass
class Checks:
    """Query rows and what a hit is for each check; `measure` turns top-10 lists into values."""
    series: dict[int, frozenset[int]] = field(default_factory=dict)
    series_disjoint: dict[int, frozenset[int]] = field(default_factory=dict)
    director: dict[int, frozenset[int]] = field(default_factory=dict)
    hub_rows: list[int] = field(default_factory=list)
    lookalike: dict[int, frozenset[int]] = field(default_factory=dict)

    @property
    def rows(self) -> np.ndarray:
        """Every query row any check reads."""
        return np.array(sorted(set(self.series) | set(self.director) | set(self.hub_rows) | set(self.lookalike)),
                        np.int64)

    def measure(self, top: dict[int, Sequence[int]]) -> dict[str, list[float]]:
        """Per-query values of each check from each row's top 10 (row -> ranked rows)."""
        def recall(groups: dict[int, frozenset[int]]) -> list[float]:
            return [sum(c in mates for c in top[r][:10]) / min(10, len(mates)) for r, mates in groups.items()]

        slots = Counter(c for r in self.hub_rows for c in top[r][:10])
        hubs = {c for c, _ in slots.most_common(HUB_TOP)}
        return {"SeriesR@10": recall(self.series), "SeriesDisjointR@10": recall(self.series_disjoint),
                "DirectorR@10": recall(self.director),
                "HubShare": [float(c in hubs) for r in self.hub_rows for c in top[r][:10]],
                "Lookalike@10": [float(any(c in bad for c in top[r][:10])) for r, bad in self.lookalike.items()]}


def most_lists(top: dict[int, Sequence[int]], rows: Sequence[int]) -> int:
    """The most top-10 lists of `rows` that one film is in."""
    slots = Counter(c for r in rows for c in top[r][:10])
    return max(slots.values()) if slots else 0


def checks_of(movies: Sequence, text: np.ndarray, split: str | None = "test", seed: int = 0) -> Checks:
    """The checks over `movies` (catalogue `Movie`s; `text` their description embeddings, rows
    aligned). `split` keeps the series of that split ("dev" to tune, "test" to report; None: all)."""
    n = len(movies)
    rng = np.random.default_rng(seed)
    by_series: dict[str, set[int]] = defaultdict(set)
    by_director: dict[str, set[int]] = defaultdict(set)
    for r, m in enumerate(movies):
        if m.series:
            by_series[m.series].add(r)
        for d in m.directors or ((m.director,) if m.director else ()):
            by_director[d].add(r)
    words = [frozenset(w for w in title_tokens(m.title) if len(w) >= 3) for m in movies]
    out = Checks()
    for r, m in enumerate(movies):
        if not m.series or (split is not None and series_split(m.series) != split):
            continue
        mates = frozenset(by_series[m.series] - {r})
        if mates:
            out.series[r] = mates
            disjoint = frozenset(c for c in mates if not words[r] & words[c])
            if disjoint:
                out.series_disjoint[r] = disjoint
    with_mates = [r for r, m in enumerate(movies)
                  if any(len(by_director[d]) > 1 for d in (m.directors or ((m.director,) if m.director else ())))]
    for r in sorted(rng.choice(with_mates, min(DIRECTOR_QUERIES, len(with_mates)), replace=False).tolist()
                    if with_mates else []):
        m = movies[r]
        out.director[r] = frozenset(set().union(*(by_director[d] for d in (m.directors or (m.director,)))) - {r})
    out.hub_rows = sorted(range(n), key=lambda r: (-(movies[r].vote_count or 0), r))[:HUB_QUERIES]
    out.lookalike = lookalikes(movies, text, words, rng.choice(n, min(LOOKALIKE_QUERIES, n), replace=False))
    return out


def lookalikes(movies: Sequence, text: np.ndarray, words: Sequence[frozenset], rows) -> dict[int, frozenset[int]]:
    """For each of `rows` that has any, its title lookalikes (see the module doc)."""
    T = np.nan_to_num(np.asarray(text, np.float32), nan=0.0)
    T = T / np.maximum(np.linalg.norm(T, axis=1, keepdims=True), 1e-9)
    by_word: dict[str, set[int]] = defaultdict(set)
    for r, ws in enumerate(words):
        for w in ws:
            by_word[w].add(r)
    genres = [frozenset(m.genres) for m in movies]
    people = [lead_people(m.directors or m.director, m.cast) for m in movies]
    out = {}
    for r in sorted(int(x) for x in rows):
        m = movies[r]
        near = set().union(*(by_word[w] for w in words[r])) - {r} if words[r] else set()
        bad = set()
        for c in near:
            if (m.series and m.series == movies[c].series) or people[r] & people[c]:
                continue
            union = genres[r] | genres[c]
            if union and len(genres[r] & genres[c]) / len(union) >= LOOKALIKE_GENRES:
                continue
            if float(T[r] @ T[c]) < LOOKALIKE_TEXT:
                bad.add(c)
        if bad:
            out[r] = frozenset(bad)
    return out
