"""Examination findings: what the clinician finds on examination and a note of the visit reports.

An abnormal finding (``rubrics/grounding/exam_findings.txt``: a murmur, edema, crackles,
tenderness...) affirmed in a clinician turn that says it examines ("on your heart exam, i do
appreciate a three out of six systolic ejection murmur", "on exam you've got some tenderness over
your lateral epicondyle"), not asked ("any swelling?") nor denied ("no murmurs"). It is read with
the words that grade and place it ("three out of six systolic ejection murmur", "one plus pitting
edema", "weakness of your lower extremities").
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Final

from ..schema import SpeakerRole
from .entities import Unit
from .index import TranscriptIndex
from .lexicon import Term, grounding_dir, lexicon, stem
from .negation import AFF
from .numbers import NUMBER_WORDS
from .plan_items import by_first_letter

#: a clinician turn that examines: the exam named, or a finding the clinician perceives
_EXAM_CUE: Final = re.compile(r"(?:" + by_first_letter((
    "exam", "examination", "examined", "appreciate", "i (?:do )?(?:hear(?! you| that| from| about)|feel(?! like))",
    "notic(?:e|ed)", "on palpation", "to palpation", "palpate", "palpable")) + r")\b")
#: words before a finding that grade or place it ("three out of six systolic ejection", "one plus pitting")
_MODIFIERS: Final = frozenset("""out over plus mild moderate severe trace slight slightly small little some significant
systolic diastolic ejection holosystolic pitting bilateral bilaterally left right lower upper mid basilar diffuse
scattered expiratory inspiratory point focal""".split())
_PLACE: Final = frozenset("of in on at over to along around".split())
_PLACE_SKIP: Final = frozenset("the your his her both a".split())
_ASKED: Final = re.compile(r"[^.?!]*\?")
#: how far before a finding its examination cue may stand, in characters
_CUE_REACH: Final = 250
#: words that end the examination talk before a finding: the assessment and plan ("we'll have you use ice for
#: the pain and swelling"), an explanation
_EXAM_END: Final = re.compile(r"\b(?:i think|we'll|we will|i'm going to|i'm gon na|let's|plan|what does (?:all )?that "
                              r"mean|that means|diagnos\w*|if)\b")
#: a finding the clinician does not find ("i do n't appreciate any jugular venous distension"; not "i do n't
#: appreciate that any at all you do seem to have some tenderness")
_NOT_FOUND: Final = re.compile(r"\b(?:no|not|n't|without|negative for|free of)\b(?![^.?!,;]*\b(?:you|there|it|i) "
                               r"(?:do |does |did )?(?:have|has|had|is|are|seem|'s|see|feel|appreciate)\b)[^.?!,;]*$")
_NEG_NEAR: Final = re.compile(r"\b(?:no|not|n't|without|negative|denies|deny|free)\b")
#: a finding asked about, in a transcript with no question marks ("is there any decreased range of motion do you
#: feel ...")
_ASKED_BEFORE: Final = re.compile(r"\b(?:any|is there|are there|do you|does it|did you|have you)\b[^.?!,;]{0,20}$")
#: a question tag closing a statement ("... which i've heard in the past , okay ?")
_TAG: Final = re.compile(r"\b(?:okay|ok|alright|all right|right|correct|yeah|good) ?\?$")
#: words that name the tenderness concept only with palpation ("pain to palpation", not "pain in this arm")
_VAGUE: Final = frozenset(stem(w) for w in "pain pains painful hurt hurts hurting sore ache aches".split())
#: "fluid" is too loose a word for a finding ("drink fluids", "fluid in your legs" for edema)
_FLUID: Final = frozenset(("fluid", "fluids"))
_PALPATION: Final = re.compile(r" ?(?:to|with|on|upon) palpation")


#: a muscle strength grade below normal ("four out of five strength in the left", "a 4 out of 5 on your right")
_GRADE: Final = re.compile(r"\b(?P<n>one|two|three|four|[0-4]) (?:out of|over) (?:five|5)\b")
_STRENGTH: Final = re.compile(r"\b(?:strength|strong|weak\w*|motor)\b")
_GRADE_WORDS: Final = {"one": "1", "two": "2", "three": "3", "four": "4"}
#: the concept of a strength grade (no lexicon term)
GRADE: Final = "strength grade"


@dataclass
class ExamFinding:
    """An abnormal examination finding the clinician states."""

    canon: str  # lexicon concept, or :data:`GRADE`
    turn: int
    text: str  # as said, with its grade and place ("three out of six systolic ejection murmur")
    grade: str = ""  # a strength grade's number ("4" for "four out of five")


_EXAM_CANONS: list[frozenset[str]] = []


def exam_concepts() -> frozenset[str]:
    """Canonical concepts of the abnormal examination findings (``exam_findings.txt``)."""
    if not _EXAM_CANONS:
        lx = lexicon()
        names = []
        for line in (grounding_dir() / "exam_findings.txt").read_text(encoding="utf-8").splitlines():
            line = line.split("#", 1)[0].strip().lower()
            if line:
                names.append(line)
        _EXAM_CANONS.append(frozenset(t.canonical for t in map(lx.find, names) if t is not None))
    return _EXAM_CANONS[0]


def exam_findings(idx: TranscriptIndex, terms: dict[str, Term]) -> list[ExamFinding]:
    """Abnormal findings the clinician states on examination, the first mention of each."""
    wanted = exam_concepts()
    out: dict[str, ExamFinding] = {}
    n_turns = idx.n_turns
    units, roles = idx.units, idx.roles
    for i in [i for i in range(n_turns) if " out of " in units[i].norm and roles[i] != SpeakerRole.PATIENT]:
        norm = units[i].norm
        g = _GRADE.search(norm)
        if g is not None and _STRENGTH.search(norm, max(0, g.start() - 60), g.end() + 40):
            n = _GRADE_WORDS.get(g.group("n"), g.group("n"))
            out[GRADE] = ExamFinding(GRADE, i, f"strength {n} out of 5", n)
            break
    at_turns = sorted({i for c in wanted for i, _ in idx.concept_turns.get(c, ()) if i < n_turns})  # naming one
    for i in at_turns:
        u = units[i]
        if roles[i] == SpeakerRole.PATIENT or all(t.canonical not in wanted or t.canonical in out
                                                  for _, _, t in u.matches):
            continue
        cues = [m.end() for m in _EXAM_CUE.finditer(u.norm)]
        if not cues:
            continue
        offs = u.offsets()
        toks = u.toks
        for s0, e0, t in u.matches:
            if t.canonical not in wanted or t.canonical in out or toks[s0] in _FLUID:
                continue
            if u.sts[s0] in _VAGUE and not _PALPATION.match(u.norm, offs[e0 - 1] + len(toks[e0 - 1])):
                continue  # "you are having pain this arm" is not tenderness found on examination
            at = offs[s0]
            cue = max((c for c in cues if c <= at), default=-1)
            after = any(at < c <= at + 40 + len(t.text) for c in cues)  # "tenderness to palpation of the midfoot"
            if (not after and (cue < 0 or at - cue > _CUE_REACH or _EXAM_END.search(u.norm, cue, at))) \
                    or _NOT_FOUND.search(u.norm, max(u.norm.rfind(".", 0, at), at - 60, 0), at) \
                    or _ASKED_BEFORE.search(u.norm, max(0, at - 40), at):
                continue
            if _NEG_NEAR.search(u.norm, max(0, at - 80), at) and u.polarity(s0) != AFF:
                continue  # "no swelling or bruise , bruising in the palm": ConText reads the list (only when a
                # negation stands near: its marks cost more than the rest)
            asked = _ASKED.match(u.norm, offs[s0])
            if asked is not None and not _TAG.search(asked.group()):
                continue  # "any swelling ?"
            lo = s0
            while lo > 0 and s0 - lo < 6 and (toks[lo - 1] in _MODIFIERS or toks[lo - 1] in NUMBER_WORDS
                                              or toks[lo - 1][0].isdigit()
                                              or (toks[lo - 1] == "of" and lo > 1 and toks[lo - 2] == "out")):
                lo -= 1
            hi = _place_end(u, e0)
            out[t.canonical] = ExamFinding(t.canonical, i, _said(toks[lo:hi]))
    return sorted(out.values(), key=lambda f: f.turn)


def _place_end(u: Unit, e0: int) -> int:
    """Where the body part a finding is placed at ends ("weakness of your lower extremities"), or ``e0``."""
    toks = u.toks
    if e0 >= len(toks) or toks[e0] not in _PLACE:
        return e0
    offs = u.offsets()
    if any(ch in ".?!" for ch in u.norm[offs[e0 - 1]:offs[e0]]):
        return e0  # the next sentence: "... murmur . on your lung exam"
    j = e0 + 1
    while j < len(toks) and j < e0 + 3 and toks[j] in _PLACE_SKIP:
        j += 1
    for s, e, _ in u.anatomy():
        if j <= s <= j + 1:
            return e
    return e0


def grade_covered(grade: str, units: list[Unit]) -> bool:
    """Whether a note sentence gives a strength grade ("Strength 4/5 on the left", "four out of five")."""
    word = next((w for w, d in _GRADE_WORDS.items() if d == grade), grade)
    return any((grade in u.toks or word in u.toks) and ("5" in u.toks or "five" in u.toks) for u in units)


def _said(toks: list[str]) -> str:
    """Tokens as text, a grade written as said ("2/6 systolic ejection murmur" is tokenised "2 6 ...")."""
    out: list[str] = []
    for t in toks:
        if out and t.isdigit() and out[-1].isdigit():
            out[-1] += "/" + t
        else:
            out.append(t)
    return " ".join(out)
