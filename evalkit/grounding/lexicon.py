"""Tokens, stems and term lexicons for the grounding judge.

Everything here is built once per process and then used through plain dict and set
lookups, so grounding a note costs microseconds per sentence. Term lists come from
``evalkit.text.vocab`` (drugs, conditions, anatomy) plus the grounding-specific lists in
``rubrics/grounding/`` (synonym groups, extra findings, anatomy groups).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import lru_cache
from itertools import compress
from pathlib import Path
from typing import Final

from ..errors import InputError
from ..paths import rubrics_dir

#: words ("don't"), letter-digit names ("a1c", "b12") and numbers ("1,000", "98.6"); written so that a
#: word is matched without backtracking (this regex runs over every transcript turn)
TOKEN_RE: Final = re.compile(r"[a-z]+(?:\d[a-z\d]*|(?:'[a-z]+)*)|\d+(?:,\d{3})*(?:\.\d+)?")

STOPWORDS: Final = frozenset("""
a an the and or but nor so of to in on at by for with from into onto over under about as is are was were be
been being am do does did done doing have has had having i me my mine we us our you your he him his she her
hers they them their it its this that these those there here then than which who whom whose what when where
why how not no yes if also just very really quite some any all both each other such own same too can could will
would shall should may might must let lets let's i'm i've i'd i'll you're you've you'll he's she's it's that's
there's we're we've we'll they're they've don't doesn't didn't won't n't ca wo um uh okay ok yeah well like
mr mrs ms dr patient patients pt today now again further more most much many one per
""".split())

#: discourse words that are never clinical content on their own
GENERIC: Final = frozenset("""
report reports reported state states stated note notes noted say says said tell tells told feel feels felt
continue continued think thought know knew want wanted go going went get getting got take taking took make
made see seen saw come came look looking looked thing things lot little bit time times day days week weeks
month months year years good great fine better worse well okay sure right left also still some kind sort
""".split())

_IRREGULAR: Final = {
    "feet": "foot", "teeth": "tooth", "swollen": "swell", "breathing": "breath", "breathe": "breath",
    "breathes": "breath", "breathed": "breath", "took": "take", "taken": "take", "given": "give", "gave": "give",
    "ran": "run", "fell": "fall", "fallen": "fall", "hurt": "hurt", "hurts": "hurt", "hurting": "hurt",
    "children": "child", "women": "woman", "men": "man", "worse": "worse", "better": "better",
    "lying": "lie", "lay": "lie", "laid": "lie", "felt": "feel", "sleeping": "sleep", "slept": "sleep",
    "diabetic": "diabet", "diabetes": "diabet", "was": "was", "has": "has", "is": "is", "does": "does",
    "bilaterally": "bilateral", "nauseous": "nause", "nauseated": "nause", "nausea": "nause",
    "xray": "x-ray", "xrays": "x-ray", "x-rays": "x-ray", "meds": "medic", "med": "medic",
    "medications": "medic", "medication": "medic", "medicine": "medic", "medicines": "medic",
    "my": "the", "your": "the", "his": "the", "her": "the", "their": "the", "our": "the",
    "tylenol": "tylenol", "this": "this", "its": "its", "his": "his", "us": "us", "analysis": "analysis",
}

_stem_cache: dict[str, str] = {}


def _undouble(w: str) -> str:
    if len(w) > 3 and w[-1] == w[-2] and w[-1] not in "lsz":
        return w[:-1]
    return w


def _stem_uncached(w: str) -> str:
    if w in _IRREGULAR:
        return _IRREGULAR[w]
    if len(w) <= 3 or not w.isalpha():
        if w.endswith("'s"):
            return w[:-2]
        return w
    if w.endswith("'s"):
        w = w[:-2]
    if w.endswith("ies") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("sses"):
        w = w[:-2]
    elif w.endswith(("xes", "ches", "shes", "zes")):
        w = w[:-2]
    elif w.endswith("s") and not w.endswith(("ss", "us", "is", "ous")) and len(w) > 3:
        w = w[:-1]
    if w.endswith("ness") and len(w) > 6:
        w = w[:-4]
    if w.endswith("ation") and len(w) > 7:
        w = w[:-3]
    elif w.endswith("ing") and len(w) > 5:
        w = _undouble(w[:-3])
    elif w.endswith("ied") and len(w) > 4:
        w = w[:-3] + "y"
    elif w.endswith("ed") and len(w) > 4 and not w.endswith("eed"):
        w = _undouble(w[:-2])
    elif w.endswith("ly") and len(w) > 5:
        w = w[:-2]
    if w.endswith("e") and len(w) > 4:
        w = w[:-1]
    if w.endswith("y") and len(w) > 4:
        w = w[:-1] + "i"
    return w


def stem(word: str) -> str:
    """Light suffix-stripping stem of a lower-case word (cached).

    Args:
        word: a lower-case token.
    """
    s = _stem_cache.get(word)
    if s is None:
        s = _stem_uncached(word)
        _stem_cache[word] = s
    return s


_findall = TOKEN_RE.findall


def tokenize(norm: str) -> list[str]:
    """:data:`TOKEN_RE` tokens of lower-case text (one C-level regex pass: faster than
    splitting on whitespace first, even on transcripts).
    """
    return _findall(norm)


_NT: Final = re.compile(r"\s*n't\b")
_CANNOT: Final = re.compile(r"\bcannot\b")


def expand_not(low: str) -> str:
    """Lower-case text with "n't" read as " not" and "cannot" as "ca not" (as "can't" becomes), so that
    negation triggers and lexicon terms ("can't sleep") match written and spoken forms alike."""
    if "cannot" in low:
        low = _CANNOT.sub("ca not", low)
    return _NT.sub(" not", low) if "n't" in low else low


def tokens(text: str) -> list[str]:
    """Lower-case word and number tokens of ``text``, contractions expanded (:func:`expand_not`), as
    :func:`evalkit.grounding.negation.normalize` reads notes and transcripts ("can't sleep" -> ca, not, sleep)."""
    return TOKEN_RE.findall(expand_not(text.lower()))


def stems(toks: list[str]) -> list[str]:
    """Stems of a token list, one per token."""
    try:
        return list(map(_stem_cache.__getitem__, toks))  # every word seen before: one C-level pass
    except KeyError:
        return [stem(t) for t in toks]


def content_stems(toks: list[str]) -> list[str]:
    """Stems of the tokens that carry content (no stopwords, no generic discourse words)."""
    return [stem(t) for t in toks if t not in STOPWORDS and t not in GENERIC and not t.isdigit()]


# ---------------------------------------------------------------------------------- lexicon

LATERALITY: Final = {"left": "left", "right": "right", "bilateral": "bilateral", "bilaterally": "bilateral",
              "both": "bilateral"}
OPPOSITE: Final = {"left": "right", "right": "left"}
POSITION_WORDS: Final = frozenset("""left right bilateral bilaterally unilateral upper lower anterior posterior medial
lateral proximal distal superior inferior dorsal ventral palmar plantar""".split())

#: conditions too generic to be a fabricated diagnosis on their own
GENERIC_FINDINGS: Final = frozenset("""pain swell inflammation infection mass lump strain burn wound allergy allergi
cold flu congestion weakness fatigue cyst tumor tumour cancer murmur tender ache sore hurt discomfort""".split())


@dataclass
class Term:
    category: str  # drug | condition | finding | anatomy
    canonical: str  # concept id shared by synonyms
    stems: tuple[str, ...]
    text: str


@dataclass
class Lexicon:
    """Stem-sequence phrase matcher over every term list, with synonym groups."""

    first: dict[str, list[Term]] = field(default_factory=dict)
    anatomy_group: dict[str, str] = field(default_factory=dict)  # anatomy canonical -> group
    parent: dict[str, str] = field(default_factory=dict)  # member canonical -> parent canonical
    members: dict[str, set[str]] = field(default_factory=dict)  # parent canonical -> member canonicals
    drug_names: frozenset[str] = frozenset()  # single-token drug names (lower-case)
    anatomy: "Lexicon | None" = None  # anatomy terms only (body parts inside "knee pain", "back pain")
    _parts: dict[int, tuple[list[str], list[str]]] = field(default_factory=dict)
    _treatments: dict[int, tuple[str, ...]] = field(default_factory=dict)
    symptoms: frozenset[str] = frozenset()  # canonicals of symptoms (a past episode is not a current one)
    _idx: dict | None = field(default=None, repr=False)  # match index (see _starts), rebuilt after add

    def add(self, text: str, category: str, canonical: str | None = None) -> None:
        st = tuple(stems(tokens(text)))
        if not st:
            return
        self._idx = None
        canon = canonical or " ".join(st)
        lst = self.first.setdefault(st[0], [])
        for t in lst:
            if t.stems == st:
                if category == "drug" and t.category != "drug":
                    t.category = "drug"
                return
        lst.append(Term(category, canon, st, text))
        lst.sort(key=lambda t: -len(t.stems))

    def parts(self, term: Term) -> tuple[list[str], list[str]]:
        """``(finding canonicals, anatomy canonicals)`` inside a term ("knee pain" -> pain, knee)."""
        got = self._parts.get(id(term))
        if got is None:
            anat: list[str] = []
            rest = list(term.stems)
            if self.anatomy is not None and len(term.stems) > 1:
                for s, e, t in self.anatomy.match(list(term.stems)):
                    anat.append(t.canonical)
                    rest[s:e] = [""] * (e - s)
            finds = [term.canonical]
            if anat:
                finds += [t.canonical for _, _, t in self.match([r for r in rest if r]) if t.category != "anatomy"]
            elif len(term.stems) > 1:  # "dyspnea on exertion" is also "dyspnea"
                for part in (list(term.stems[:-1]), list(term.stems[1:])):
                    finds += [t.canonical for _, _, t in self.match(part)
                              if t.category == term.category and t.canonical not in finds]
            got = (finds, anat)
            self._parts[id(term)] = got
        return got

    def treatments_in(self, term: Term) -> tuple[str, ...]:
        """Canonicals of the procedures and drugs named after a multi-word term's first word ("covid
        vaccine" -> vaccination), cached per term like :meth:`parts`."""
        got = self._treatments.get(id(term))
        if got is None:
            got = self._treatments[id(term)] = tuple(t.canonical for _, _, t in self.match(list(term.stems[1:]))
                                                     if t.category in ("procedure", "drug"))
        return got

    def find(self, text: str) -> Term | None:
        """The lexicon entry for exactly ``text``, if any."""
        st = tuple(stems(tokens(text)))
        for t in self.first.get(st[0], ()) if st else ():
            if t.stems == st:
                return t
        return None

    def match(self, st: list[str], start: int = 0, end: int | None = None) -> list[tuple[int, int, Term]]:
        """Longest non-overlapping term matches in a stem list: ``(start, end, term)``."""
        out: list[tuple[int, int, Term]] = []
        first = self.first
        n = len(st) if end is None else end
        nxt = start
        if start == 0 and n == len(st):
            at = list(compress(range(n), map(first.__contains__, st)))  # C-level scan for term starts
        else:
            at = [i for i in range(start, n) if st[i] in first]
        starts = self._starts()
        for i in at:
            if i < nxt:
                continue
            single, longer = starts[st[i]]
            hit, k = single, 1
            if longer and i + 1 < n:
                second = st[i + 1]
                for s2, k2, full, t in longer:  # longest first; the second stem rules most out
                    if s2 == second and i + k2 <= n and (k2 == 2 or tuple(st[i:i + k2]) == full):
                        hit, k = t, k2
                        break
            if hit is not None:
                out.append((i, i + k, hit))
                nxt = i + k
        return out

    def _starts(self) -> dict[str, tuple[Term | None, tuple[tuple[str, int, tuple[str, ...], Term], ...]]]:
        """First stem → (its one-stem term, longer terms as (second stem, length, stems, term)), built once."""
        got = self._idx
        if got is None:
            got = {}
            for w, lst in self.first.items():
                single = next((t for t in lst if len(t.stems) == 1), None)
                got[w] = (single, tuple((t.stems[1], len(t.stems), t.stems, t) for t in lst if len(t.stems) > 1))
            self._idx = got
        return got


