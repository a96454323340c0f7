"""Series from the sources' own words: the Wikipedia leads' sequel / prequel / remake sentences
and "the Nth entry in the X series", joined with the title-stem franchises into series.

A lead says how a film relates to another ("A sequel to the 1946 film Gas House Kids", "It is a
prequel to the 2013 film The Conjuring", "a remake of the 1960 film of the same name") and which
series it belongs to ("the fifteenth entry in the James Bond series", "the second installment in
the Austin Powers film series, after International Man of Mystery"). `parse_lead` reads both;
`link_series` finds the named films in the catalogue (normalised title, the year the lead gives
or the closest earlier one, like merging) and joins three kinds of evidence into series
(connected components of a union-find):

* relation links (sequel, prequel, follow-up, spin-off; never remakes),
* films whose leads name the same series (shared universes such as the MCU are not series),
* today's title-stem franchises (`reelvec.ingest.franchise`), which confirm with people or
  TMDB's "sequel" keyword where titles alone are weak.

Guards keep one bad link from merging two franchises: two groups whose leads name different
series are never joined, and a remake is never joined with the film it remakes. TMDB's keywords
hold no series names in this data ("sequel", "prequel", "spin off" only), so they serve as
confirmation, not as links.
"""
from __future__ import annotations

import dataclasses
import re
from collections import Counter, defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field

from reelvec.ingest.movie import Movie, normalise_title

RELATIONS = {"sequel": "sequel", "prequel": "prequel", "remake": "remake", "follow-up": "sequel",
             "spin-off": "spin-off", "spinoff": "spin-off", "reboot": "reboot"}
JOINING = frozenset({"sequel", "prequel", "spin-off"})  # relations that make one series
_ORD = (r"first|second|third|fourth|fifth|sixth|seventh|eighth|ninth|tenth|eleventh|twelfth|thirteenth|fourteenth|"
        r"fifteenth|sixteenth|seventeenth|eighteenth|nineteenth|twentieth|twenty-\w+|thirtieth|\d{1,2}(?:st|nd|rd|th)|"
        r"final|last|latest|next|concluding|penultimate|initial|opening")
_RELATION = re.compile(r"\b(?P<rel>sequel|prequel|remake|follow-up|spin-off|spinoff|reboot)s?\s+(?:to|of)\s+",
                       re.I)
_SERIES = re.compile(
    r"\b(?P<ord>" + _ORD + r")\s+(?:[\w\-]+\s+){0,4}?(?:in|of)\s+(?:the\s+|a\s+|an\s+)?"
    r"(?P<name>[^.;:,()]{2,60}?)\s+(?:(?:film|motion picture|movie|feature film|comedy|horror)\s+)?"
    r"(?P<kind>series|franchise|trilogy|saga|quadrilogy|tetralogy|cycle)\b", re.I)
_FOLLOWS = re.compile(r"\b(?:[Ii]t|[Tt]he film) follows\s+(?=[A-Z])")  # "It follows The Silence of the Lambs (1991)"
_AFTER = re.compile(r"\b(?:series|franchise|trilogy|saga),?\s+(?:following|after)\s+(?P<rest>[^.;]{2,120})", re.I)
_DESCRIPTOR = re.compile(
    r"^(?:(?:the|a|an|his|her|their|its)\s+)?(?:(?P<year>1[89]\d\d|20\d\d)(?:'s)?\s+)?(?:[\w\-']+\s+){0,6}?"
    r"(?:film|movie|picture|feature|motion picture|serial|cartoon|short|musical|comedy|drama|thriller|western)s?\s+",
    re.I)
_POSSESSIVE = re.compile(r"^(?:[A-Z][\w.\-]*\s+){1,3}[A-Z][\w.\-]*'s\s+")
_YEAR_AFTER = re.compile(r"^\s*\((?P<year>1[89]\d\d|20\d\d)\)")
_STOP_AFTER = frozenset({"and", "which", "that", "in", "from", "with", "starring", "released", "directed", "but",
                         "as", "it", "also", "by", "about", "was", "is", "where", "who", "while", "though"})
UNIVERSES = re.compile(r"\b(?:universe|cinematic|extended|verse|shared)\b", re.I)
LEAD_CHARS = 900
MAX_TITLE_WORDS = 12


