"""People as names: directors and writers read off a Wikipedia lead with a grammar of the phrase,
cast entries checked, every name validated.

The data has no credits table, so the crew comes from the lead's own words ("... directed by
Steven Spielberg. It stars ...", "written and directed by Joel and Ethan Coen", "Directed by
Andrew Stanton with co-direction by Lee Unkrich"). A name is a run of name tokens: capitalised
words, initials ("J.", "J.P."), particles between them ("von", "de", "van der"), a suffix
("Jr."); it ends at a comma, "and", a lowercase word or the end of a sentence (a period after a
word that is not an initial). Anything that fails the check is dropped and counted, never kept
as a fragment such as "Steven Spielberg. It".

Pure functions; `reelvec.ingest.wikipedia` calls them per entry.
"""
from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field

PARTICLES = frozenset({"von", "van", "der", "den", "de", "du", "da", "di", "del", "della", "degli", "des", "la", "le",
                       "dos", "das", "do", "ter", "ten", "bin", "ibn", "al", "el", "y", "zu", "af", "av", "op", "'t"})
SUFFIXES = frozenset({"Jr.", "Jr", "Sr.", "Sr", "II", "III", "IV"})
ABBREVIATIONS = frozenset({"St.", "Dr.", "Mr.", "Mrs.", "Ms.", "Mt.", "Ft."})
# capitalised words that begin a sentence or name a thing, never a person's name
NOT_NAMES = frozenset({
    "It", "The", "This", "That", "These", "Those", "He", "She", "They", "We", "In", "A", "An", "Its", "His", "Her",
    "Their", "Produced", "Written", "Directed", "Starring", "Stars", "Based", "From", "After", "Set", "As", "With",
    "On", "At", "For", "And", "But", "When", "While", "Following", "Film", "Films", "Pictures", "Studios", "Studio",
    "Productions", "Production", "Entertainment", "Company", "Brothers", "Animation", "Disney", "Pixar", "Warner",
    "Universal", "Paramount", "Columbia", "Metro", "Goldwyn", "Mayer", "United", "Artists", "American", "British",
    "French", "Italian", "German", "Japanese", "Indian", "Australian", "Canadian", "Hollywood", "Screenplay", "Story",
    "Music", "Uncredited", "Co", "Part", "Chapter", "Sequel", "Remake", "Trilogy", "Series", "Edition", "Version",
    "Original", "Official", "Various", "Unknown", "Anonymous", "None", "Himself", "Herself", "Narrator", "Voice",
    "Adapted", "Filmed", "Released", "Shot", "Featuring", "Featured", "Made", "Edited", "Scored", "Narrated",
    "Inspired", "Distributed", "Co-written", "Co-produced", "Presented", "Developed", "Created", "Executive",
    "There", "Here", "Upon", "During", "Although", "Despite", "Unlike", "Like", "Because", "Since",
})
# words that name a company or a thing wherever they stand in a "name" ("Walt Disney Pictures")
THINGS = frozenset({"Film", "Films", "Pictures", "Studios", "Studio", "Productions", "Production", "Entertainment",
                    "Company", "Animation", "Television", "Records", "Media", "Group", "Inc.", "Ltd."})
# surnames that are also words the lists above hold: a name may end in them ("Bryan Singer", "Tim Story")
SURNAMES_TOO = frozenset({"Story", "Mayer", "Goldwyn", "Singer", "Voice", "Music", "Brothers", "Warner", "Disney",
                          "Universal", "Paramount", "Columbia", "Metro", "United", "Hollywood", "Part", "Stars"})
ROLES = frozenset({"writer", "director", "producer", "screenplay", "story", "co-director", "uncredited", "voice",
                   "narrator", "cameo", "himself", "herself", "archive", "footage", "host", "presenter", "singer",
                   "composer", "and", "with", "as", "by", "starring", "cast", "others", "various"})

_TOKEN = re.compile(r"[^\s,;:()\[\]\"“”]+|[,;:()\[\]\"“”]")
_INITIALS = re.compile(r"^(?:[A-Z]\.){1,3}$|^[A-Z]\.?[A-Z]\.$")
# "directed by", "co-directed by", "written and directed by", "directed and produced by",
# "directed, written and produced by", "with co-direction by"
_ROLES_AND = (r"(?:\s*,\s*(?:and\s+)?|\s+and\s+)(?:co-)?(?:written|produced|edited|animated|photographed|scored|"
              r"shot|narrated|created|conceived|choreographed|designed)")
