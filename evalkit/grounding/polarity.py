"""Negation check: a finding the note denies must not be affirmed in the dialogue, and back.

A finding is compared with the transcript's mentions of the same concept; a body part
named with it ("right knee pain", "swelling in her legs") narrows the mentions to those
that name the same part, so "no knee pain" is not contradicted by "my back hurts". Generic
findings (pain, swelling) are only compared when such a body part pins them down.
"""

from __future__ import annotations

import re
from functools import lru_cache
from typing import Final

from ..schema import SpeakerRole
from .allergies import allergy_concept, transcript_allergies
from .entities import Unit
from .index import HEDGED, UNKNOWN, TranscriptIndex
from .lexicon import GENERIC, GENERIC_FINDINGS, OPPOSITE, STOPWORDS, Term, lexicon
from .negation import AFF, FAM, HIST, NEG, is_question_about

_NEGATED_WORDS: Final = re.compile(r"\b(?:denies|denied|deny|no|not|negative|without|never)\b")
_MANEUVER: Final = re.compile(r"\b(?:palpation|pronation|supination|flexion|extension|rotation|motion|movement|moving|"
                       r"pressure|weight bearing|when|with|during|while|upon|on exam|examination|testing)\b")
_VAGUE: Final = frozenset("pain tender swell ache sore hurt discomfort weak weakness numb congestion fatigue".split())
_PAST: Final = re.compile(r"\b(?:in the past|previously|prior to|used to)\b")
_EVER: Final = re.compile(r"\b(?:history of|ever had|ever experienced|never had|never experienced|before this|prior episodes?)\b")
_WINDOW: Final = 10  # tokens between a finding and its body part in a transcript turn
UNCONFIRMED: Final = True  # flag a finding the clinician asked about but the patient never confirmed
ANATOMY_FABRICATION: Final = True  # flag "knee pain" when the transcript never puts that finding at that part
MAJORITY: Final = 2  # opposite-polarity turns needed per same-polarity turn to call a contradiction


def _generic(canonicals: list[str]) -> bool:
    return _generic_words(tuple(canonicals))


@lru_cache(maxsize=4096)
def _generic_words(canonicals: tuple[str, ...]) -> bool:
    # lexicon canonicals only (a bounded set): cached for the process
    return all(all(w in GENERIC_FINDINGS or w in STOPWORDS or w in GENERIC for w in c.split()) for c in canonicals)


def claim_anatomy(u: Unit, s: int, e: int, term: Term) -> set[str]:
    """Body parts named with the finding at tokens ``[s, e)`` of a claim."""
    lx = lexicon()
    anat = set(lx.parts(term)[1])
    if not anat:
        others = [(s2, e2) for s2, e2, t2 in u.matches if s2 != s and t2.category != "anatomy"]
        lo, hi = max(0, s - 5), min(len(u.sts), e + 6)
        for a0, a1, t in u.anatomy():
            if a0 < lo or a1 > hi:
                continue
            if any(s2 <= a0 < e2 for s2, e2 in others):
                continue  # the body part of another finding ("knee pain")
            if any((e <= s2 and e2 <= a0) or (a1 <= s2 and e2 <= s) for s2, e2 in others):
                continue  # another finding stands between ("headaches, dizziness, and numbness in his arm")
            anat.add(t.canonical)
    return anat


def _turn_has_anatomy(idx: TranscriptIndex, i: int, tok: int, anat: set[str],
                      frozen: frozenset[str] | None = None) -> bool:
    key = ("anat", i, tok, frozenset(anat) if frozen is None else frozen)
    got = idx.memo.get(key)
    if got is None:
        got = idx.memo[key] = _turn_has_anatomy_uncached(idx, i, tok, anat)
    return got