@dataclass(frozen=True)
class Mention:
    """A film a lead names: how the lead's film relates to it, and the words that name it."""

    relation: str  # sequel | prequel | remake | spin-off | reboot | after (the one before it in a series)
    text: str  # the words after the phrase (the title starts here)
    year: int | None = None  # the year the lead gives for it ("the 1946 film ...")
    same_name: bool = False  # "a remake of the 1960 film of the same name"
    dated: bool = False  # only a title followed by its year in brackets counts ("follows X (1991)")


@dataclass(frozen=True)
class LeadFacts:
    mentions: tuple[Mention, ...] = ()
    series: str | None = None  # the series name the lead gives ("James Bond")


def _series_name(raw: str) -> str | None:
    name = re.sub(r"^(?:[A-Z][\w\-]*'s\s+)", "", raw.strip())  # "Nolan's The Dark Knight"
    name = re.sub(r"^(?:the\s+)?(?:Eon Productions|Eon|original|official|main|long-running|ongoing|popular|"
                  r"successful|animated|live-action)\s+", "", name, flags=re.I)
    name = re.sub(r"\s+(?:film|films|movie|movies|motion picture)$", "", name, flags=re.I).strip(" '\"")
    if not name or not name[0].isupper() or UNIVERSES.search(name) or len(name) > 50:
        return None
    return name


def parse_lead(extract: str | None) -> LeadFacts:
    """What a Wikipedia lead says about the film's series and the films it follows or remakes."""
    if not extract:
        return LeadFacts()
    lead = extract[:LEAD_CHARS]
    mentions = []
    for m in _RELATION.finditer(lead):
        rest = lead[m.end():m.end() + 200]
        d = _DESCRIPTOR.match(rest)
        year = int(d.group("year")) if d and d.group("year") else None
        if d:
            rest = rest[d.end():]
        same = bool(re.match(r"(?:of\s+)?the same (?:name|title)", rest, re.I))
        rest = _POSSESSIVE.sub("", rest)
        mentions.append(Mention(RELATIONS[m.group("rel").lower()], rest, year, same))
    series = None
    for m in _SERIES.finditer(lead):
        series = series or _series_name(m.group("name"))
    for m in _AFTER.finditer(lead):
        mentions.append(Mention("after", m.group("rest")))
    for m in _FOLLOWS.finditer(lead):  # "the film follows two friends": only a title with its year counts
        rest = lead[m.end():m.end() + 200]
        mentions.append(Mention("follows", rest, dated=True))
    return LeadFacts(tuple(mentions), series)


def _words(text: str) -> list[str]:
    return re.findall(r"[^\s]+", text)[:MAX_TITLE_WORDS + 1]


def resolve(mention: Mention, film: Movie, titles: dict[str, list[int]], movies: Sequence[Movie],
            series: str | None = None) -> int | None:
    """The catalogue row of the film `mention` names (None when none fits): the longest run of
    its first words that is a whole title, ending where the sentence goes on; the year the lead
    gives (±1), else the closest one before `film` (what a film follows or remakes came first)."""
    if mention.same_name:
        cands = titles.get(normalise_title(film.title), [])
        return _pick(cands, movies, film, mention.year)
    words = _words(mention.text)
    for n in range(min(len(words), MAX_TITLE_WORDS), 0, -1):
        head = " ".join(words[:n])
        last = words[n - 1]
        nxt = words[n] if n < len(words) else ""
        ends = last[-1:] in ",.;:)" or nxt == "" or nxt.startswith("(") or nxt.lower().strip(",") in _STOP_AFTER
        if not ends:
            continue
        head = head.rstrip(",.;:")
        if head.endswith(")") and "(" not in head:
            head = head[:-1]
        keys = [normalise_title(head)]
        if series:
            keys += [normalise_title(f"{series}: {head}"), normalise_title(f"{series} {head}")]
        year = mention.year
        if year is None:
            y = _YEAR_AFTER.match(" ".join(words[n:n + 1]))
            year = int(y.group("year")) if y else None
        if mention.dated and year is None:
            continue
        for key in keys:
            if len(key) < 2:
                continue
            row = _pick(titles.get(key, []), movies, film, year)
            if row is not None:
                return row
    return None


