"""The session page's label forms (issue 18 item 9): one block per claim, each with its own text;
a saved label shows as saved; the evidence caption never contradicts the turns listed."""

from __future__ import annotations

import pytest
from streamlit.testing.v1 import AppTest

from evalkit.review.session_view import SentenceView, evidence_note, load_session

from .apptest_util import open_app
from .demo_db import TWO_CLAIMS


@pytest.fixture
def session_at(demo, monkeypatch):
    monkeypatch.setenv("EVALKIT_DB", str(demo["db"]))

    def make(sid: str, user: str = "dr.ada") -> AppTest:
        return open_app(user, session=sid)

    return make


def _texts(at) -> list[str]:
    return [c.value for c in at.caption] + [m.value for m in at.markdown]


def _open_sentence(at, text: str):
    key = next(b.key for b in at.button if b.key and b.key.startswith("sentbtn-") and b.label.startswith(
        text.split()[0]))
    at.button(key=key).click().run()
    return at


def test_a_sentence_with_two_claims_shows_each_claim_with_its_own_text_and_form(session_at, demo):
    at = _open_sentence(session_at(demo["two_claims"]), TWO_CLAIMS[0])
    texts = _texts(at)
    claims = [t for t in texts if t.startswith("**Claim ")]
    # before issue 18: two identical forms, neither saying which claim it labels
    assert claims == ["**Claim 1 of 2:** “Stop aspirin”", "**Claim 2 of 2:** “book a knee MRI”"]
    agree = [b for b in at.button if b.key and b.key.startswith("agree-")]
    assert len(agree) == 2 and len({b.key for b in agree}) == 2
    assert sum(1 for b in at.button if b.label == "Save label") == 2
    # no evidence from the judge nor from the scribe: one caption that says so, nothing contradicting it
    joined = "\n".join(texts)
    assert "The judge found no turn that supports this sentence, and the scribe linked none" in joined
    assert "the turns below are the ones the scribe linked" not in joined
    assert "No transcript turn supports this sentence" not in joined


def test_a_saved_label_shows_as_saved(session_at, demo):
    at = _open_sentence(session_at(demo["two_claims"]), TWO_CLAIMS[0])
    assert not any("✓ Saved" in t for t in _texts(at))
    key = next(b.key for b in at.button if b.key and b.key.startswith("agree-") and b.key.endswith("_2"))
    k = key[len("agree-"):]
    at.selectbox(key=f"ls-{k}").select("major")
    at.text_input(key=f"lc-{k}").input("Remove: no MRI was discussed.")
    at.button(key=f"FormSubmitter:label-{k}-Save label").click().run()
    assert not at.exception
    saved = [t for t in _texts(at) if "✓ Saved" in t]
    assert len(saved) == 1 and "unsupported · fabrication · major" in saved[0] and "no MRI was discussed" in saved[0]
    # the form now starts from the saved label, not from the judge's
    assert at.selectbox(key=f"ls-{k}").value == "major"


def test_evidence_caption_matches_the_turns_listed(demo, clinician):
    def sv(verdict, scribe, judge, claims=True):
        from evalkit.schema import Finding

        cs = [Finding(kind="claim", id="p.0#1", text="x", verdict=verdict, evidence=judge)] if claims else []
        return SentenceView(id="p.0", section="PLAN", text="x", verdict=verdict, claims=cs,
                            evidence=sorted(set(scribe) | set(judge)), scribe_evidence=scribe, judge_evidence=judge)

    cap, turns = evidence_note(sv("supported", [1], [2, 3]))
    assert cap.startswith("**Evidence in the transcript**") and turns == [1, 2, 3]
    cap, turns = evidence_note(sv("unsupported", [4], []))
    assert "found no turn that supports" in cap and "below are the turns the scribe linked" in cap and turns == [4]
    cap, turns = evidence_note(sv("unsupported", [], []))
    assert "scribe linked none" in cap and turns == []
    cap, turns = evidence_note(sv("unchecked", [], [], claims=False))
    assert cap.startswith("The judge did not check this sentence") and turns == []
    # the demo's two-claim sentence: nothing linked by anyone
    v = load_session(demo["store"], clinician, demo["two_claims"], extras=False)
    two = next(s for s in v.sentences if s.text == TWO_CLAIMS[0])
    assert len(two.claims) == 2 and evidence_note(two)[1] == []
