"""Blind labelling (issue 18 item 9): a clinician does not see another clinician's label on a claim
before labelling it; labels record whether they were blind; the agreement page's κ uses blind ones."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from evalkit.review import agreement as ag
from evalkit.review import queue as review
from evalkit.review.auth import User
from evalkit.review.session_view import load_session

from .apptest_util import open_app

CLAIM = "assessment_and_plan.15#1"  # the fabricated sentence's claim in the demo database
ADA, BOB, CY = User("dr.ada", "clinician"), User("dr.bob", "clinician"), User("dr.cy", "clinician")


def _label(store, user, sid, severity, claim=CLAIM):
    return review.label_claim(store, user, sid, claim, agree=True, judge_verdict="unsupported", type="fabrication",
                              severity=severity)


def _reviewers(view, claim=CLAIM):
    return {a.reviewer for a in view.annotations if a.kind == "claim_label" and a.target == claim}


def test_another_clinicians_label_is_hidden_until_you_label_the_claim(demo, engineer, admin):
    s, sid = demo["store"], demo["fabricated"]
    _label(s, ADA, sid, "major")
    before = load_session(s, BOB, sid)
    assert _reviewers(before) == set() and before.hidden == {CLAIM: 1}  # before issue 18: dr.ada's label showed
    assert _reviewers(load_session(s, engineer, sid)) == {"dr.ada"}  # engineers and admins label nothing
    assert _reviewers(load_session(s, admin, sid)) == {"dr.ada"}
    _label(s, BOB, sid, "major")
    after = load_session(s, BOB, sid)
    assert _reviewers(after) == {"dr.ada", "dr.bob"} and after.hidden == {}
    assert _reviewers(load_session(s, ADA, sid)) == {"dr.ada", "dr.bob"}  # she has labelled it too


def test_pdqi_and_omissions_of_others_show_once_you_made_your_own(demo):
    s, sid = demo["store"], demo["fabricated"]
    review.rate_pdqi(s, ADA, sid, {"accurate": 2})
    review.add_omission(s, ADA, sid, "Allergy to penicillin", category="allergy", severity="major")
    review.comment(s, ADA, sid, "Please check the plan.")  # comments are messages to the team: shown
    kinds = {a.kind for a in load_session(s, BOB, sid).annotations if a.reviewer == "dr.ada"}
    assert "pdqi" not in kinds and "omission" not in kinds and "comment" in kinds
    review.rate_pdqi(s, BOB, sid, {"accurate": 4})
    kinds = {a.kind for a in load_session(s, BOB, sid).annotations if a.reviewer == "dr.ada"}
    assert "pdqi" in kinds and "omission" not in kinds
    review.set_status(s, BOB, sid, "done")
    assert "omission" in {a.kind for a in load_session(s, BOB, sid).annotations if a.reviewer == "dr.ada"}


def test_each_label_records_whether_it_was_blind(demo):
    s, sid = demo["store"], demo["fabricated"]
    _label(s, ADA, sid, "major")
    _label(s, BOB, sid, "minor")  # blind: dr.ada's label was hidden from him
    _label(s, CY, sid, "minor")  # the claim is in dispute: open to adjudicators, so its labels showed
    _label(s, BOB, sid, "major")  # after seeing hers: not blind
    _label(s, ADA, sid, "minor", claim="assessment_and_plan.0#1")  # nobody else labelled that one
    blind = [(a.reviewer, a.payload["blind"]) for a in s.annotations(session_id=sid) if a.kind == "claim_label"]
    assert blind == [("dr.ada", True), ("dr.bob", True), ("dr.cy", False), ("dr.bob", False), ("dr.ada", True)]


def test_kappa_is_computed_on_blind_labels(demo):
    s = demo["store"]
    sessions = [demo["fabricated"], demo["xss"], demo["two_claims"]]
    claims = {demo["fabricated"]: CLAIM}
    for sid in sessions[1:]:
        v = load_session(s, ADA, sid, extras=False)
        claims[sid] = next(c.id for c in v.claims if c.verdict != "supported")
    for i, sid in enumerate(sessions):
        _label(s, ADA, sid, "major", claims[sid])
        _label(s, BOB, sid, "minor" if i < 2 else "major", claims[sid])  # blind: they disagree twice
        _label(s, BOB, sid, "major", claims[sid])  # then he sees hers and changes his mind
    ann = s.annotation_frame(kinds=["claim_label"])
    every = ag.agreement_summary(ann).set_index("label")
    blind = ag.agreement_summary(ann, blind_only=True).set_index("label")
    assert every.loc["severity", "disagreements"] == 0  # the latest labels agree, after he saw hers
    assert blind.loc["severity", "disagreements"] == 2 and blind.loc["severity", "items"] == 3
    assert blind.loc["severity", "fleiss_kappa"] < every.loc["severity", "fleiss_kappa"]
    assert ag.blind_counts(ann) == {"blind": 6, "not_blind": 3}


@pytest.fixture
def app(demo, monkeypatch):
    monkeypatch.setenv("EVALKIT_DB", str(demo["db"]))

    def make(user: str, session: str | None = None, page: str | None = None) -> AppTest:
        return open_app(user, session=session, page=page)

    return make


def _texts(at) -> str:
    return "\n".join([c.value for c in at.caption] + [m.value for m in at.markdown])


def test_the_session_page_hides_labels_until_you_label_and_kappa_says_blind(app, demo):
    s, sid = demo["store"], demo["fabricated"]
    _label(s, ADA, sid, "major", CLAIM)
    at = app("dr.bob", session=sid)
    at.button(key=next(b.key for b in at.button if b.key and b.key.startswith("sentbtn-assessment_and_plan.15"))
              ).click().run()
    text = _texts(at)
    assert "1 other clinician's label is hidden until you label this claim" in text
    assert "ada (" not in text and "<b>dr.ada</b> claim_label" not in text  # not beside the claim, nor in History
    at.button(key="agree-assessment_and_plan_15_1").click().run()
    text = _texts(at)
    assert "ada (" in text and "<b>dr.ada</b> claim_label" in text and "hidden until you label" not in text
    ag_page = app("dr.cy", page="agreement")
    assert not ag_page.exception and any("blind labels" in h.value for h in ag_page.subheader)