def _pick(cands: Sequence[int], movies: Sequence[Movie], film: Movie, year: int | None) -> int | None:
    cands = [r for r in cands if movies[r].key != film.key]
    if year is not None:
        near = [r for r in cands if movies[r].year is not None and abs(movies[r].year - year) <= 1]
        return min(near, key=lambda r: abs(movies[r].year - year)) if near else None
    if film.year is None:
        return cands[0] if len(cands) == 1 else None
    before = [r for r in cands if movies[r].year is not None and movies[r].year <= film.year]
    return max(before, key=lambda r: movies[r].year) if before else None


@dataclass
class SeriesReport:
    """What each kind of evidence found (counted in `reelvec catalog`)."""

    leads_with_relation: int = 0
    relations_linked: dict = field(default_factory=Counter)  # relation -> links found in the catalogue
    relations_unresolved: int = 0
    leads_naming_series: int = 0
    title_stem_groups: int = 0
    joins_refused: int = 0  # links the guards kept from merging two named series, or a remake with its original
    title_stem_dropped: int = 0  # plain titles left out of a title-stem group: no person in common with it
    title_prefix_links: int = 0  # "Mad Max Beyond Thunderdome" after "Mad Max", with a director or lead in common
    name_word_links: int = 0  # "The Bourne Identity" into the "Jason Bourne" series: a word of its name, and a lead
    series: int = 0
    movies_in_series: int = 0
    by_source: dict = field(default_factory=Counter)  # series that each kind of evidence contributed to

    def as_dict(self) -> dict:
        return {"series": self.series, "movies_in_series": self.movies_in_series,
                "leads_with_relation": self.leads_with_relation, "relations_linked": dict(self.relations_linked),
                "relations_unresolved": self.relations_unresolved, "leads_naming_series": self.leads_naming_series,
                "title_stem_groups": self.title_stem_groups, "title_stem_dropped": self.title_stem_dropped,
                "title_prefix_links": self.title_prefix_links,
                "name_word_links": self.name_word_links,
                "joins_refused": self.joins_refused,
                "series_by_evidence": dict(self.by_source)}


def _compatible(a: set[str], b: set[str]) -> bool:
    """Two sets of series names can be one series: a name in common, or one whose words are all
    in the other ("bourne" and "jason bourne")."""
    return bool(a & b) or any(set(x.split()) <= set(y.split()) or set(y.split()) <= set(x.split())
                              for x in a for y in b)


class _Groups:
    """Union-find whose groups remember the series names their leads give and the films they must
    never share a group with (the originals of their remakes)."""

    def __init__(self, n: int):
        self.parent = list(range(n))
        self.names: dict[int, set[str]] = defaultdict(set)
        self.never: dict[int, set[int]] = defaultdict(set)
        self.members: dict[int, set[int]] = {i: {i} for i in range(n)}

    def find(self, i: int) -> int:
        while self.parent[i] != i:
            self.parent[i] = self.parent[self.parent[i]]
            i = self.parent[i]
        return i

    def union(self, a: int, b: int) -> bool:
        ra, rb = self.find(a), self.find(b)
        if ra == rb:
            return True
        na, nb = self.names.get(ra, set()), self.names.get(rb, set())
        if na and nb and not _compatible(na, nb):
            return False  # two series the leads name differently
        if self.never.get(ra, set()) & self.members[rb] or self.never.get(rb, set()) & self.members[ra]:
            return False  # a remake and its original
        if len(self.members[ra]) < len(self.members[rb]):
            ra, rb = rb, ra
        self.parent[rb] = ra
        self.members[ra] |= self.members.pop(rb)
        self.names[ra] |= self.names.pop(rb, set())
        self.never[ra] |= self.never.pop(rb, set())
        return True


