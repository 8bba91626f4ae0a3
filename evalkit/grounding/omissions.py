"""Omissions: salient transcript facts the note leaves out.

The facts come from :mod:`evalkit.grounding.facts` (plan items, follow-up, results reviewed,
the clinician's diagnoses, medications, doses, allergies, symptoms, examination findings). A
fact is covered when the note names the same concept (synonyms count: "Lasix" covers
"furosemide"); a plan item when a note sentence names it as an action
(:mod:`evalkit.grounding.coverage`).
"""

from __future__ import annotations

from typing import Final

from ..schema import Omission, SpeakerRole
from .allergies import covered_by
from .coverage import FOLLOW_UP, covered as named, note_view, plain_covered, plan_covered
from .entities import Unit
from .exam import grade_covered
from .facts import DAYS, Facts, same_interval, transcript_facts
from .index import UNKNOWN, TranscriptIndex
from .lexicon import Term, stem
from .negation import AFF, NEG
from .plan_items import display_name, group_name
from .records import build

#: a plain-word item about the next visit ("schedule an appointment when you check out") is the follow-up
_VISIT: Final = frozenset(stem(w) for w in "appointment visit return".split())
_IMAGING: Final = frozenset(("x ray", "magnetic resonanc imag", "comput tomographi", "ultrasound", "mammogram"))


def with_answers(idx: TranscriptIndex, turns: list[int]) -> list[int]:
    """Turns, each clinician question followed by the patient's answer ("are you taking any
    antibiotics?" / "yes, i finished them yesterday"; "any numbness" / "yes"): the evidence a
    reader checks. A question is a clinician turn with a question mark or of at most 20 words
    (real transcripts often have no punctuation)."""
    out: list[int] = []
    for i in turns:
        if i not in out:
            out.append(i)
        j = i + 1
        if j < idx.n_turns and j not in out and idx.roles[i] != SpeakerRole.PATIENT \
                and idx.roles[j] == SpeakerRole.PATIENT and ("?" in idx.turns[i].text or len(idx.units[i].toks) <= 20):
            out.append(j)
    return out


def _had(idx: TranscriptIndex, canonical: str) -> list[int]:
    """Turns where the patient has the symptom: says so, or answers yes when asked."""
    return sorted(i for i in set(idx.polarities(canonical).get(AFF, [])) if i < idx.n_turns)


def _as_said(idx: TranscriptIndex, term: Term, turns: list[int]) -> str:
    """A concept by its group's name, with the patient's words where they first affirm it when they differ
    ("ecchymosis (bruises)")."""
    name = group_name(term)
    for i, tok in idx.concept_turns.get(term.canonical, ()):
        if i in turns and idx.roles[i] == SpeakerRole.PATIENT:
            u = idx.units[i]
            said = " ".join(u.toks[tok:next((e for s, e, _ in u.matches if s == tok), tok + 1)])
            return name if said == name else f"{name} ({said})"
    return name


def _affirmed_turns(idx: TranscriptIndex, canonical: str) -> list[int]:
    key = ("med", canonical)
    got = idx.memo.get(key)
    if got is None:
        pols = idx.polarities(canonical)
        got = idx.memo[key] = sorted(i for i in set(pols.get(AFF, [])) | set(pols.get(UNKNOWN, []))
                                     if i < idx.n_turns)
    return got


