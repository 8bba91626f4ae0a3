"""Hallucination and omission scores from the offline grounding judge.

``judge_note`` splits a note into claims, grounds each against the transcript (entities,
numbers, doses, laterality, negation; see :mod:`evalkit.grounding`) and lists salient
transcript facts the note leaves out. ``hallucination_scores`` turns the result into
the shared Score metrics. No model, no network, no spaCy pipeline: about 3.7-4 ms of CPU per
ACI-Bench note with a new transcript, 1.7-1.9 ms when its transcript index is reused
(bench_judge_offline.py, measured on a loaded 2-core machine).
"""

from __future__ import annotations

from typing import Any, Final

from ..grounding import GROUNDING_VERSION
from ..grounding.claims import split_claims
from ..grounding.entities import Unit
from ..grounding.ground import ground_claim
from ..grounding.index import transcript_index
from ..grounding.lexicon import lexicon
from ..grounding.omissions import find_omissions
from ..grounding.records import build
from ..schema import Case, Claim, JudgeResult, Note, Score, Turn

ERROR_TYPES: Final = ("fabrication", "negation", "causality", "contextual")


def judge_note(transcript: list[Turn], note: Note, case: Case | None = None) -> JudgeResult:
    """Ground every claim of ``note`` in ``transcript`` and list omitted salient facts.

    Args:
        transcript: the consultation's turns; evidence ids are these turns' ``id``.
        note: the note to judge.
        case: the case card, when known: its demographics (name, age, sex) and chief
            complaint ground the note's (e.g. the patient's age), never given as evidence.

    Returns:
        A JudgeResult with one Claim per checkable statement (verdict supported /
        unsupported / contradicted, CREOLA type, severity, evidence turn ids) and the
        Omissions.
    """
    idx = transcript_index(transcript, case)
    ids = idx.ids
    lx = lexicon()
    claims: list[Claim] = []
    units: list[Unit] = []
    sections: list[str] = []
    n_turns = idx.n_turns
    for sec in note.sections:
        key = sec.key
        section = f"{key} {sec.title}".lower()
        for sent in sec.sentences:
            sid = sent.id
            for n, text in enumerate(split_claims(sent.text)):
                u = Unit(text, lx)
                units.append(u)
                sections.append(section)
                g = ground_claim(u, idx, section)
                # values are built here and valid by construction: skip pydantic validation (speed)
                ev = g.evidence
                claims.append(build(
                    Claim, id=f"{sid}#{n}", sentence_id=sid, section=key, text=text, verdict=g.verdict,
                    type=g.type, severity=g.severity, evidence=list(dict.fromkeys(ids[i] for i in ev if i < n_turns)),
                    rationale=g.rationale, confidence=g.confidence, rule=g.rule,
                    sources=_sources(ev, n_turns) if g.verdict == "supported" else []))
    omissions, salient = find_omissions(idx, units, sections)
    return JudgeResult(claims=claims, omissions=omissions, judge="grounding", judge_version=GROUNDING_VERSION,
                       salient_facts=salient)


def _sources(evidence: list[int], n_turns: int) -> list[str]:
    """What supports a claim: the dialogue's turns, the record's pseudo-turn (index ``n_turns``), or both."""
    out = []
    if any(i < n_turns for i in evidence):
        out.append("transcript")
    if any(i >= n_turns for i in evidence):
        out.append("context")
    return out


class GroundingJudge:
    """The deterministic offline judge, with the judge interface the runner expects."""

    name = "grounding"
    version = GROUNDING_VERSION
    prompt_hash: str | None = None

    def judge(self, transcript: list[Turn], note: Note, case: Case | None = None) -> JudgeResult:
        """Judge one note. Args: transcript, note, case (see :func:`judge_note`)."""
        return judge_note(transcript, note, case)


def hallucination_scores(result: JudgeResult, session_id: str) -> list[Score]:
    """Score records for one judged note.

    Args:
        result: the judge's result.
        session_id: ``f"{run_id}:{consultation_id}"``.

    Returns:
        ``hallucination_rate`` (unsupported + contradicted claims / claims),
        ``contradiction_rate``, ``major_hallucinations`` (count),
        ``hallucination_rate_<type>`` for each CREOLA type, ``omission_rate`` (omitted
        salient facts / salient facts), ``omissions`` and ``major_omissions`` (counts).
        Rates are None when there is nothing to divide by, or when the judge failed.
    """
    def score(metric: str, value: float | None, detail: dict[str, Any] | None = None) -> Score:
        return Score(session_id=session_id, metric=metric, value=value, detail=detail or {})

    if result.error:
        names = (["hallucination_rate", "contradiction_rate", "major_hallucinations"]
                 + [f"hallucination_rate_{t}" for t in ERROR_TYPES] + ["omission_rate", "omissions", "major_omissions"])
        return [score(m, None, {"error": result.error[:200]}) for m in names]
    n = len(result.claims)
    flagged = [c for c in result.claims if c.verdict != "supported"]
    contra = [c for c in flagged if c.verdict == "contradicted"]
    major = [c for c in flagged if c.severity == "major"]
    rate = (lambda k: k / n) if n else (lambda k: None)
    out = [
        score("hallucination_rate", rate(len(flagged)), {"claims": n, "flagged": len(flagged)}),
        score("contradiction_rate", rate(len(contra)), {"claims": n, "contradicted": len(contra)}),
        score("major_hallucinations", float(len(major)), {"claim_ids": [c.id for c in major][:50],
                                                          "confidence": [c.confidence for c in major][:50]}),
    ]
    for t in ERROR_TYPES:
        k = sum(1 for c in flagged if c.type == t)
        out.append(score(f"hallucination_rate_{t}", rate(k), {"claims": n, "count": k}))
    om = result.omissions
    salient = result.salient_facts if result.salient_facts is not None else len(om)
    out += [
        score("omission_rate", (len(om) / salient) if salient else None, {"salient_facts": salient, "omitted": len(om)}),
        score("omissions", float(len(om)), {"ids": [o.id for o in om][:50]}),
        score("major_omissions", float(sum(1 for o in om if o.severity == "major")), {}),
    ]
    return out