def link_series(movies: Sequence[Movie], stems: dict[int, str] | None = None) -> tuple[list[Movie], SeriesReport]:
    """The movies with ``series`` (an id: the normalised series name, else the oldest member's
    title stem), ``series_name`` and ``relations`` (``"sequel:<key>"``: this film is a sequel of
    that one) filled from their leads and title stems. `stems`: row -> title-stem franchise
    (default: `franchise_of(movies)`). Pure."""
    from reelvec.ingest.franchise import franchise_of

    rep = SeriesReport()
    stems = franchise_of(movies) if stems is None else stems
    titles: dict[str, list[int]] = defaultdict(list)
    for r, m in enumerate(movies):
        titles[normalise_title(m.title)].append(r)
        if m.original_title and normalise_title(m.original_title) != normalise_title(m.title):
            titles[normalise_title(m.original_title)].append(r)
    facts = [parse_lead(m.plot) for m in movies]
    groups = _Groups(len(movies))
    named: dict[str, str] = {}  # normalised series name -> how a lead spells it
    for r, f in enumerate(facts):
        if f.series:
            rep.leads_naming_series += 1
            key = normalise_title(f.series)
            named.setdefault(key, f.series)
            groups.names[r].add(key)
    links: list[tuple[int, int, str]] = []
    for r, f in enumerate(facts):
        if f.mentions:
            rep.leads_with_relation += 1
        for men in f.mentions:
            other = resolve(men, movies[r], titles, movies, f.series)
            if other is None:
                rep.relations_unresolved += men.relation not in ("after", "follows")
                continue
            rel = "sequel" if men.relation in ("after", "follows") else men.relation
            links.append((r, other, rel))
            rep.relations_linked[rel] += 1
            if rel == "remake":
                groups.never[r].add(other)
                groups.never[other].add(r)
    direct = {frozenset((r, o)) for r, o, rel in links if rel in JOINING}
    for rows in titles.values():  # films of one title are remakes or other adaptations ("Carrie" 1976 / 2013),
        dated = [r for r in rows if movies[r].year is not None]  # unless a lead says one continues the other
        for i, r in enumerate(dated):
            for o in dated[i + 1:]:
                if movies[r].year != movies[o].year and frozenset((r, o)) not in direct:
                    groups.never[r].add(o)
                    groups.never[o].add(r)
    evidence: dict[int, set[str]] = defaultdict(set)  # row -> kinds of evidence that put it in its group

    def join(a: int, b: int, kind: str) -> None:
        if groups.union(a, b):
            evidence[a].add(kind)
            evidence[b].add(kind)
        else:
            rep.joins_refused += 1
    for r, other, rel in links:
        if rel in JOINING:
            join(r, other, "lead relation")
    by_name: dict[str, list[int]] = defaultdict(list)
    for r, f in enumerate(facts):
        if f.series:
            by_name[normalise_title(f.series)].append(r)
    for name, rows in list(by_name.items()):  # a remake's lead may name its original's franchise: it keeps out
        by_name[name] = rows = [r for r in rows if not any(x.relation == "remake" for x in facts[r].mentions)]
        for r in rows[1:]:
            join(rows[0], r, "lead series name")
    for key, rows in by_name.items():  # "the third film in the Die Hard series" joins the film "Die Hard"
        first = [t for t in titles.get(key, []) if t not in rows and movies[t].year is not None]
        older = [t for t in first if all(movies[r].year is None or movies[t].year <= movies[r].year for r in rows)]
        # not a remake of it ("the second remake in the Freaky Friday franchise"), and people in common
        ok = sorted((r for r in rows if not any(x.relation == "remake" for x in facts[r].mentions)),
                    key=lambda r: movies[r].year or 9999)
        if len(older) == 1 and ok and any(_people(movies[older[0]]) & _people(movies[r]) for r in ok):
            join(ok[0], older[0], "lead series name")
    by_stem: dict[str, list[int]] = defaultdict(list)
    for r, stem in stems.items():
        by_stem[stem].append(r)
    parts: list[list[int]] = []
    for rows in by_stem.values():
        keep = _stem_members(movies, rows)
        rep.title_stem_dropped += len(rows) - len(keep)
        parts += _by_people(movies, keep)
    rep.title_stem_groups = len(parts)
    for rows in parts:
        for r in rows[1:]:
            join(rows[0], r, "title stem")
    rep.title_prefix_links = _join_title_prefixes(movies, groups, evidence)
    rep.name_word_links = _join_by_name_words(movies, facts, groups, evidence)
    comps: dict[int, list[int]] = defaultdict(list)
    for r in range(len(movies)):
        comps[groups.find(r)].append(r)
    out = list(movies)
    relations: dict[int, list[str]] = defaultdict(list)
    for r, other, rel in links:
        tag = f"{rel}:{movies[other].key}"
        if tag not in relations[r]:
            relations[r].append(tag)
    used: set[str] = set()
    for rows in sorted((c for c in comps.values() if len(c) >= 2),
                       key=lambda c: (-len(c), min(movies[r].year or 9999 for r in c), min(c))):
        rows.sort(key=lambda r: (movies[r].year or 9999, r))
        names = Counter(normalise_title(facts[r].series) for r in rows if facts[r].series)
        if names:
            sid = names.most_common(1)[0][0]
            display = named.get(sid, sid)
        else:
            stem = next((stems[r] for r in rows if r in stems), None)
            sid = stem or normalise_title(movies[rows[0]].title)
            display = movies[rows[0]].title if stem is None else _display_stem(movies, rows, stem)
        if sid in used:  # another series of that name (a remake's own sequels: "Halloween" 2007 and 2009)
            year = movies[rows[0]].year
            sid, display = f"{sid} {year}", f"{display} ({year})"
        used.add(sid)
        rep.series += 1
        rep.movies_in_series += len(rows)
        for kind in set().union(*(evidence[r] for r in rows)):
            rep.by_source[kind] += 1
        for r in rows:
            out[r] = dataclasses.replace(out[r], series=sid, series_name=display)
    for r, tags in relations.items():
        out[r] = dataclasses.replace(out[r], relations=tuple(tags))
    return out, rep


