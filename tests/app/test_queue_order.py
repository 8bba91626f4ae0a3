"""The review queue's order (issue 18 item 9): severity first — by the flag rule's severity field,
never by its name — then the judge's confidence when findings carry one, then the rest."""

from __future__ import annotations

from evalkit.review import queue as review
from evalkit.review.queue import QueueFilter
from evalkit.schema import Finding, Provenance, Score
from evalkit.run.scoring import apply_flag_rules
from evalkit.store import SessionResult
from evalkit.run.suite import FlagRule, Suite
from tests.conftest import make_consultation


class JudgedFinding(Finding):
    """A finding from a judge that states its confidence (what the LLM judge may add later)."""

    confidence: float | None = None


def _session(run: str, cid: str, suite: Suite, metrics: dict[str, float], confidence: float | None = None):
    sid = f"{run}:{cid}"
    scores = [Score(session_id=sid, metric=m, value=v) for m, v in metrics.items()]
    findings = [JudgedFinding(kind="claim", id="plan.0#0", text="t", verdict="unsupported", severity="major",
                              confidence=confidence)] if confidence is not None else []
    return SessionResult(sid, cid, "x", scores=scores, findings=findings,
                         flags=apply_flag_rules(scores, suite, sid, Provenance()))


def _queue(store, user, **kw) -> list[str]:
    rows = review.review_queue(store, user, QueueFilter(**kw)).rows
    return [s.split(":", 1)[1] for s in rows["session_id"]]


CASES = {  # consultation id → scores (the default flag rules turn them into flags)
    "omission-wer-numbers": {"major_hallucinations": 0, "major_omissions": 1, "wer": 0.4, "numeric_error_rate": 0.2,
                             "hallucination_rate": 0.0},
    "two-hallucinations": {"major_hallucinations": 2, "major_omissions": 0, "wer": 0.1, "hallucination_rate": 0.2},
    "one-hallucination": {"major_hallucinations": 1, "major_omissions": 1, "wer": 0.1, "hallucination_rate": 0.3},
    "high-wer": {"major_hallucinations": 0, "major_omissions": 0, "wer": 0.5, "hallucination_rate": 0.0},
    "unflagged-minor": {"major_hallucinations": 0, "major_omissions": 0, "wer": 0.1, "hallucination_rate": 0.1},
    "unflagged-clean": {"major_hallucinations": 0, "major_omissions": 0, "wer": 0.1, "hallucination_rate": 0.0},
}


def test_major_hallucinations_rank_above_major_omissions_whatever_the_flag_count(store, clinician):
    store.put_consultations([make_consultation(c) for c in CASES])
    suite = Suite()  # the default flag rules and their severities
    store.create_run(run_id="r1", scribe="x", dataset="unit")
    store.write_results("r1", [_session("r1", c, suite, m) for c, m in CASES.items()])
    # before issue 18 the session with three flags, one named major_omission, came first
    assert _queue(store, clinician) == ["two-hallucinations", "one-hallucination", "omission-wer-numbers",
                                        "high-wer", "unflagged-clean", "unflagged-minor"]  # unflagged: id order
    rows = review.review_queue(store, clinician).rows
    assert rows["severity"].tolist()[:4] == ["high", "high", "medium", "low"]
    assert rows["severity"].isna().tolist()[4:] == [True, True]
    ids = rows["session_id"].tolist()  # previous / next follow the same order
    assert review.neighbours(store, clinician, ids[2]) == {"position": 3, "total": 6, "prev": ids[1], "next": ids[3]}


def test_severity_comes_from_the_rule_not_from_its_name(store, clinician):
    store.put_consultations([make_consultation(c) for c in ("wer-only", "hallucination")])
    suite = Suite(flag_rules=[
        FlagRule(name="major_mishearing", metric="wer", op=">", value=0.3),  # "major" in the name, severity low
        FlagRule(name="invented", metric="major_hallucinations", op=">", value=0, severity="high"),
        FlagRule(name="wer_again", metric="wer", op=">", value=0.2),
    ])
    store.create_run(run_id="r2", scribe="x", dataset="unit")
    store.write_results("r2", [
        _session("r2", "wer-only", suite, {"wer": 0.5, "major_hallucinations": 0}),
        _session("r2", "hallucination", suite, {"wer": 0.0, "major_hallucinations": 1})])
    assert _queue(store, clinician) == ["hallucination", "wer-only"]


def test_the_judges_confidence_orders_sessions_of_equal_severity(store, clinician):
    names = ("unsure", "sure", "no-confidence", "medium-sure")
    store.put_consultations([make_consultation(c) for c in names])
    suite = Suite()
    hall = {"major_hallucinations": 1, "major_omissions": 0, "wer": 0.0, "hallucination_rate": 0.1}
    store.create_run(run_id="r3", scribe="x", dataset="unit")
    store.write_results("r3", [
        _session("r3", "unsure", suite, hall, confidence=0.3),
        _session("r3", "sure", suite, hall, confidence=0.95),
        _session("r3", "no-confidence", suite, {**hall, "hallucination_rate": 0.9}),
        _session("r3", "medium-sure", suite, {**hall, "major_hallucinations": 2}, confidence=0.1)])
    # severity first (two major hallucinations), then confidence, then those whose findings carry none
    assert _queue(store, clinician) == ["medium-sure", "sure", "unsure", "no-confidence"]
    rows = review.review_queue(store, clinician).rows
    assert rows.set_index("consultation_id")["confidence"].to_dict()["sure"] == 0.95
