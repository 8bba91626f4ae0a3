"""Review queue, status, annotation helpers (append-only), adjudication, role refusal."""

from __future__ import annotations

import pytest

from evalkit.review import queue as review
from evalkit.review.auth import PermissionDenied, User
from evalkit.errors import InputError
from evalkit.review.queue import QueueFilter

from .demo_db import RUN_A, RUN_B


def _ids(page):
    return page.rows["session_id"].tolist()


def test_queue_puts_flagged_and_major_first_with_progress(demo, clinician):
    q = review.review_queue(demo["store"], clinician)
    ids = _ids(q)
    assert q.counts["total"] == 8 and q.counts["flagged"] == 3 and q.counts["done"] == 0
    assert ids[0] == demo["fabricated"]  # the one major hallucination comes first
    assert set(ids[:3]) == {f"{RUN_A}:{c}" for c in demo["consultations"][:3]}
    assert q.rows["n_flags"].tolist()[:3] == [1, 1, 1] and q.rows["n_flags"].tolist()[3:] == [0] * 5
    assert q.progress == "0 of 8 reviewed"
    review.set_status(demo["store"], clinician, ids[1], "done")
    q2 = review.review_queue(demo["store"], clinician)
    assert q2.progress == "1 of 8 reviewed"
    assert review.review_queue(demo["store"], clinician, QueueFilter(status="open")).counts["total"] == 7


def test_queue_filters_are_parameters(demo, clinician):
    s = demo["store"]
    assert review.review_queue(s, clinician, QueueFilter(run_id=RUN_B)).counts["total"] == 4
    assert review.review_queue(s, clinician, QueueFilter(scribe="whisper+rules")).counts["total"] == 4
    assert review.review_queue(s, clinician, QueueFilter(specialty="cardiology")).counts["total"] == 2
    assert _ids(review.review_queue(s, clinician, QueueFilter(flag_rule="any_major_hallucination"))) == [
        demo["fabricated"]]
    assert review.review_queue(s, clinician, QueueFilter(flagged_only=True)).counts["total"] == 3
    assert review.review_queue(s, clinician, QueueFilter(specialty="x' OR '1'='1")).counts["total"] == 0
    assert review.review_queue(s, clinician, QueueFilter(assigned_to="dr.ada")).counts["total"] == 0
    review.assign(s, User("root", "admin"), [demo["xss"]], "dr.ada")
    assert _ids(review.review_queue(s, clinician, QueueFilter(assigned_to="dr.ada"))) == [demo["xss"]]
    with pytest.raises(InputError):
        QueueFilter(status="finished")
    page2 = review.review_queue(s, clinician, page=1, page_size=3)
    assert len(page2.rows) == 3 and page2.pages == 3 and page2.rows["position"].tolist() == [4, 5, 6]


def test_next_and_previous_follow_the_filtered_queue(demo, clinician):
    s = demo["store"]
    ids = _ids(review.review_queue(s, clinician))
    pos = review.neighbours(s, clinician, ids[1])
    assert pos == {"position": 2, "total": 8, "prev": ids[0], "next": ids[2]}
    f = QueueFilter(flagged_only=True)
    last = review.neighbours(s, clinician, ids[2], f)
    assert last["next"] is None and last["total"] == 3
    assert review.neighbours(s, clinician, ids[5], f)["position"] is None


def test_annotations_are_appended_never_overwritten(demo, clinician):
    s, sid = demo["store"], demo["fabricated"]
    claim = "assessment_and_plan.15#1"
    review.label_claim(s, clinician, sid, claim, agree=True, judge_verdict="unsupported", type="fabrication",
                       severity="major")
    review.label_claim(s, clinician, sid, claim, agree=False, judge_verdict="unsupported", verdict="supported")
    labels = [a for a in s.annotations(session_id=sid) if a.kind == "claim_label"]
    assert [a.payload["verdict"] for a in labels] == ["unsupported", "supported"]
    assert labels[1].payload["type"] is None and labels[0].payload["severity"] == "major"
    assert all(a.reviewer == "dr.ada" and a.created_at for a in labels)
    assert review.latest_labels(s, sid)[(claim, "dr.ada")]["verdict"] == "supported"
    assert s.session_status(sid) == "in_review"  # first annotation moved it out of to_review
    review.add_omission(s, clinician, sid, "Allergy to penicillin", category="allergy", severity="major",
                        evidence=[7, 3, 3])
    review.rate_pdqi(s, clinician, sid, {"accurate": 2, "thorough": 4, "useful": None})
    review.comment(s, clinician, sid, "Plan invents metformin.")
    review.flag_session(s, clinician, sid, "unsafe plan")
    review.clear_flag(s, clinician, sid)
    review.set_status(s, clinician, sid, "done")
    kinds = [a.kind for a in s.annotations(session_id=sid)]
    assert kinds.count("claim_label") == 2 and {"omission", "pdqi", "comment", "flag", "clear"} <= set(kinds)
    om = next(a for a in s.annotations(session_id=sid) if a.kind == "omission")
    assert om.payload["evidence"] == [3, 7]
    pd_ = next(a for a in s.annotations(session_id=sid) if a.kind == "pdqi")
    assert pd_.payload == {"accurate": 2, "thorough": 4}
    assert s.session_status(sid) == "done"
    audit = review.audit_log(s, User("eng", "engineer"), session_id=sid)
    assert len(audit) == len(kinds) and audit["run_id"].eq(RUN_A).all()