# "directed by, and starring X", "directed by, produced by, and starring X", "directed by and stars X"
_BY_AND = r"(?:\s*,?\s*(?:and\s+)?(?:produced|written|starring|stars|featuring|co-starring|edited)(?:\s+by)?)*\s*,?"
_DIRECTED = re.compile(r"\b(?:co-)?[Dd]irect(?:ed|ion)(?:" + _ROLES_AND + r")*\s+by" + _BY_AND + r"\s+")
# "directed by British photojournalist Tim Hetherington", "by its star Emilio Estevez", "by Carrey's close
# friend Steve Oedekerk": what the lead says of the person before the name
_DESCRIBED = re.compile(
    r"^(?:(?:the|its|his|her|their|an?|[a-z][\w\-]*|[A-Z][\w\-]*'s|[A-Z][a-z]+(?:an|ian|ish|ese|ch|i))\s+){0,4}?"
    r"(?:film-?makers?|directors?|photojournalists?|journalists?|actors?|actress(?:es)?|(?<=its |his |her )star|"
    r"natives?|friends?|comedians?|screenwriters?|animators?|artists?|producers?|writers?|novelists?|musicians?|"
    r"cinematographers?|duo|team|debutant|newcomer|veteran|co-star|creator|photographer|documentarian|"
    r"choreographer|playwright)\s+(?=[A-Z])")
_WRITTEN = re.compile(r"\b(?:[Ww]ritten|[Ss]creenplay|[Cc]o-written)(?:\s*(?:,|and)\s*(?:produced|directed|"
                      r"co-produced))*\s+(?:is\s+)?by\s+")
_MUSIC = re.compile(r"\b(?:[Mm]usic|[Ss]core|[Ss]oundtrack)\s+(?:was\s+)?(?:composed\s+)?by\s+")
LEAD_CHARS = 700  # the crew is named in the lead's first sentences


def _name_token(w: str, first: bool = True) -> bool:
    """A capitalised word of a name ("Spielberg", "O'Brien", "Jean-Pierre", "De"), an initial
    ("J.", "J.P.") or a suffix ("Jr."). Sentence words ("It", "The") never start one; words that
    are also surnames ("Singer", "Story") may follow a first name."""
    if _INITIALS.match(w) or w in SUFFIXES:
        return True
    if not w or not w[0].isupper() or w in THINGS or (w in NOT_NAMES and (first or w not in SURNAMES_TOO)):
        return False
    core = w.replace("'", "").replace("’", "").replace("-", "").replace(".", "")
    if not core.isalpha():
        return False
    return not (w.isupper() and len(core) > 3)  # "NASA", "THE": not a name; "RZA" may be


def valid_name(name: str) -> bool:
    """A person's name: 2-6 tokens, each a capitalised word, an initial, a particle between
    them or a suffix at the end; at least two that are not particles; no sentence words, roles
    or brackets. Single-word names (stage names) are not accepted from free text."""
    tokens = name.split()
    if not 2 <= len(tokens) <= 6 or any(c in name for c in "()[]{}<>|/\\@#:;!?\"“”0123456789"):
        return False
    if tokens[0].lower() in PARTICLES and tokens[0][0].islower() or tokens[-1].lower() in PARTICLES:
        return False
    words = 0
    for i, t in enumerate(tokens):
        if t.lower() in ROLES and (t[0].islower() or t not in SURNAMES_TOO or i == 0):
            return False
        if t.lower() in PARTICLES and t[0].islower():
            continue
        if t in SUFFIXES:
            if i != len(tokens) - 1:
                return False
            continue
        if not _name_token(t, first=i == 0):
            return False
        words += not _INITIALS.match(t)
    return words >= 1 and len(tokens) - sum(t.lower() in PARTICLES and t[0].islower() for t in tokens) >= 2