def find_omissions(idx: TranscriptIndex, units: list[Unit],
                   sections: list[str] | None = None) -> tuple[list[Omission], int]:
    """Salient transcript facts missing from the note, and how many salient facts there were.

    Args:
        idx: the transcript index.
        units: the note's claims, analysed (one :class:`Unit` each).
        sections: each claim's section key and title (plan items must be covered in a
            plan-like section when the note has one).
    """
    facts: Facts = transcript_facts(idx)
    terms = facts.terms
    nv = note_view(units, sections)
    out: list[Omission] = []
    ids = idx.ids
    n_meds = n_doses = n_sym = 0

    def add(text: str, category: str, turns: list[int], severity: str = "major") -> None:
        out.append(build(Omission, id=f"om{len(out)}", text=text, category=category, severity=severity,
                         evidence=[ids[i] for i in turns[:3]]))

    for it in facts.plan:
        if not plan_covered(it, nv) and not (it.canon == FOLLOW_UP and facts.follow_ups):  # said once, below
            add(f"plan: {it.text}", "plan", it.turns)
    for it in facts.generic:
        if not plain_covered(it, nv) and not (nv.follow_up and not _VISIT.isdisjoint(it.key)):
            add(f"plan: {it.text}", "plan", it.turns)
        elif it.dose is not None and stem(it.dose[0]) in nv.stems:  # "robaxin" named: its dose said too?
            n_doses += 1
            if not any(v in nv.numbers for v in it.dose[1]):
                add(f"dose: {it.dose[0]} {max(it.dose[1]):g}", "dose", it.turns)
    for text, count, unit, i, top in facts.follow_ups:  # no follow-up, none with an interval, or another interval
        if not nv.follow_days or not same_interval(count * DAYS[unit], nv.follow_days, top * DAYS[unit]):
            add(f"follow-up: {text}", "plan", [i])
    for canon in facts.meds:
        covered = named(terms[canon], nv)
        said_in = _affirmed_turns(idx, canon) if not covered else None
        if covered or said_in:
            n_meds += 1  # a covered medication counts as salient without asking how it was said
        if said_in:
            add(f"medication: {display_name(terms[canon])}", "medication", with_answers(idx, said_in))
    for canon, val, i in facts.doses:
        if not named(terms[canon], nv):
            continue
        n_doses += 1
        if not any(v in nv.numbers for v in val):
            add(f"dose: {display_name(terms[canon])} {max(val):g}", "dose", [i])
    for what, akey, i in facts.allergies:
        if not covered_by(akey, nv.stems, nv.concepts):
            add(f"allergy: {what}", "allergy", [i])
    for canon, i in facts.results:
        if canon not in nv.results and not (canon in _IMAGING and "imaging" in nv.results):
            add(f"result: {display_name(terms[canon])}", "other", [i])
    for a in facts.assessed:
        if not named(terms[a.canon], nv) or (a.acute and not any(  # "acute heart failure exacerbation", not CHF
                not a.acute.isdisjoint(nv.sentence_stems(k)) for k in nv.where.get(a.canon, ()))):
            add(f"diagnosis: {a.text}", "diagnosis", a.turns)
    on_exam = {f.canon for f in facts.exam}
    for canon in facts.symptoms:
        if canon in on_exam:  # found on examination ("weakness of your lower extremities"): reported there
            continue
        covered = named(terms[canon], nv)
        had = _had(idx, canon) if not covered else None
        if covered or had:
            n_sym += 1
        if had:
            add(f"symptom: {_as_said(idx, terms[canon], had)}", "symptom", with_answers(idx, had))
        elif not covered:  # a red flag the patient denies is a pertinent negative the note should keep
            denied = sorted(i for i in set(idx.polarities(canon).get(NEG, [])) if i < idx.n_turns)
            if denied:
                n_sym += 1
                add(f"symptom: denies {group_name(terms[canon])}", "symptom", with_answers(idx, denied))
    for canon in facts.discussed:  # a symptom the visit dwells on
        if canon in on_exam or named(terms[canon], nv):
            continue
        had = _had(idx, canon)
        if had:
            n_sym += 1
            add(f"symptom: {_as_said(idx, terms[canon], had)}", "symptom", with_answers(idx, had))
    missed = [f for f in facts.exam if not (grade_covered(f.grade, units) if f.grade else named(terms[f.canon], nv))]
    if missed:  # one omission for the examination: what of it the note leaves out
        add("exam: " + "; ".join(f.text for f in missed[:4]), "other", sorted({f.turn for f in missed}))
    salient = len(facts.exam) + len(facts.plan) + len(facts.generic) + len(facts.follow_ups) + n_meds + n_doses \
        + len(facts.allergies) + len(facts.results) + len(facts.assessed) + n_sym
    return out, salient
