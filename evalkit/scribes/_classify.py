"""Sort a consultation's utterances into note categories and phrase each as a clinical sentence.

The pass is one walk through the turns:

- clinician turns move a *phase* forward (history → examination → assessment and plan) when
  they say so ("let me examine you", "so the plan is", "for your first problem");
- a clinician question gets a category from its keywords (medicines, allergies, family...), and
  the patient's answer inherits it: a "no" to "any chest pain or fever?" becomes
  "Denies chest pain or fever.";
- clinician statements are findings (exam, vitals), results, assessments or plan items by
  keywords and phase; small talk with no clinical words is left out.

Every fact keeps the ids of the turns it came from (the question and the answer).
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field

from ..schema import SpeakerRole, Turn
from . import _lexicon as L
from ._phrasing import Pronouns, clinician_voice, patient_voice, sentence
from ._utterance import (ADVICE, ANNOUNCE, CONTINUES, EXAM_FINDING, FINDING_VERB, FOLLOW_UP, LEAD, PAST_TENSE,
                         PLAN_LEAD, STRONG_DX, SUBSTANTIVE, YESNO, YOU_TO, Segment, lower_first, question_items,
                         segment_turn)

HISTORY, EXAM, AP = "history", "exam", "ap"
_HISTORY_Q = re.compile(r"^(?:(?:and|so|okay|ok|now|alright|right|well)[, ]+)*(?:any|what about|how about|"
                        r"do you (?:ever )?(?:have|get)|have you (?:had|noticed|got))\b")
_PLAN_IS = re.compile(r"^(?:so\s+)?(?:the|my) plan (?:is|would be),?\s+(?:to\s+)?", re.I)
_LIST = re.compile(r",|\bor\b")
_LABEL = {"allergies": "Allergies", "medications": "Medications", "pmh": "Past history", "family": "Family history",
          "social": "Social history"}
_HISTORY_CATS = ("chief_complaint", "hpi", "ros", "pmh", "medications", "allergies", "social", "family")


@dataclass
class Fact:
    """A sentence for the note: its category, its text and the turn ids it rests on."""

    category: str
    text: str
    evidence: list[int] = field(default_factory=list)


def _clinical(low: str) -> bool:
    d, c, a = L.term_hits(low)
    return (d or c or a or bool(L.ROS_SYMPTOM.search(low) or L.NUMBER_UNIT.search(low)
                                or L.HPI_CUE.search(low) or L.VITALS.search(low)))


def _clinical_strong(low: str) -> bool:
    d, c, a = L.term_hits(low)
    return d or c or bool(L.ROS_SYMPTOM.search(low) or L.NUMBER_UNIT.search(low))


def _question_category(low: str, phase: str) -> str | None:
    drug, cond, anat = L.term_hits(low)
    if L.ALLERGY.search(low):
        return "allergies"
    if L.FAMILY.search(low) and (cond or "history" in low or "family" in low):
        return "family"
    if drug or L.MEDICATION.search(low):
        return "medications"
    if L.SOCIAL.search(low):
        return "social"
    if L.PMH.search(low):
        return "pmh"
    if L.CC_OPENER.search(low):
        return "chief_complaint"
    if len(L.ROS_SYMPTOM.findall(low)) >= 2 or re.search(r"\bother symptoms\b", low):
        return "ros"
    if phase == EXAM and (L.EXAM_TERM.search(low) or "hurt" in low or "pain" in low):
        return "exam"
    if cond or anat or L.ROS_SYMPTOM.search(low) or L.HPI_CUE.search(low) or L.NUMBER_UNIT.search(low):
        return "hpi"
    if phase == HISTORY and _HISTORY_Q.match(low) and not L.is_meta(low):
        return "hpi"  # "any X?", "what about X?": history taking even when X is not in the lexicon
    return None


class _Walker:
    """State of the walk through one consultation."""

    def __init__(self, pronouns: Pronouns):
        self.p = pronouns
        self.phase = HISTORY
        self.facts: list[Fact] = []
        self.context: tuple[Segment | None, str | None] = (None, None)
        self.cc_open = False
        self.cc_count = 0
        self.topic: str | None = None  # the category of the last exchange, for "tell me more about it"

    def add(self, cat: str, text: str, evidence: list[int]) -> None:
        if cat in _HISTORY_CATS:
            self.topic = cat
        text = sentence(LEAD.sub("", text))
        if len(SUBSTANTIVE.findall(text)) >= 1 and len(text) > 3:
            self.facts.append(Fact(cat, text, sorted(set(evidence))))

    # ---------------------------------------------------------------- clinician
    def clinician(self, segs: list[Segment]) -> None:
        last_q: Segment | None = None
        last_cat: str | None = None
        prev: str | None = None
        for s in segs:
            low = s.low
            if L.AP_MARKER.search(low) or (self.phase != AP and L.PROBLEM_HEADER.search(low)):
                self.phase = AP
            elif self.phase == HISTORY and L.EXAM_MARKER.search(low) and not s.question:
                self.phase = EXAM
            if L.CC_OPENER.search(low) and self.cc_count == 0:
                self.cc_open = True
            if s.question:
                cat = _question_category(low, self.phase)
                if cat is None and last_q is not None and FOLLOW_UP.search(low):
                    cat = last_cat
                if cat is None and self.topic and (FOLLOW_UP.search(low) or re.search(r"\btell me\b|\bmore\b", low)):
                    cat = "hpi" if self.topic == "chief_complaint" else self.topic
                last_q, last_cat = s, cat
                if self.phase == EXAM and cat in ("medications", "allergies", "social", "family", "pmh", "ros"):
                    self.phase = HISTORY  # back to history taking mid-examination
                if self.cc_open and last_cat not in (None, "chief_complaint"):
                    self.cc_open = False
                continue
            last_q = None
            if prev in ("results", "exam", "vitals", "plan") and CONTINUES.match(low) and not L.is_meta(low):
                self.add(prev, clinician_voice(s.text, self.p), [s.turn_id])
                continue
            cat = prev = self.statement(s)
            if cat in _HISTORY_CATS:
                last_cat = cat
        self.context = (last_q, last_cat)

    def statement(self, s: Segment) -> str | None:
        low = s.low
        if L.is_meta(low) and not (len(low.split()) >= 15 and (L.PLAN_VERB.search(low) or L.NUMBER_UNIT.search(low))):
            return None
        text = s.text
        m = L.PROBLEM_HEADER.search(text)
        if m and self.phase == AP:
            cond = m.group("cond").strip()
            if 1 <= len(cond.split()) <= 6 and not L.PLAN_VERB.match(cond):
                self.add("assessment", clinician_voice(cond, self.p), [s.turn_id])
            text = text[m.end():].strip(" ,.")
            low = text.lower()
            if len(SUBSTANTIVE.findall(low)) < 2:
                return "assessment"
        drug, cond, anat = L.term_hits(low)
        about_patient = bool(re.search(r"\b(?:you|your|she|he|her|his|patient)\b", low))
        if L.PRESENTS.search(low) and (self.phase == HISTORY or s.turn_id < 4) and self.cc_count < 2:
            self.cc_count += 1
            self.add("chief_complaint", clinician_voice(text, self.p), [s.turn_id])
            return "chief_complaint"
        intent = bool(L.INTENT.search(low))
        plan_verb = bool(L.PLAN_VERB.search(low))
        imperative = bool(L.PLAN_VERB.match(LEAD.sub("", low))) and not s.question
        announced_exam = self.phase == EXAM and L.EXAM_MARKER.search(low)
        if imperative or ADVICE.search(low) or (plan_verb and (intent or self.phase == AP) and not announced_exam) \
                or (self.phase == AP and drug and not L.ASSESSMENT_CUE.search(low)):
            self.add("plan", self._plan_text(text), [s.turn_id])
            return "plan"
        if L.RESULTS_TERM.search(low) and L.RESULT_FINDING.search(low) and not intent and \
                not (self.phase == EXAM and (EXAM_FINDING.search(low) or L.EXAM_MARKER.search(low))):
            self.add("results", clinician_voice(text, self.p), [s.turn_id])
            return "results"
        announce = bool(ANNOUNCE.search(low)) and not FINDING_VERB.search(low)
        if drug and L.NUMBER_UNIT.search(low) and not s.question:  # a drug with its dose, in any phase
            cat = "plan" if self.phase == AP or intent else "medications"
            self.add(cat, self._plan_text(text) if cat == "plan" else clinician_voice(text, self.p), [s.turn_id])
            return cat
        if self.phase == EXAM and announce and not plan_verb:
            return None
        if self.phase == EXAM and L.EXAM_MARKER.search(low) and not STRONG_DX.search(low) and not announce:
            self.add("exam", clinician_voice(text, self.p), [s.turn_id])
            return "exam"
        if self.phase == AP and (cond or L.ASSESSMENT_CUE.search(low)) or STRONG_DX.search(low):
            self.add("assessment", clinician_voice(text, self.p), [s.turn_id])
            return "assessment"
        if self.phase != AP and L.ASSESSMENT_CUE.search(low) and cond and about_patient and not intent:
            self.add("assessment", clinician_voice(text, self.p), [s.turn_id])
            return "assessment"
        if self.phase == EXAM or (L.VITALS.search(low) and re.search(r"\b(?:today|right now|here|\d+)\b", low)):
            if L.VITALS.search(low) and (re.search(r"\d|over|percent|degrees|elevated|high|low|normal|good", low)):
                self.add("vitals", clinician_voice(text, self.p), [s.turn_id])
                return "vitals"
            if self.phase == EXAM and not (L.EXAM_TERM.search(low) or anat) and about_patient and (drug or L.PMH.search(low)):
                cat = "medications" if drug else "pmh"
                self.add(cat, clinician_voice(text, self.p), [s.turn_id])
                return cat
            if self.phase == EXAM and (L.EXAM_TERM.search(low) or anat or (
                    FINDING_VERB.search(low) and len(SUBSTANTIVE.findall(low)) >= 3)):
                self.add("exam", clinician_voice(text, self.p), [s.turn_id])
                return "exam"
            return None
        if self.phase == HISTORY and EXAM_FINDING.search(low) and not PAST_TENSE.search(low) and not intent:
            self.add("vitals" if L.VITALS.search(low) and re.search(r"\d", low) else "exam",
                     clinician_voice(text, self.p), [s.turn_id])
            return "exam"
        if self.phase == HISTORY and L.VITALS.search(low) and re.search(r"\d", low) and not intent:
            self.add("vitals", clinician_voice(text, self.p), [s.turn_id])
            return "vitals"
        if self.phase == HISTORY and about_patient and _clinical(low) and not intent:
            cat = "medications" if drug else "pmh" if L.PMH.search(low) else "hpi"
            self.add(cat, clinician_voice(text, self.p), [s.turn_id])
            return cat
        return None

    def _plan_text(self, text: str) -> str:
        text = LEAD.sub("", text)
        stated = _PLAN_IS.match(text)
        if stated:
            text = text[stated.end():]
        m = YOU_TO.match(text)
        if m:
            lead = "Advised to " if re.search(r"suggest|recommend|advise", m.group(0), re.I) else "Patient to "
            return lead + clinician_voice(text[m.end():], self.p)
        m = PLAN_LEAD.match(text)
        if m and L.PLAN_VERB.match(text[m.end():]):
            rest = clinician_voice(text[m.end():], self.p)
            return "Plan: " + rest
        if L.PLAN_VERB.match(text) or stated:
            return "Plan: " + clinician_voice(text, self.p)
        return clinician_voice(text, self.p)

    # ---------------------------------------------------------------- patient
    def patient(self, segs: list[Segment]) -> None:
        q, qcat = self.context
        self.context = (None, qcat)
        for i, s in enumerate(segs):
            text, low = s.text, s.low
            if i == 0 and q is not None and qcat not in (None, "chief_complaint") and YESNO.match(LEAD.sub("", q.low)):
                text, low = self.answer(q, qcat, s)
                if not text or L.DISMISS.match(low):
                    continue
            if s.question or L.ACK.match(low) or L.DISMISS.match(L.INTERJECTION.sub("", low)):
                continue
            if len(SUBSTANTIVE.findall(low)) < 2:
                short = L.INTERJECTION.sub("", text).strip(" .,!")
                if qcat in _LABEL and short and SUBSTANTIVE.search(short) and not L.DISMISS.match(short):
                    self.add(qcat, f"{_LABEL[qcat]}: {short}", [s.turn_id])  # "Penicillin." after "Any allergies?"
                continue
            if L.INTERJECTION.match(text):
                text = L.INTERJECTION.sub("", text)
                low = text.lower()
            cat = self.patient_category(low, qcat)
            if cat is None:
                continue
            if cat == "chief_complaint":
                self.cc_open = False
                self.cc_count += 1
                qcat = "hpi"
            clause, lead = patient_voice(LEAD.sub("", text), self.p)
            self.add(cat, clause if lead else "Reports " + lower_first(clause), [s.turn_id])

    def answer(self, q: Segment, qcat: str, s: Segment) -> tuple[str, str]:
        """Handle a yes/no answer; return what is left of the answer to treat as a statement."""
        neg, aff = L.NEGATE.match(s.low), L.AFFIRM.match(s.low)
        m = neg or aff
        if m is None:
            return s.text, s.low
        items = question_items(q, self.p)
        rest = L.INTERJECTION.sub("", s.text) if L.INTERJECTION.match(s.text) else \
            ("" if re.fullmatch(r"\W*\w+\W*", s.text) else s.text)
        rest = rest.strip(" ,.!")
        if items is not None:
            kind, x = items
            negated_q = bool(L.NEG_WORD.search(q.low.split(" ", 1)[0] + " " + x.lower())) or kind == "any" and \
                q.low.lstrip(" ,").startswith("no")
            ev = [q.turn_id, s.turn_id]
            if neg and negated_q:
                self.add(qcat, "Reports " + x, ev)
            elif neg:
                self.add(qcat, ("Denies " + x) if kind != "take" else "Reports not " + x, ev)
            elif aff and not negated_q:
                x = re.sub(r"^any\s+", "", x, flags=re.I)
                specific = rest and not L.DISMISS.match(rest)
                if _LIST.search(x) and kind != "take":
                    # a "yes" to "fever, chills or night sweats?" does not say which: report what was said
                    if specific:
                        self.add(qcat, "Reports " + lower_first(patient_voice(rest, self.p)[0]), ev)
                        rest = ""
                    else:
                        self.add(qcat, "Answers yes when asked about " + x, ev)
                else:
                    extra = ""
                    if specific and len(rest.split()) <= 6:
                        extra, rest = ": " + lower_first(patient_voice(rest, self.p)[0]), ""
                    self.add(qcat, ("Confirms " if kind == "take" else "Reports ") + x + extra, ev)
        return rest, rest.lower()

    def patient_category(self, low: str, qcat: str | None) -> str | None:
        drug, cond, _anat = L.term_hits(low)
        if L.ALLERGY.search(low) and re.search(r"allergic|allerg(?:y|ies) to|rash|hives|reaction", low):
            return "allergies"
        if L.FAMILY.search(low) and cond and re.search(r"\b(?:had|has|have|died|passed)\b", low):
            return "family"
        if self.cc_open and self.cc_count < 2:
            return "chief_complaint"
        if self.phase == HISTORY and qcat in _HISTORY_CATS and qcat != "chief_complaint":
            return qcat
        if self.phase == HISTORY and qcat == "chief_complaint" and _clinical(low):
            return "hpi"
        if drug:
            return "medications"
        if L.SOCIAL.search(low) and self.phase == HISTORY:
            return "social"
        if self.phase == HISTORY and _clinical(low):
            return "pmh" if L.PMH.search(low) else "hpi"
        if self.phase != HISTORY and _clinical_strong(low):
            return "hpi"
        return None


def extract_facts(turns: list[Turn], pronouns: Pronouns) -> list[Fact]:
    """Classify every utterance and phrase the clinically relevant ones as note sentences.

    Args:
        turns: the transcript, in order.
        pronouns: the patient's pronouns for third-person sentences.
    """
    w = _Walker(pronouns)
    for turn in turns:
        if not turn.text.strip():
            continue
        segs = segment_turn(turn)
        if turn.speaker == SpeakerRole.CLINICIAN:
            w.clinician(segs)
        else:
            w.patient(segs)
    facts = w.facts
    if not any(f.category == "chief_complaint" for f in facts):
        for f in facts:
            if f.category == "hpi":
                f.category = "chief_complaint"
                break
    return facts
