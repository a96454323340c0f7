"""The seed's data-preparation functions, kept under the names users know.

All pure: no files, no globals. The catalog adapters and the text encoder build on them.
"""
from __future__ import annotations

import html
import json
import re
from collections.abc import Iterable, Mapping
from typing import Any

import numpy as np

_TAG = re.compile(r"<[^>]+>")
_WS = re.compile(r"\s+")
_SPECIAL = re.compile(r"[^0-9A-Za-z\u00C0-\u024F\s]+")
_CITATION = re.compile(r"\[\d+\]")


def extract_names(data: Any, key: str = "name") -> list[str]:
    """Names out of a JSON-in-CSV column ('[{"id": 28, "name": "Action"}]') or a list of dicts.

    Accepts a JSON string, a list of dicts, a list of strings, or a missing value (-> []).
    Raises ValueError on text that is not valid JSON, so callers can quarantine the row.
    """
    if data is None or (isinstance(data, float) and np.isnan(data)):
        return []
    if isinstance(data, str):
        s = data.strip()
        if not s:
            return []
        data = json.loads(s)  # never eval: the column is untrusted text
    if isinstance(data, Mapping):
        data = [data]
    if isinstance(data, (str, bytes)) or not isinstance(data, Iterable):
        raise ValueError(f"expected a list of objects, got {type(data).__name__}")
    out: list[str] = []
    for item in data:
        name = item.get(key) if isinstance(item, Mapping) else item
        if name is None:
            continue
        if not isinstance(name, str):
            raise ValueError(f"expected a name (text), got {type(name).__name__} {str(name)[:40]!r}")
        name = " ".join(name.split())
        if name and name not in out:
            out.append(name)
    return out


def extract_cast(data: Any, limit: int | None = None) -> list[str]:
    """Actor names in billing order from a cast column (TMDB credits JSON, a list of names, or
    Wikipedia's list that sometimes holds scraping noise such as '' or 'and')."""
    if isinstance(data, str) and data.strip().startswith("["):
        items = json.loads(data)
    elif isinstance(data, str):
        items = [p for p in re.split(r"\s*[,;]\s*", data)]
    else:
        items = data or []
    if items and isinstance(items[0], Mapping) and "order" in items[0]:
        items = sorted(items, key=lambda x: x.get("order", 0))
    names = []
    for it in items:
        n = it.get("name") if isinstance(it, Mapping) else it
        n = " ".join(str(n or "").split()).strip(" ,;.")
        if not n or n.lower() in {"and", "with", "n/a", "none"} or len(n) < 2:
            continue
        if n not in names:
            names.append(n)
    return names[:limit] if limit else names


def clean(text: Any) -> str:
    """Overview/tagline cleanup: unescape HTML, drop tags and [1]-style citations, fix
    whitespace, strip stray quotes. Missing values become ''."""
    if text is None or (isinstance(text, float) and np.isnan(text)):
        return ""
    t = html.unescape(str(text))
    t = _TAG.sub(" ", t)
    t = _CITATION.sub("", t)
    t = t.replace("\u00a0", " ").replace("\u200b", "")
    t = _WS.sub(" ", t).strip()
    if len(t) >= 2 and t[0] == t[-1] and t[0] in "\"'":
        t = t[1:-1].strip()
    return t


def process_description(text: str) -> str:
    """Strip special/non-alphanumeric characters from a combined description (letters with
    accents are kept) and collapse whitespace."""
    return _WS.sub(" ", _SPECIAL.sub(" ", text or "")).strip()


def list_to_text(items: Iterable[str] | None, sep: str = ", ") -> str:
    """['Action', 'Sci-Fi'] -> 'Action, Sci-Fi'; None/empty -> ''."""
    if not items:
        return ""
    return sep.join(str(i).strip() for i in items if i is not None and str(i).strip())


NUMERIC_COLUMNS = ("budget", "revenue", "runtime", "popularity", "vote_average", "vote_count")
ZERO_MEANS_MISSING = ("budget", "revenue", "runtime")


def preprocess(df):
    """The seed's table preparation, on a copy of a TMDB-style frame.

    - numeric columns coerced (bad text -> NaN);
    - zeros in budget/revenue/runtime are 'unknown': set missing, then filled with the column
      mean, with a ``<col>_imputed`` flag column so nobody mistakes the mean for data;
    - missing homepage -> ''; release_date -> datetime (bad dates -> NaT).

    (pandas is imported here, not at module level: `build_description` runs in the serving install.)
    """
    import pandas as pd

    out = df.copy()
    for col in NUMERIC_COLUMNS:
        if col in out.columns:
            out[col] = pd.to_numeric(out[col], errors="coerce")
    for col in ZERO_MEANS_MISSING:
        if col in out.columns:
            missing = out[col].isna() | (out[col] == 0)
            out[col] = out[col].mask(missing)
            mean = out[col].mean()
            out[f"{col}_imputed"] = missing
            out[col] = out[col].fillna(mean if pd.notna(mean) else 0.0)
    if "homepage" in out.columns:
        out["homepage"] = out["homepage"].fillna("")
    if "release_date" in out.columns:
        out["release_date"] = pd.to_datetime(out["release_date"], errors="coerce", format="%Y-%m-%d")
    return out


def build_description(movie, max_keywords: int = 20, max_cast: int = 8) -> str:
    """The text the text encoder sees: title, tagline, genres, plot, keywords, people, companies.

    Ordered so the most telling fields come first: MiniLM truncates at 256 word pieces, so a
    long Wikipedia plot must not push genres and keywords out of the window.
    """
    parts: list[str] = [movie.title]
    if movie.tagline:
        parts.append(clean(movie.tagline))
    if movie.genres:
        parts.append("Genres: " + list_to_text(movie.genres))
    if movie.keywords:
        parts.append("Keywords: " + list_to_text(movie.keywords[:max_keywords]))
    overview = clean(movie.overview) or clean(movie.plot)
    if overview:
        parts.append(overview)
    if movie.director:
        parts.append("Director: " + movie.director)
    if movie.cast:
        parts.append("Cast: " + list_to_text(movie.cast[:max_cast]))
    if movie.companies:
        parts.append("Companies: " + list_to_text(movie.companies[:3]))
    if movie.overview and movie.plot:
        parts.append(clean(movie.plot))
    return ". ".join(process_description(p) for p in parts if p)