def names_after(text: str, known: Sequence[str] = ()) -> list[str]:
    """The names listed at the start of `text` ("Joel and Ethan Coen. Frances ..." ->
    ["Joel Coen", "Ethan Coen"]); stops at the first word that continues the sentence. A lone
    family name that ends a `known` name is that person ("Stanton" after "Andrew Stanton"); a
    lone first name joined by "and" to a full name shares its family name ("Joel and Ethan Coen")."""
    out: list[tuple[list[str], str]] = []  # (tokens, what separated them from the next name)
    cur: list[str] = []
    toks = _TOKEN.findall(text[:400])
    stop = False
    for i, tok in enumerate(toks):
        if tok in (",", ";", "(", ")", "[", "]", ":", '"', "“", "”") or tok in ("and", "&"):
            if cur:
                out.append((cur, "and" if tok in ("and", "&") else ","))
                cur = []
            elif tok in ("and", "&") and out:
                out[-1] = (out[-1][0], "and")  # ", and"
            if tok not in (",", "and", "&"):
                break
            continue
        end = tok.endswith(".") and not _INITIALS.match(tok) and tok not in SUFFIXES and tok not in ABBREVIATIONS
        word = tok[:-1] if end else tok
        nxt = toks[i + 1] if i + 1 < len(toks) else ""
        if word.lower() in PARTICLES and word[0].islower() and cur and nxt[:1].isupper():
            cur.append(word)
        elif word and _name_token(word, first=not cur) or (word in ABBREVIATIONS and nxt[:1].isupper()):
            cur.append(word)
        else:
            stop = True
        if end or stop:
            break
    if cur:
        out.append((cur, ""))
    names = []
    by_family = {k.split()[-1]: k for k in known if len(k.split()) >= 2}
    for i, (tokens, sep) in enumerate(out):
        if len(tokens) == 1:
            if tokens[0] in by_family:
                names.append(by_family[tokens[0]])
                continue
            if sep == "and" and i + 1 < len(out) and len(out[i + 1][0]) >= 2:
                names.append(f"{tokens[0]} {out[i + 1][0][-1]}")
                continue
        names.append(" ".join(tokens))
    return names


@dataclass
class Crew:
    """The crew a lead names, and the candidate names that failed validation."""

    directors: list[str] = field(default_factory=list)
    writers: list[str] = field(default_factory=list)
    composers: list[str] = field(default_factory=list)
    rejected: list[str] = field(default_factory=list)


# a "directed by" about another film or part: "the 1946 French film of the same name directed by Jean
# Cocteau", "the first film not to be directed by", "the remake directed by", "live action scenes directed by"
_OTHER = re.compile(r"(?:\bnot to be|\bof the same (?:name|title)|\b(?:remake|sequel|prequel|version|original|"
                    r"sequences?|scenes?|segments?|story direction|supervised)),?\s*$", re.I)


def _collect(pattern: re.Pattern, lead: str, crew: Crew, known: Sequence[str] = (), own: bool = False) -> list[str]:
    """The names after each match of `pattern`. `own` (directors): only where the lead states the
    film's own direction: the first such phrase, and "co-directed by" after it."""
    got: list[str] = []
    for m in pattern.finditer(lead):
        if own:
            if _OTHER.search(lead[max(0, m.start() - 60):m.start()]) or (got and not m.group(0).lower().startswith("co-direct")
                                                        and "co-direct" not in m.group(0).lower()):
                continue
        rest = lead[m.end():]
        d = _DESCRIBED.match(rest)
        if d:
            rest = rest[d.end():]
        for n in names_after(rest, known=[*crew.directors, *crew.writers, *got, *known]):
            if valid_name(n):
                if n not in got:
                    got.append(n)
            elif n not in crew.rejected:
                crew.rejected.append(n)
    return got


def crew_from_lead(extract: str | None, cast: Sequence[str] = ()) -> Crew:
    """Directors, writers and composers a Wikipedia lead names (in order of appearance). A lone
    family name ("produced and directed by Hanks", "directed by Seltzer") is the person of the
    cast list or of the lead's other credits who has it."""
    crew = Crew()
    if not extract:
        return crew
    lead = extract[:LEAD_CHARS]
    crew.directors = _collect(_DIRECTED, lead, crew, cast, own=True)
    crew.writers = _collect(_WRITTEN, lead, crew, cast)
    crew.directors = _collect(_DIRECTED, lead, crew, cast, own=True)  # again: "written by A and B, directed by B"
    crew.composers = _collect(_MUSIC, lead, crew, cast)
    crew.rejected = [n for n in crew.rejected if n.split()[-1] not in {x.split()[-1] for x in crew.directors}]
    return crew


def cast_names(items: Iterable[str]) -> tuple[list[str], list[str]]:
    """(kept, rejected) of a cast list: entries such as "writer)", "and" or "(voice)" are not
    names. Stage names of one word are kept here (a cast list names people, unlike free text)."""
    kept: list[str] = []
    rejected: list[str] = []
    for raw in items:
        n = " ".join(str(raw or "").split()).strip(" ,;.")
        if not n:
            continue
        one_word_ok = len(n.split()) == 1 and _name_token(n) and n.lower() not in ROLES and len(n) >= 2
        if valid_name(n) or one_word_ok:
            if n not in kept:
                kept.append(n)
        else:
            rejected.append(n)
    return kept, rejected


def same_people(a: Sequence[str], b: Sequence[str]) -> list[str]:
    """The names both lists hold (exact, after whitespace folding)."""
    bs = {" ".join(x.split()) for x in b}
    return [x for x in a if " ".join(x.split()) in bs]
