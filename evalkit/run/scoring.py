"""Score one scribe output: WER, template adherence, hallucination/omission, and flags.

Pure functions over schema objects; the runner and the Ray workers both call them.
"""

from __future__ import annotations

from typing import Any

from ..schema import Consultation, Finding, Flag, JudgeResult, Provenance, Score, ScribeOutput
from .suite import Suite


def case_terms(c: Consultation) -> set[str]:
    """Medical words from the case card, added to the lexicon for medical-term WER."""
    case = c.case
    words: set[str] = set()
    for m in case.medications:
        words.update(m.name.lower().split())
    for a in case.allergies:
        words.update(a.substance.lower().split())
    for cond in case.conditions:
        words.update(w for w in cond.lower().split() if len(w) > 3)
    return words


def score_output(consultation: Consultation, output: ScribeOutput, suite: Suite, judge: Any,
                 session_id: str, prov: Provenance) -> tuple[list[Score], list[Finding], JudgeResult | None]:
    """Compute the suite's metric groups for one session.

    Args:
        consultation: the consultation with its true dialogue (the ground truth).
        output: what the scribe produced.
        suite: which metric groups to compute, and the template.
        judge: a judge object (``.judge(transcript, note, case) -> JudgeResult``) or None.
        session_id: id recorded on every score.
        prov: provenance stamped on every score.
    """
    scores: list[Score] = []
    findings: list[Finding] = []
    jres: JudgeResult | None = None
    template = suite.template or consultation.template
    if "wer" in suite.metrics and output.transcript:
        from ..metrics.wer import wer_details, wer_scores

        res = wer_details(consultation.turns, output.transcript, terms=case_terms(consultation),
                          normalizer=suite.normalizer)
        scores += wer_scores(res, session_id)
        from ..metrics.speaker_wer import labels_speakers, speaker_wer, speaker_wer_scores

        if labels_speakers(output.transcript):  # cpWER (and tcpWER with times) for scribes that say who spoke
            sres = speaker_wer(consultation.turns, output.transcript, normalizer=suite.normalizer)
            if sres is not None:
                scores += speaker_wer_scores(sres, session_id)
    stream = output.metadata.get("stream") if isinstance(output.metadata, dict) else None
    if isinstance(stream, dict) and stream.get("events") is not None:  # a streamed transcript: its figures
        from ..text.normalizers import get_normalizer
        from ..streaming.metrics import stream_figures, stream_scores
        from ..streaming.protocol import StreamResult

        fig = stream_figures(StreamResult.from_metadata(stream), consultation.turns,
                             words=get_normalizer(suite.normalizer).words)
        scores += stream_scores(fig, session_id, settings=stream.get("settings"))
    if "adherence" in suite.metrics:
        from ..metrics.adherence import adherence, adherence_scores

        scores += adherence_scores(adherence(output.note, template), session_id)
    if "hallucination" in suite.metrics and judge is not None:
        from ..metrics.hallucination import hallucination_scores

        from ..context import restrict

        # ground the note against what was really said, so ASR slips that reach the note count; the
        # record (the case card's demographics, medications...) is evidence too, as far as the suite allows
        record = restrict(consultation.case, suite.context)
        if hasattr(judge, "judge_scored"):  # LLM judges: also jury_agreement, pdqi_<item>, adherence_content
            jres, extra = judge.judge_scored(consultation.turns, output.note, record, session_id)
            scores += extra
        else:
            jres = judge.judge(consultation.turns, output.note, record)
        scores += hallucination_scores(jres, session_id)
        findings = [Finding.from_claim(c) for c in jres.claims] + [Finding.from_omission(o) for o in jres.omissions]
    scores.append(Score(session_id=session_id, metric="latency_s", value=output.latency_s))
    if output.cost_usd is not None:
        scores.append(Score(session_id=session_id, metric="cost_usd", value=output.cost_usd))
    for s in scores:
        s.provenance = prov
    return scores, findings, jres


def apply_flag_rules(scores: list[Score], suite: Suite, session_id: str, prov: Provenance) -> list[Flag]:
    """Flags for every rule that holds on this session's scores."""
    by_metric = {s.metric: s.value for s in scores}
    detail = {s.metric: s.detail for s in scores}
    flags = []
    for rule in suite.flag_rules:
        v = by_metric.get(rule.metric)
        confs = (detail.get(rule.metric) or {}).get("confidence")
        if v is not None and rule.min_confidence is not None and isinstance(confs, list):
            v = float(sum(1 for c in confs if c is None or c >= rule.min_confidence))  # None: not estimated
        if v is not None and rule.holds(v):
            flags.append(Flag(session_id=session_id, rule=rule.name, reason=rule.describe(v), severity=rule.severity,
                              provenance=prov))
    return flags
