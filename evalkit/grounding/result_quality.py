"""Test results the note turns round (rule ``result.opposite``): "X-ray of the chest demonstrates possible
congestive heart failure" where the clinician said the chest x-ray "looks good"; "Normal liver function
test results" where the liver panel showed "an elevated ast".

A result is read in the words after a test's name (the clinician's in a window of the turn, the note's in
its claim): normal ("normal", "looks good", "unremarkable", "no evidence of"...) or abnormal ("elevated",
"abnormal", "positive", or a finding it shows). The note's reading is contradicted when the clinician read
the same test (or one of its family: "liver panel" for "liver function tests") and every reading was the
other way; a test only ordered has no reading and counts for nothing.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from typing import Final

from ..schema import SpeakerRole
from .checks import CONTRADICTED, Check
from .entities import Unit
from .index import TranscriptIndex
from .lexicon import GENERIC_FINDINGS, lexicon
from .negation import AFF, POSS

_TESTS: Final = ("x-ray", "mri", "ct scan", "ultrasound", "electrocardiogram", "echocardiogram", "liver function test",
                 "liver panel", "urinalysis", "lipid panel", "autoimmune panel")
_NORMAL: Final = re.compile(r"\b(?:normal|unremarkable|negative|within normal limits|wnl|looks? (?:good|great|fine|"
                            r"okay|ok|normal|clear)|looked (?:good|great|fine|okay|normal)|no evidence|no sign|"
                            r"seem(?:s|ed)? (?:to be )?(?:fine|normal|good|okay)|"
                            r"everything (?:looks|looked|was|is) (?:good|fine|normal|okay))\b")
_ABNORMAL: Final = re.compile(r"\b(?:abnormal\w*|elevat\w*|high|low|positive|increased|decreased|enlarged|"
                              r"consistent with|concerning|worrisome)\b")
_WINDOW: Final = 45  # tokens after a test's name in a turn that give its result (up to the sentence's end)
_SENTENCE_END: Final = re.compile(r"[.?!]")
_BACK: Final = 15  # tokens before a test's name that may read it, at most
#: a denial's reach: "no obvious signs of fracture or bony abnormalities" reads normal
_DENIED: Final = re.compile(r"\b(?:no|not|without|negative for|free of)\b[^.;:]{0,60}")


def _families() -> dict[str, frozenset[str]]:
    """Test canonical -> the canonicals of its family (itself, its parent and the parent's members)."""
    global _FAMILY
    if _FAMILY is None:
        lx = lexicon()
        out: dict[str, frozenset[str]] = {}
        for t in filter(None, map(lx.find, _TESTS)):
            par = lx.parent.get(t.canonical)
            fam = {t.canonical} | ({par} | lx.members.get(par, set()) if par and par != "blood work" else set())
            out[t.canonical] = frozenset(fam)
        _FAMILY = out
    return _FAMILY


_FAMILY: dict[str, frozenset[str]] | None = None


#: what makes a finding a test's result in a note ("x-ray demonstrates ...", "MRI revealed ...")
_SHOWS: Final = re.compile(r"\b(?:show\w*|reveal\w*|demonstrat\w*|consistent with|confirm\w*|found|notable for|"
                           r"significant for|evidence of)\b")


def _reading(u: Unit, start: int, end: int, shown: bool = False) -> str | None:
    """"normal", "abnormal" or None for the words of ``u`` from token ``start`` to ``end`` (exclusive); with
    ``shown``, a finding counts only after a word that makes it the result ("shows", "revealed")."""
    offs = u.offsets()
    a = offs[start] if start < len(offs) else len(u.norm)
    b = offs[end] if end < len(offs) else len(u.norm)
    text = u.norm[a:b]
    cut = _SENTENCE_END.search(text, 1)
    if cut:
        text = text[:cut.start()]
        end = min(end, bisect_left(offs, a + cut.start()))
    shows = _SHOWS.search(text) if shown else None
    first = bisect_left(offs, a + shows.start()) if shows else start
    found = (not shown or shows is not None) and any(
        t.category == "condition" and first <= s < end and u.polarity(s) in (AFF, POSS)
        and not all(w in GENERIC_FINDINGS for w in t.stems) for s, _, t in u.matches)
    if _ABNORMAL.search(_DENIED.sub(" ", text)) or found:
        return None if _NORMAL.search(text) else "abnormal"
    return "normal" if _NORMAL.search(text) else None


#: a result compared with an earlier one says nothing of normal or abnormal
_COMPARED: Final = re.compile(r"\b(?:chang\w*|baseline|stable|unchanged|compared|previous|prior|interval)\b")
#: a clinician reading a result ("your x-ray showed", "the mri looks good"), not ordering one
_READ: Final = re.compile(r"\b(?:show\w*|reveal\w*|demonstrat\w*|came back|looks?|looked|review\w*|results?|"
                          r"appears?|see|saw)\b")
_ORDERED: Final = re.compile(r"\b(?:if|whether|wait\w*|pending|once we get|when we get|order\w*|get (?:an?|you)|"
                             r"going to get|"
                             r"gon na get|schedule\w*|send\w*|until)\b")


def _said(idx: TranscriptIndex, fam: frozenset[str]) -> dict[str, list[int]]:
    """The clinician's readings of a test family: reading -> turns (memoised)."""
    key = ("result-readings", fam)
    got = idx.memo.get(key)
    if got is None:
        got = {}
        for c in fam:
            for i, s in idx.concept_turns.get(c, ()):
                if i >= idx.n_turns or idx.roles[i] != SpeakerRole.CLINICIAN:
                    continue
                u = idx.units[i]
                offs = u.offsets()
                if s >= len(offs):
                    continue
                # the sentence holding the test's name, from its start ("so you've got a normal right hand x-ray")
                head = max((m.end() for m in _SENTENCE_END.finditer(u.norm, 0, offs[s])),
                           default=0)
                head = max(head, offs[max(0, s - _BACK)])  # transcripts without full stops: a few words back
                near = u.norm[offs[s]:offs[min(s + 12, len(offs) - 1)]]
                before = u.norm[max(head, offs[max(0, s - 6)]):offs[s]]
                if not (_READ.search(near) or _NORMAL.search(before)) or _ORDERED.search(before + " " + near):
                    continue  # ordered or awaited, not read
                r = _reading(u, bisect_left(offs, head), s + _WINDOW)
                if r is not None:
                    got.setdefault(r, []).append(i)
        idx.memo[key] = got
    return got


def check_result_quality(u: Unit, idx: TranscriptIndex) -> list[Check]:
    """A test's result read the other way than every reading the clinician gave it."""
    fams = _families()
    tests = [(t, fams[t.canonical]) for _, _, t in u.matches if t.canonical in fams]
    if not tests or _COMPARED.search(u.norm):  # "no significant changes from baseline": not a reading
        return []
    mine = _reading(u, 0, len(u.toks), shown=True)
    if mine is None:
        return []
    for t, fam in tests:
        said = _said(idx, fam)
        if said and mine not in said:
            other = next(iter(said))
            return [Check("procedure", CONTRADICTED, "contextual", True, sorted(set(said[other]))[:3],
                          f"note reads the {t.text} as {mine}, the clinician read it as {other}",
                          rule="result.opposite", concept=t.canonical)]
    return []