def _turn_has_anatomy_uncached(idx: TranscriptIndex, i: int, tok: int, anat: set[str]) -> bool:
    lx = lexicon()
    u = idx.units[i]
    lo, hi = max(0, tok - _WINDOW), min(len(u.sts), tok + _WINDOW)
    for s, e, t in u.anatomy():
        if lo <= s and e <= hi and t.canonical in anat:
            return True
    if i > 0 and idx.roles[i] == SpeakerRole.PATIENT and idx.roles[i - 1] != SpeakerRole.PATIENT:
        # an answer ("no numbness") to a question that named the body part ("...in your foot?")
        if any(t.canonical in anat for _, _, t in idx.units[i - 1].anatomy()):
            return True
    for k in range(i + 1, min(i + 4, len(idx.units))):
        # "any numbness?" / "yes" / "where?" / "my left arm and my right leg": the answers say where
        if idx.roles[k] == SpeakerRole.PATIENT:
            if any(t.canonical in anat for _, _, t in idx.units[k].anatomy()):
                return True
        elif len(idx.units[k].toks) > 5:
            break
    return False


def _within_specific(idx: TranscriptIndex, i: int, tok: int, canonical: str) -> bool:
    """Whether the mention at token ``tok`` of turn ``i`` is a narrower finding that names ``canonical``."""
    return any(s == tok and t.canonical != canonical for s, _, t in idx.units[i].matches)


def transcript_polarities(idx: TranscriptIndex, findings: list[str], anat: set[str],
                          side: str | None = None) -> dict[str, list[int]]:
    """Polarity → turn indexes over the transcript's mentions of ``findings`` (with ``anat`` if given).

    Polarities are ``affirmed``, ``negated`` and ``unknown`` (a question with an unclear
    answer, a hypothetical); historical mentions count as affirmed, family ones are left out.
    With ``side`` (the claim's "left"/"right"), a mention given the other side is left out ("a left
    adnexal mass and no masses on the right" does not affirm a mass on the right).
    """
    frozen = frozenset(anat)
    key = ("tpol", tuple(findings), frozen, side)
    got = idx.memo.get(key)
    if got is None:  # a note names the same finding in several claims: memoised per transcript
        got = idx.memo[key] = _transcript_polarities(idx, findings, anat, frozen, side)
    return dict(got)  # the caller edits the dict (never its lists)


_DRUG_ALLERGY: Final = frozenset(("drug", "medication", "medicine", "medications", "medicines", "food"))
_SIDE_SPAN: Final = 5


def side_near(u: Unit, tok: int) -> str | None:
    """The side ("left"/"right") named closest to token ``tok`` within a few words, if any."""
    toks = u.toks
    best, dist = None, _SIDE_SPAN + 1
    for k in range(max(0, tok - _SIDE_SPAN), min(len(toks), tok + _SIDE_SPAN + 1)):
        if toks[k] in OPPOSITE and abs(k - tok) < dist:
            best, dist = toks[k], abs(k - tok)
    return best


def _transcript_polarities(idx: TranscriptIndex, findings: list[str], anat: set[str],
                           frozen: frozenset[str], side: str | None = None) -> dict[str, list[int]]:
    out: dict[str, list[int]] = {}
    other = OPPOSITE.get(side or "")
    for c in findings:
        hits = idx.concept_turns.get(c, ())
        if hits and c == allergy_concept():  # "allergic to penicillin" says nothing of seasonal allergies
            pos = transcript_allergies(idx).positions
            # (nor "no drug allergies" of the hay fever the patient takes alavert for)
            hits = [h for h in hits if h not in pos
                    and _DRUG_ALLERGY.isdisjoint(idx.units[h[0]].toks[max(0, h[1] - 2):h[1]])]
        for i, tok in hits:
            if anat and not _turn_has_anatomy(idx, i, tok, anat, frozen):
                continue
            if other is not None and side_near(idx.units[i], tok) == other:
                continue
            p = idx.mention_polarity(i, tok)
            if p == NEG and not anat and _within_specific(idx, i, tok, c):
                continue  # "no coughing up blood" does not deny the cough
            if p in (AFF, NEG, UNKNOWN, FAM, HIST, HEDGED):
                out.setdefault(p, []).append(i)
    return out


_ISSUES_WITH: Final = re.compile(r"\b(?:issues?|problems?|trouble|concerns?|complaints?|changes?|difficult(?:y|ies)|"
                                 r"complications?)\s+(?:with|from|about|related to|regarding|in)\b")
_SUBJECTIVE: Final = re.compile(r"history of present|\bhpi\b|review of systems|\bros\b|subjective|chief complaint|"
                                r"interval history")