def _stem_members(movies: Sequence[Movie], rows: Sequence[int]) -> list[int]:
    """The rows of a title-stem group that belong to the series. Numbered titles and subtitles
    do. Of several films with the plain title ("Prophecy" 1979 and "The Prophecy" 1995, "Babe"
    and "The Babe", remakes), only those sharing a director or lead actor with a numbered one
    do; when no people say so, the last plain one before the first numbered film (its original);
    with no numbered film, plain ones that share people with another."""
    from reelvec.ingest.franchise import title_parts

    numbered = [r for r in rows if _numbered(movies[r].title)]
    plain = [r for r in rows if r not in numbered]
    if len(plain) == 1 and numbered and not any(title_parts(movies[r].title).strong for r in numbered):
        # only subtitles ("The Lord of the Rings: The Two Towers"): the plain one ("The Lord of the
        # Rings", 1978) must share a person with them, where both sides name people
        r = plain[0]
        known = [o for o in numbered if _people(movies[o])]
        if _people(movies[r]) and known and not any(_people(movies[r]) & _people(movies[o]) for o in known):
            return numbered
        return list(rows)
    if len(plain) <= 1:
        return list(rows)
    if not numbered:
        return [r for r in plain if any(_people(movies[r]) & _people(movies[o]) for o in plain if o != r)]
    sharing = [r for r in plain if any(_people(movies[r]) & _people(movies[o]) for o in numbered)]
    if sharing:
        return numbered + sharing
    first = min((movies[r].year or 9999) for r in numbered)
    before = [r for r in plain if (movies[r].year or 9999) <= first]
    return numbered + ([max(before, key=lambda r: movies[r].year or 0)] if before else [])


def _by_people(movies: Sequence[Movie], rows: Sequence[int]) -> list[list[int]]:
    """A title-stem group split where its films share no director or lead actor ("Captain
    America" 1979 with Reb Brown, and 2011 with Chris Evans; "G.I. Joe: The Movie" 1987 and the
    2009 one) into the parts that films of two or more share people within."""
    if len(rows) <= 2:
        return [list(rows)]
    known = [r for r in rows if _people(movies[r])]
    parent = {r: r for r in known}

    def find(x):
        while parent[x] != x:
            parent[x] = parent[parent[x]]
            x = parent[x]
        return x
    for i, r in enumerate(known):
        for o in known[i + 1:]:
            if _people(movies[r]) & _people(movies[o]):
                parent[find(r)] = find(o)
    comps: dict[int, list[int]] = defaultdict(list)
    for r in known:
        comps[find(r)].append(r)
    big = sorted((c for c in comps.values() if len(c) >= 2), key=len, reverse=True)
    # a film without people joins when it shares a genre with those that have them ("The Raid 2"
    # without a cast list); not an animated line beside live-action films ("Batman: Under the Red Hood")
    genres = {g for r in known for g in movies[r].genres}
    bare = [r for r in rows if r not in parent
            and (not known or not genres or not movies[r].genres or genres & set(movies[r].genres))]
    if len(big) <= 1:  # one cast: recast sequels ("Tremors 4", direct-to-video ones) stay with it
        return [[r for r in rows if r in parent] + bare] if len(known) + len(bare) >= 2 else []
    # two casts of two films or more each: two series. A lone film joins the largest, and films
    # without people join none (they could belong to either)
    big[0] += [r for c in comps.values() if len(c) == 1 for r in c]
    return big