def test_bad_annotations_are_refused(demo, clinician):
    s, sid = demo["store"], demo["fabricated"]
    with pytest.raises(InputError):
        review.label_claim(s, clinician, sid, "x#1", agree=False, judge_verdict="unsupported", verdict="maybe")
    with pytest.raises(InputError):
        review.label_claim(s, clinician, sid, "x#1", agree=True, judge_verdict="unsupported", type="typo")
    with pytest.raises(InputError):
        review.rate_pdqi(s, clinician, sid, {"accurate": 6})
    with pytest.raises(InputError):
        review.rate_pdqi(s, clinician, sid, {"tidy": 3})
    with pytest.raises(InputError):
        review.add_omission(s, clinician, sid, "  ")
    with pytest.raises(InputError):
        review.set_status(s, clinician, sid, "finished")
    assert s.annotations(session_id=sid) == []


def test_roles_are_enforced_by_the_library(demo, clinician, engineer, admin):
    s, sid = demo["store"], demo["fabricated"]
    with pytest.raises(PermissionDenied):
        review.label_claim(s, engineer, sid, "a#1", agree=True, judge_verdict="supported")
    with pytest.raises(PermissionDenied):
        review.set_status(s, admin, sid, "done")
    with pytest.raises(PermissionDenied):
        review.assign(s, clinician, [sid], "dr.bob")
    with pytest.raises(PermissionDenied):
        review.audit_log(s, clinician)
    with pytest.raises(InputError):
        review.assign(s, admin, [sid], "eng")  # only clinicians get assignments
    assert review.assign(s, admin, [sid, sid], "dr.bob") == 1
    assert review.assign(s, admin, [sid], "dr.bob") == 0
    assert s.annotations(session_id=sid) == []


def test_disagreement_then_adjudication_by_a_third_reviewer(demo):
    s, sid = demo["store"], demo["fabricated"]
    ada, bob, cy = User("dr.ada", "clinician"), User("dr.bob", "clinician"), User("dr.cy", "clinician")
    claim = "assessment_and_plan.15#1"
    review.label_claim(s, ada, sid, claim, agree=True, judge_verdict="unsupported", type="fabrication",
                       severity="major")
    review.label_claim(s, bob, sid, claim, agree=True, judge_verdict="unsupported", type="fabrication",
                       severity="major")
    assert s.session_status(sid) == "in_review" and review.open_disagreements(s, sid) == []
    review.label_claim(s, bob, sid, claim, agree=True, judge_verdict="unsupported", type="fabrication",
                       severity="minor")
    assert s.session_status(sid) == "needs_adjudication"
    assert review.open_disagreements(s, sid) == [claim]
    q = review.review_queue(s, ada, QueueFilter(status="needs_adjudication"))
    assert q.rows["session_id"].tolist() == [sid]
    with pytest.raises(InputError):
        review.adjudicate(s, ada, sid, claim, verdict="unsupported", type="fabrication", severity="major")
    review.adjudicate(s, cy, sid, claim, verdict="unsupported", type="fabrication", severity="major",
                      rationale="metformin never discussed")
    adj = [a for a in s.annotations(session_id=sid) if a.kind == "adjudication"]
    assert adj[0].payload["reviewers"] == ["dr.ada", "dr.bob"] and adj[0].reviewer == "dr.cy"
    assert review.open_disagreements(s, sid) == [] and s.session_status(sid) == "done"