def grounding_dir() -> Path:
    """Folder of the grounding judge's own lists (``rubrics/grounding``)."""
    return rubrics_dir() / "grounding"


def _read_lines(path: Path) -> list[str]:
    if not path.exists():
        raise InputError(str(path), None, "grounding list is missing",
                         "restore it from the repository or set EVALKIT_DATA_ROOT")
    out = []
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip().lower()
        if line:
            out.append(line)
    return out


def _vocab_list(name: str) -> frozenset[str]:
    try:
        from ..text import vocab
    except ImportError:  # pragma: no cover - vocab ships with evalkit
        return frozenset()
    try:
        return vocab.load_list(name)
    except InputError:
        return frozenset()


@lru_cache(maxsize=1)
def lexicon() -> Lexicon:
    """The process-wide lexicon (built on first use, ~30 ms)."""
    lx = Lexicon()
    gdir = grounding_dir()
    # synonym groups first: their canonical ids win for every member
    for line in _read_lines(gdir / "synonyms.txt"):
        cat, _, rest = line.partition(":")
        members = [m.strip() for m in rest.split("|") if m.strip()]
        if not members:
            continue
        canon = " ".join(stems(tokens(members[0])))
        for m in members:
            lx.add(m, cat.strip(), canon)
    drugs = _vocab_list("drugs") | frozenset(_read_lines(gdir / "drugs_extra.txt"))
    for d in sorted(drugs):  # sorted: the first of two spellings of a term wins whatever PYTHONHASHSEED is
        lx.add(d, "drug")
    for c in sorted(_vocab_list("conditions") | frozenset(_read_lines(gdir / "findings.txt"))):
        lx.add(c, "condition")
    for a in sorted(_vocab_list("anatomy")):
        if a not in POSITION_WORDS:
            lx.add(a, "anatomy")
    for line in _read_lines(gdir / "anatomy_groups.txt"):
        group, _, rest = line.partition(":")
        for m in rest.split("|"):
            m = m.strip()
            if not m:
                continue
            t = lx.find(m)
            if t is None:
                lx.add(m, "anatomy")
                t = lx.find(m)
            lx.anatomy_group.setdefault(t.canonical, group.strip())  # type: ignore[union-attr]
    for line in _read_lines(gdir / "parents.txt"):
        par, _, rest = line.partition(":")
        pt = lx.find(par.strip())
        if pt is None:
            lx.add(par.strip(), "procedure")
            pt = lx.find(par.strip())
        for m in rest.split("|"):
            m = m.strip()
            if not m:
                continue
            mt = lx.find(m)
            if mt is None:
                lx.add(m, pt.category)  # type: ignore[union-attr]
                mt = lx.find(m)
            lx.parent[mt.canonical] = pt.canonical  # type: ignore[union-attr]
            lx.members.setdefault(pt.canonical, set()).add(mt.canonical)  # type: ignore[union-attr]
    for u in _read_lines(gdir / "unchecked.txt"):
        t = lx.find(u)
        if t is not None:
            t.category = "measure"
    lx.symptoms = frozenset(t.canonical for t in map(lx.find, _read_lines(gdir / "symptoms.txt")) if t is not None)
    lx.drug_names = frozenset(d for d in drugs if " " not in d)
    anat = Lexicon()
    for lst in lx.first.values():
        for t in lst:
            if t.category == "anatomy":
                anat.add(t.text, "anatomy", t.canonical)
    lx.anatomy = anat
    return lx


def anatomy_group(lx: Lexicon, canonical: str) -> str:
    """Coarse body-region group of an anatomy concept (``arm`` for ``forearm``, ``upper extremity``)."""
    return lx.anatomy_group.get(canonical, canonical)