def _numbered(title: str) -> bool:
    """A title with a sequel number or a subtitle ("Rocky II", "Alien: Resurrection")."""
    from reelvec.ingest.franchise import title_parts

    p = title_parts(title)
    return bool(p.number or p.subtitle)


def _people(m: Movie) -> set[str]:
    return set(m.directors or ((m.director,) if m.director else ())) | set(m.cast[:3])


def _join_title_prefixes(movies: Sequence[Movie], groups: _Groups, evidence: dict[int, set[str]]) -> int:
    """A film whose title continues a series member's whole title ("Mad Max Beyond Thunderdome"
    after "Mad Max") joins that series when the two share a director or a lead actor."""
    heads: dict[str, list[int]] = defaultdict(list)
    for rows in groups.members.values():
        if len(rows) >= 2:
            for r in rows:
                t = normalise_title(movies[r].title)
                if len(t.split()) >= 2:
                    heads[t].append(r)
    joined = 0
    for r, m in enumerate(movies):
        if len(groups.members.get(groups.find(r), ())) >= 2:
            continue
        words = normalise_title(m.title).split()
        for n in range(len(words) - 1, 1, -1):
            for other in heads.get(" ".join(words[:n]), ()):
                if _people(m) & _people(movies[other]) and groups.union(r, other):
                    evidence[r].add("title prefix")
                    evidence[other].add("title prefix")
                    joined += 1
                    break
            else:
                continue
            break
    return joined


NAME_WORD_TITLES = 8  # a series-name word in more titles than this is a common word, not a name
_NAME_STOP = frozenset({"the", "of", "and", "a", "an", "film", "series", "saga", "trilogy", "man", "story", "movie"})


def _join_by_name_words(movies: Sequence[Movie], facts: Sequence[LeadFacts], groups: _Groups,
                        evidence: dict[int, set[str]]) -> int:
    """A film whose title holds a word of a series' name ("The Bourne Identity", "Hannibal") and
    that shares a director or lead actor with one of its members joins that series (at most
    one: a film whose words and people fit two series joins neither)."""
    df = Counter(w for m in movies for w in set(normalise_title(m.title).split()))
    named: dict[str, set[int]] = defaultdict(set)  # name word -> rows of films whose lead names such a series
    for r, f in enumerate(facts):
        words = [w for w in normalise_title(f.series or "").split() if w not in _NAME_STOP]
        if len(words) >= 2:  # a one-word name ("Before") would take every title with that word
            for w in words:
                # a name's rare word ("bourne", "lecter"), not a common one ("night", "world", "king")
                if len(w) >= 4 and df[w] <= NAME_WORD_TITLES:
                    named[w].add(r)
    joined = 0
    for r, m in enumerate(movies):
        root = groups.find(r)
        if groups.names.get(root):
            continue  # its own lead (or its group's) names a series already
        fits = {groups.find(o) for w in normalise_title(m.title).split() for o in named.get(w, ())
                if _people(m) & _people(movies[o]) and groups.find(o) != root}
        if len(fits) == 1 and groups.union(r, next(iter(fits))):
            evidence[r].add("series name word")
            joined += 1
    return joined


def _display_stem(movies: Sequence[Movie], rows: Sequence[int], stem: str) -> str:
    """How the oldest member spells the stem ("the matrix" -> "The Matrix")."""
    from reelvec.ingest.franchise import title_parts

    for r in rows:
        t = movies[r].title
        if title_parts(t).stem == stem:
            head = re.split(r"\s*(?::|\s-\s|\s–\s)\s*", t)[0]
            return re.sub(r"[\s,]+(?:part\s*)?(?:\d{1,2}|[IVX]{1,4})$", "", head, flags=re.I).strip() or t
    return movies[rows[0]].title


def series_split(series: str, test_share: float = 0.3) -> str:
    """'dev' or 'test' for a series id, stable on every machine: evaluation tunes on the dev
    series' pairs and reports on the test ones, so no series is on both sides."""
    import hashlib

    h = int(hashlib.sha256(series.encode()).hexdigest()[:8], 16) / 0xFFFFFFFF
    return "test" if h < test_share else "dev"