_OBJECTIVE: Final = re.compile(r"exam|objective|vitals|findings")
_REPORTED: Final = re.compile(r"\byou(?:'re| are)? (?:saying|said|say|mentioned|told|reported|describe)")
_EXAM_TALK: Final = re.compile(r"\b(?:exam|examination|appreciate|palpat\w*|auscultat\w*|i see|i feel|i notice|"
                                r"on inspection|look(?:s|ing)? at|i'm seeing|im seeing|1\+|2\+|trace)\b")


def _history_turns(idx: TranscriptIndex, turns: list[int], findings: list[str]) -> list[int]:
    """The turns among ``turns`` that tell the history, not the clinician's examination.

    A clinician dictating the exam ("on your lung exam ... your lower extremities have 1+ pitting
    edema") states a finding; the patient's words, a question the patient answered and the
    clinician's summary of the history are what a subjective denial is about.
    """
    out = []
    for i in turns:
        if idx.roles[i] != SpeakerRole.CLINICIAN or not _EXAM_TALK.search(idx.units[i].norm):
            out.append(i)
            continue
        u = idx.units[i]
        offs = u.offsets()
        for st, _, t in u.matches:
            if t.canonical in findings and st < len(offs) and (len(u.toks) <= 6 or is_question_about(u.norm, offs[st])):
                out.append(i)
                break
    return out


#: a condition ("if the x-ray does not show a fracture"); the comma that ends it
_CONDITIONAL: Final = re.compile(r"\b(?:if|unless|whether|in case)\b")
_CLAUSE_AFTER_IF: Final = re.compile(r"[,;.:]")


def condition_clause(u: Unit, tok: int) -> str | None:
    """The "if ..." clause holding token ``tok`` (from the "if" to the comma or full stop that ends it;
    none between the "if" and the token), or None when the token is in no such clause."""
    at = u.offsets()[tok]
    last = None
    for m in _CONDITIONAL.finditer(u.norm, 0, at):
        last = m
    if last is None or _CLAUSE_AFTER_IF.search(u.norm, last.end(), at):
        return None
    end = _CLAUSE_AFTER_IF.search(u.norm, at)
    return u.norm[last.start():end.start() if end else len(u.norm)]


def in_condition(u: Unit, tok: int) -> bool:
    """Whether token ``tok`` is inside an "if ..." clause."""
    return condition_clause(u, tok) is not None


def _after_label(norm: str) -> str:
    """The claim after an inline label ("examination of the left ankle: no tenderness ..." -> "no tenderness ...")."""
    return norm.rsplit(":", 1)[-1]


