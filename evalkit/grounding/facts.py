"""Salient transcript facts: what a complete note of the visit would say.

Built once per transcript (memoised on the index), independent of any note:

- plan items (:mod:`evalkit.grounding.plan_items`);
- follow-up: "I'll see you again in three months", "come back in two weeks";
- results the clinician reviewed in the visit ("looking at your x-ray", "the MRI shows");
- the clinician's diagnoses ("I think you have a strain", "for your second problem of your
  reflux", "a diagnosis of acute disc herniation"), not the symptoms;
- medications said as taken or prescribed, their doses, allergies, affirmed red-flag symptoms.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from dataclasses import dataclass, field
from typing import Final

from ..schema import SpeakerRole
from .allergies import transcript_allergies
from .exam import ExamFinding, exam_findings
from .index import TranscriptIndex
from .lexicon import STOPWORDS, Term, grounding_dir, lexicon, stem
from .negation import AFF
from .numbers import NUMBER_WORDS
from .plan_items import MAX_GAP, PlanItem, announced, by_first_letter, dose_after, plan_items
from .severity import red_flags

_VACCINE: Final = stem("vaccine")
#: "i'll see you again in three months", "over the next six months and follow up at that time"
FOLLOW_UP_SAID: Final = re.compile(
    r"\b(?:see (?:you|me|him|her)(?: again| back)?|follow(?:-| )?up|come back|check back|recheck|bring you back|"
    r"touch base)\b")
_INTERVAL_WORDS: Final = re.compile(r"days?\b|weeks?\b|months?\b|years?\b")
_N: Final = r"a|an|one|two|three|four|five|six|seven|eight|nine|ten|eleven|twelve|couple(?: of)?|few|\d+"
#: "in three months", and a range: "in about three or four weeks", "in 1 to 2 weeks", "in 3-4 weeks"
_INTERVAL: Final = re.compile(
    r"\b(?:in|after|next|another|for) (?:about |around |like |another |roughly |approximately )?(?P<n>" + _N + r")"
    r"(?:(?: or | to |-| - )(?P<n2>" + _N + r"))? (?P<u>days?|weeks?|months?|years?)\b")
_RESULT_CUE: Final = re.compile(
    r"\b(?:results?|shows?|showed|shown|reveal(?:s|ed)?|came back|reviewed|looking at|look(?:ed)? at|"
    r"show me|demonstrat\w*|unremarkable|i (?:do not|don't) see|i'm not (?:seeing|noticing)|looks? (?:good|normal|"
    r"okay|fine|great))\b")
#: a result still to come ("let's wait for the mri result")
_AWAITED: Final = re.compile(r"\b(?:wait(?:ing)? (?:for|on)|pending|once we (?:get|have)|when we get|after we get|"
                             r"until)\b")
#: tests whose result, reviewed in the visit, a note reports
_TESTS: Final = ("x-ray", "magnetic resonance imaging", "computed tomography", "ultrasound", "echocardiogram",
                 "electrocardiogram", "blood work", "mammogram", "urinalysis", "hemoglobin a1c", "lipid panel",
                 "complete blood count", "basic metabolic panel", "comprehensive metabolic panel")
_ORDINAL: Final = "(?:problem|issue|condition|one is)"
#: what the clinician says before the diagnosis, one phrase per alternative, each starting with a letter (see
#: :func:`by_first_letter`)
_ASSESS_PHRASES: Final = (
    "i think (?:that )?(?:what )?(?:you (?:have|are in|are having|probably have|might have|may have|probably|"
    "likely)|it's|this is|that's|it is|you've)", "diagnos(?:is|ed|e)", "consistent with", "what(?:'s| is) called",
    "problem of", "problem ,? (?:your|the)", "first " + _ORDINAL, "second " + _ORDINAL, "third " + _ORDINAL,
    "fourth " + _ORDINAL, "fifth " + _ORDINAL, "next " + _ORDINAL, "last " + _ORDINAL,
    "sounds like you(?: probably| likely)?(?: have)?", "looks like you(?: have)?", "impression", "assessment",
    "i(?:'m| am) seeing", "what i see", "what we call", "most likely (?:due to|representative of|from|caused by)",
    "likely (?:due to|representative of|from|caused by)",
    "is (?:probably |likely |most likely )?(?:due to|caused by|secondary to)",
    "are (?:probably |likely |most likely )?(?:due to|caused by|secondary to)", "suspicion", "i suspect",
    "concerned (?:that )?you (?:might|may|could) have", "worried (?:that )?you (?:might|may|could) have")
_ASSESS: Final = re.compile(r"(?:" + by_first_letter(_ASSESS_PHRASES) + r")\b")
#: a cheap test for :data:`_ASSESS` (a set of first letters is scanned at C speed)
_ASSESS_WORDS: Final = re.compile(r"think|diagnos|consistent|called|problem|sounds like|looks like|impression|"
                                  r"assessment|seeing|what i see|we call|likely|due to|caused by|secondary to|"
                                  r"suspic|suspect|concerned|worried|issue|condition|one is")
#: in the plan part of the visit, a problem the clinician takes in turn ("for your high blood pressure",
#: "from a depression standpoint", "in terms of your depression", "now for your diabetes"): its
#: condition comes within :data:`_PROBLEM_GAP` words
_WHOSE: Final = " (?:your|the|her|his)"
_PROBLEM: Final = re.compile(r"(?:" + by_first_letter((
    "for" + _WHOSE, "regarding" + _WHOSE, "in terms of" + _WHOSE, "as far as" + _WHOSE, "as for" + _WHOSE,
    "with regards? to" + _WHOSE, "in regards? to" + _WHOSE,
    "from (?:a|an|the|your) (?=[a-z ]{3,40} (?:standpoint|perspective))")) + r")\b")
#: what stands before a problem taken in turn: the start of a clause ("so for your diabetes"), not a drug's
#: indication ("simvastatin for your lipids", "the effexor for your depression")
_TOPIC_START: Final = re.compile(r"(?:^|[.,?!;:]|\b(?:and|so|now|then|okay|alright|um|uh|next|lastly|finally|also|"
                                 r"second|third|first))\W*$")
_PROBLEM_GAP: Final = 3
#: how far after an assessment cue its diagnosis may come ("what i'm seeing from your exam today is mild to
#: moderate acne")
_DX_GAP: Final = 10
#: words that make a diagnosis a new one: "acute heart failure exacerbation" is not the history of heart failure
_ACUTE: Final = frozenset(stem(w) for w in "acute exacerbation flare flareup worsening uncontrolled".split())


@dataclass
class Assessed:
    """A diagnosis the clinician gives."""

    canon: str
    turns: list[int]
    acute: set[str]  # words that make it a new episode ("acute", "exacerbation"): the note must say one
    text: str  # as said ("acute heart failure exacerbation")


@dataclass
class Facts:
    """The salient facts of one transcript (independent of any note; memoised on the index)."""

    terms: dict[str, Term]
    plan: list[PlanItem]  # items naming a lexicon concept
    generic: list[PlanItem]  # items in plain words, referrals by whom
    follow_ups: list[tuple[str, float, str, int, float]]  # text, interval value, unit, turn, range's top (or 0)
    results: list[tuple[str, int]]  # test concept, turn
    assessed: list[Assessed]  # the clinician's diagnoses
    meds: list[str]  # candidates: salient when the dialogue affirms them (decided lazily)
    doses: list[tuple[str, set[float], int]]  # concept, readings, turn
    allergies: list[tuple[str, str, int]]  # substance as said, key (drug concept or stems), turn
    symptoms: list[str] = field(default_factory=list)  # red-flag candidates: salient when the patient has them
    exam: list[ExamFinding] = field(default_factory=list)  # abnormal findings stated on examination
    discussed: list[str] = field(default_factory=list)  # other symptoms the patient has that the visit dwells on


def transcript_facts(idx: TranscriptIndex) -> Facts:
    """Salient facts of the transcript (memoised on the index)."""
    got = idx.memo.get("facts")
    if got is None:
        got = idx.memo["facts"] = _facts(idx)
    return got


_UNIT: Final = {"day": "day", "days": "day", "week": "week", "weeks": "week", "month": "month", "months": "month",
                "year": "year", "years": "year"}
_COUNT: Final = {"a": 1.0, "an": 1.0, "one": 1.0, "two": 2.0, "three": 3.0, "four": 4.0, "five": 5.0, "six": 6.0,
                 "seven": 7.0, "eight": 8.0, "nine": 9.0, "ten": 10.0, "eleven": 11.0, "twelve": 12.0, "couple": 2.0,
                 "couple of": 2.0, "few": 3.0}


def _follow_ups(idx: TranscriptIndex) -> list[tuple[str, float, str, int, float]]:
    out: list[tuple[str, float, str, int, float]] = []
    first = int(idx.n_turns * 0.4 + 0.999)
    for i in range(first, idx.n_turns):
        u = idx.units[i]
        if idx.roles[i] == SpeakerRole.PATIENT or not _INTERVAL_WORDS.search(u.norm):
            continue
        for f in FOLLOW_UP_SAID.finditer(u.norm):
            m = _INTERVAL.search(u.norm, f.end(), f.end() + 40) or _INTERVAL.search(u.norm, max(0, f.start() - 50),
                                                                                     f.start())
            if m is None:
                continue
            num, num2 = m.group("n"), m.group("n2")
            val = _count(num)
            unit = _UNIT[m.group("u")]
            if not out or out[-1][1:3] != (val, unit):
                out.append((f"in {num}{' to ' + num2 if num2 else ''} {m.group('u')}", val, unit, i,
                            _count(num2) if num2 else 0.0))
    return out[-1:]  # the last one said is the one agreed


DAYS: Final = {"day": 1.0, "week": 7.0, "month": 30.0, "year": 365.0}


def interval_days(text: str) -> list[float]:
    """The intervals a text gives ("in 2 weeks", "in three months"), in days."""
    out: list[float] = []
    for m in _INTERVAL.finditer(text):
        per = DAYS[_UNIT[m.group("u")]]
        out.append(_count(m.group("n")) * per)
        if m.group("n2"):  # a range: either end ("three or four weeks" / "Follow up in 4 weeks")
            out.append(_count(m.group("n2")) * per)
    return out


def _count(num: str) -> float:
    return float(num) if num[0].isdigit() else _COUNT.get(num, 0.0)


def same_interval(days: float, said: list[float], upto: float = 0.0) -> bool:
    """Whether ``days`` (to ``upto``, a range) is one of the intervals ``said`` (4 weeks is a month, 12
    months a year)."""
    if not days:
        return True
    hi = max(days, upto)
    return any(0.85 <= d / days and d / hi <= 1.2 for d in said)


def _results(idx: TranscriptIndex, terms: dict[str, Term]) -> list[tuple[str, int]]:
    tests = _test_concepts()
    out: dict[str, int] = {}
    for canon, hits in idx.concept_turns.items():
        if canon not in tests or canon in out:
            continue
        for i, tok in hits:
            if i >= idx.n_turns:
                continue
            u = idx.units[i]
            offs = u.offsets()
            if idx.roles[i] == SpeakerRole.PATIENT:  # a value the patient gives ("my last a1c was a little over eight")
                if any(t[0].isdigit() or t in NUMBER_WORDS for t in u.toks[tok + 1:tok + 7]):
                    out[canon] = i
                    break
                continue
            lo, hi = offs[max(0, tok - 12)], offs[min(len(offs) - 1, tok + 12)]
            before = offs[max(0, tok - MAX_GAP)]
            if _RESULT_CUE.search(u.norm, lo, hi + 12) and not announced(u.norm, before, offs[tok]) \
                    and not _AWAITED.search(u.norm, before, offs[tok]):
                out[canon] = i
                break
    return [(c, i) for c, i in out.items() if c in terms]


_TEST_CANONS: list[frozenset[str]] = []


def _test_concepts() -> frozenset[str]:
    if not _TEST_CANONS:
        lx = lexicon()
        _TEST_CANONS.append(frozenset(t.canonical for t in map(lx.find, _TESTS) if t is not None))
    return _TEST_CANONS[0]


_NOT_DX: list[frozenset[str]] = []
#: findings too vague to be the diagnosis ("i think it's the pain")
_VAGUE_DX: Final = frozenset(stem(w) for w in "pain swelling ache sore hurt discomfort tender mass lump".split())


def not_diagnoses() -> frozenset[str]:
    """Concepts that are findings or symptoms, not diagnoses (``findings.txt``, ``symptoms.txt``)."""
    if not _NOT_DX:
        lx = lexicon()
        names: list[str] = []
        for f in ("findings.txt", "symptoms.txt"):
            for line in (grounding_dir() / f).read_text(encoding="utf-8").splitlines():
                line = line.split("#", 1)[0].strip().lower()
                if line:
                    names.append(line)
        _NOT_DX.append(frozenset(t.canonical for t in map(lx.find, names) if t is not None) | lx.symptoms)
    return _NOT_DX[0]


def _assessed(idx: TranscriptIndex, terms: dict[str, Term]) -> list[Assessed]:
    """Conditions the clinician names as the diagnosis: within a few words after an assessment cue."""
    skip = not_diagnoses()
    out: dict[str, Assessed] = {}
    plan_part = int(idx.n_turns * 0.4 + 0.999)
    for i, u in enumerate(idx.units[:idx.n_turns]):
        if idx.roles[i] == SpeakerRole.PATIENT:
            continue
        conds = [m for m in u.matches if m[2].category == "condition" and m[2].canonical not in skip
                 and not all(s in _VAGUE_DX or s in STOPWORDS for s in m[2].stems)]
        if not conds:
            continue
        cues = [(m.end(), _DX_GAP) for m in _ASSESS.finditer(u.norm)] if _ASSESS_WORDS.search(u.norm) else []
        if i >= plan_part:
            cues += [(m.end(), _PROBLEM_GAP) for m in _PROBLEM.finditer(u.norm)
                     if _TOPIC_START.search(u.norm, max(0, m.start() - 12), m.start())]
        if not cues:
            continue
        offs = u.offsets()
        sts = u.sts
        for c_end, gap in cues:
            k0 = bisect_left(offs, c_end)
            for s0, e0, t in conds:
                if s0 < k0 or s0 - k0 > gap or u.polarity(s0) not in ("affirmed", "possible"):
                    continue
                a = out.get(t.canonical)
                if a is None:
                    lo = s0 - 1 if s0 > 0 and sts[s0 - 1] in _ACUTE else s0
                    hi = e0 + 1 if e0 < len(sts) and sts[e0] in _ACUTE else e0
                    a = out[t.canonical] = Assessed(t.canonical, [], {x for x in sts[lo:hi] if x in _ACUTE},
                                                    " ".join(u.toks[lo:hi]))
                if i not in a.turns:
                    a.turns.append(i)
    return [a for c, a in out.items() if c in terms]


def _class_named(idx: TranscriptIndex, canon: str) -> bool:
    """Whether every mention of a drug concept is a class the clinician then names ("a muscle relaxant called
    flexeril")."""
    for i, tok in idx.concept_turns.get(canon, ()):
        u = idx.units[i]
        e0 = next((e for s, e, _ in u.matches if s == tok), tok + 1)
        if e0 >= len(u.toks) or u.toks[e0] != "called":
            return False
    return True


def _facts(idx: TranscriptIndex) -> Facts:
    terms: dict[str, Term] = {}
    for u in idx.units:
        for _, _, t in u.matches:
            terms.setdefault(t.canonical, t)
    plan, generic = plan_items(idx, terms)
    seen = {it.canon for it in plan}
    al = transcript_allergies(idx)

    def only_allergy(canon: str) -> bool:
        # said only as an allergy ("allergic to penicillin"): not a medication, not a diagnosis
        return bool(al.positions) and all(h in al.positions for h in idx.concept_turns[canon] if h[0] < idx.n_turns)

    meds: list[str] = []
    for canon in idx.concept_turns:
        term = terms.get(canon)
        if term is None or term.category != "drug" or canon in seen or only_allergy(canon) \
                or term.stems[-1] == _VACCINE or _class_named(idx, canon):  # a vaccine given is not a medication
            continue  # taken; "a muscle relaxant called flexeril" is flexeril
        meds.append(canon)
        seen.add(canon)
    doses: list[tuple[str, set[float], int]] = []
    for canon in sorted(c for c in seen if terms[c].category == "drug"):  # sorted: same order every run
        for i, tok in [h for h in idx.concept_turns.get(canon, ()) if h[0] < idx.n_turns][:6]:
            val = dose_after(idx.units[i].toks, tok)
            if val is not None:
                doses.append((canon, val, i))
                break
    allergies = [(a.substance, a.key, a.turn) for a in al.items]
    assessed = [a for a in _assessed(idx, terms) if not only_allergy(a.canon)]
    flags = red_flags()  # a red-flag symptom the patient has is salient; other symptoms when discussed
    dx = {a.canon for a in assessed}
    symptoms = [c for c in idx.concept_turns if c in flags and c in terms and c not in dx and not only_allergy(c)]
    exam = [f for f in exam_findings(idx, terms) if f.canon not in dx]
    return Facts(terms, plan, generic, _follow_ups(idx), _results(idx, terms), assessed, meds, doses, allergies,
                 symptoms, exam, _discussed(idx, terms, flags | dx))


#: symptoms too vague to be a fact of their own ("pain": what hurts is the complaint)
_VAGUE_SYMPTOMS: Final = frozenset(stem(w) for w in "pain tender ache sore hurt discomfort".split())
#: a symptom is discussed when this many turns name it (a question and its answer): the ACI-Bench train/valid
#: reference notes name 57 of the 59 symptoms so discussed (27 of 28 named in three turns or more)
DISCUSSED_TURNS: Final = 2


def _discussed(idx: TranscriptIndex, terms: dict[str, Term], skip: frozenset[str] | set[str]) -> list[str]:
    """Symptoms the patient has that the visit dwells on (named in :data:`DISCUSSED_TURNS` turns or more: "any
    swelling in the legs ?" / "yeah , my ankles swell ."), besides the red flags."""
    cands = not_diagnoses()
    out: list[str] = []
    for c, hits in idx.concept_turns.items():
        if c in skip or c not in cands or c in _VAGUE_SYMPTOMS or c not in terms:
            continue
        if len(hits) < DISCUSSED_TURNS:
            continue
        turns = {i for i, _ in hits if i < idx.n_turns}
        if len(turns) >= DISCUSSED_TURNS and any(idx.roles[i] == SpeakerRole.PATIENT for i in turns) \
                and any(idx.roles[i] == SpeakerRole.PATIENT for i in idx.polarities(c).get(AFF, ())):
            out.append(c)
    return out