def check_polarity(u: Unit, s: int, e: int, term: Term, pol: str,
                   idx: TranscriptIndex, section: str = "") -> tuple[str, str, list[int], str, str] | None:
    """A negation contradiction, or an affirmed finding the dialogue never affirms, or None.

    Args:
        u: the claim; ``[s, e)`` the finding's tokens, ``term`` its lexicon term, ``pol`` its polarity.
        idx: the transcript index.
        section: the claim's section key and title, lower-case: a denial in a history section is
            contradicted by what the patient reports, not by the clinician's exam findings; one in
            an exam section by what the clinician finds, not by what the patient reports.

    Returns:
        ``(verdict, error type, evidence turn indexes, rationale, rule)``: ``contradicted`` /
        ``negation`` when the note's polarity is the opposite of what the transcript says
        of the finding; ``unsupported`` / ``fabrication`` when the note affirms a finding
        (at a body part) that the transcript never mentions there.
    """
    if pol == NEG and _ISSUES_WITH.search(u.norm):
        return None  # "denies issues with his migraines": the migraines are not denied
    if pol == NEG and in_condition(u, s):
        return None  # "if the x-ray does not reveal a fracture, ...": a condition, not a finding
    if pol == HIST and term.canonical in lexicon().symptoms:
        return None  # "her heartburn resolved with Prilosec": a past episode, not what she has now
    family = pol == FAM
    if family and _NEGATED_WORDS.search(u.norm):
        return None  # "denies a family history of X": a negated family history is not checked
    if pol in (HIST, FAM):
        pol = AFF
    if pol not in (AFF, NEG):
        return None
    lx = lexicon()
    findings, term_anat = lx.parts(term)
    anat = claim_anatomy(u, s, e, term)
    generic = _generic(findings)
    if not anat and generic and any(w in _VAGUE for f in findings for w in f.split()):
        return None  # "denies pain" says nothing checkable without a body part
    if pol == NEG and _PAST.search(u.norm):
        return None  # "denied headaches in the past": another time than the dialogue's
    if pol == NEG and _EVER.search(" ".join(u.toks[max(0, s - 6):s])) and any(f in lx.symptoms for f in findings):
        return None  # "denies a history of chest pain": earlier episodes, not the one the visit is about
    if pol == NEG and len(findings) > 1 and not term_anat:
        # denying the specific finding does not deny the broader one it names ("no coughing up
        # blood" says nothing of the cough; "denies radiating pain" nothing of the knee pain)
        findings = findings[:1]
    manoeuvre = generic and _MANEUVER.search(_after_label(u.norm)) is not None
    if pol == NEG and manoeuvre:
        return None  # "no pain with supination": one manoeuvre at the exam, not the complaint
    pols = transcript_polarities(idx, findings, anat, side_near(u, s))
    fam = pols.pop(FAM, [])
    if family:  # "family history of X": the family's mentions are the affirmations
        pols[AFF] = pols.get(AFF, []) + fam
    hedged = pols.pop(HEDGED, [])
    if pol == AFF:
        pols[AFF] = pols.get(AFF, []) + hedged
    hist = pols.pop(HIST, [])
    if pol == AFF or not any(f in lx.symptoms for f in findings):
        # a past episode backs an affirmation, and a history of a disease contradicts its denial;
        # a past episode of a symptom does not contradict a current denial
        pols[AFF] = pols.get(AFF, []) + hist
    if pol == NEG and pols.get(AFF):
        if _SUBJECTIVE.search(section):  # a denial in the history: what the patient reports, not the exam
            pols[AFF] = _history_turns(idx, pols[AFF], findings)
            if pols.get(NEG):  # (the exam's denials do not outweigh what the patient reports either)
                pols[NEG] = _history_turns(idx, pols[NEG], findings)
        elif _OBJECTIVE.search(section):  # "No bruising noted" at the exam: not what the patient reports
            pols[AFF] = [i for i in pols[AFF] if idx.roles[i] == SpeakerRole.CLINICIAN
                         and not _REPORTED.search(idx.units[i].norm)]
    pols = {k: v for k, v in pols.items() if v}
    opp = AFF if pol == NEG else NEG
    n_opp, n_same = len(set(pols.get(opp, ()))), len(set(pols.get(pol, ())))
    # every mention says the opposite, or (for a specific finding) the opposite is said over
    # and over: a complaint discussed at length against one "does this hurt? no" at the exam
    # (an affirmation the dialogue makes once backs the note whatever else is said: "the ultrasound revealed
    # a mass" in 2019 is not contradicted by today's "no palpable masses")
    majority = pol == NEG and not manoeuvre and n_opp >= MAJORITY * n_same and n_opp >= MAJORITY
    if n_opp and (not n_same or majority):
        verb = "denies" if pol == NEG else "affirms"
        other = "affirms" if pol == NEG else "denies"
        return ("contradicted", "negation", sorted(set(pols[opp]))[:3],
                f"note {verb} '{term.text}', the transcript {other} it", f"negation.{verb}_{other}")
    if pol == AFF and not generic and not family and UNCONFIRMED and set(pols) == {UNKNOWN}:
        return ("unsupported", "fabrication", sorted(set(pols[UNKNOWN]))[:3],
                f"'{term.text}' was asked about but never confirmed in the transcript", "finding.unconfirmed")
    if pol == AFF and anat and not pols and ANATOMY_FABRICATION and not any(
            st in idx.stem_turns for a in anat for st in a.split()):
        where = "/".join(sorted(anat))
        return ("unsupported", "fabrication", [], f"'{term.text}' at the {where} is not in the transcript",
                "finding.other_body_part")
    return None


__all__ = ["check_polarity", "claim_anatomy", "transcript_polarities", "UNKNOWN"]
