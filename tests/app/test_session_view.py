"""The session view model: verdict per sentence, evidence, audio times, WER diff, checklist."""

from __future__ import annotations

import pytest

from evalkit.review.auth import PermissionDenied, User
from evalkit.schema import Annotation, Note, NoteSection, NoteSentence, SpeakerRole, Turn
from evalkit.review.session_view import (adherence_checklist, diff_counts, load_session, sentence_views, status_of,
                                  word_diff)

from .demo_db import FABRICATION, XSS


def test_session_view_colours_sentences_and_links_evidence(demo, clinician):
    v = load_session(demo["store"], clinician, demo["fabricated"])
    counts = v.verdict_counts()
    assert counts["unsupported"] == 1 and counts["contradicted"] == 1 and counts["unchecked"] == 0
    fab = next(s for s in v.sentences if s.text == FABRICATION)
    assert fab.verdict == "unsupported" and fab.worst_claim.type == "fabrication"
    assert fab.worst_claim.severity == "major" and fab.section == "ASSESSMENT AND PLAN"
    assert [t for t, _ in v.sections()][0] == "CHIEF COMPLAINT"
    assert v.flags == [{"rule": "any_major_hallucination", "reason": "1 major hallucination"}]
    assert v.scores["major_hallucinations"]["value"] == 1.0
    assert v.omissions and v.omissions[0].evidence
    assert v.audio_path is not None and v.audio_path.exists()
    t3 = v.audio.turn_times[3]
    assert v.turn_start(3) == t3.start and t3.start > 0
    assert v.status == "to_review"
    c = diff_counts(v.diff)
    assert c["equal"] > 500 and c["substitute"] + c["delete"] + c["insert"] > 0
    assert any(o.op == "substitute" and o.ref == "lasix" for o in v.diff) or c["substitute"] > 0
    assert v.checklist and {"item", "ok", "why"} <= set(v.checklist[0])


def test_untrusted_text_is_kept_verbatim_in_the_model(demo, clinician):
    v = load_session(demo["store"], clinician, demo["xss"])
    assert any(s.text == XSS for s in v.sentences)  # escaping happens at render time, not here


def test_view_needs_review_permission_and_an_existing_session(demo):
    with pytest.raises(PermissionDenied):
        load_session(demo["store"], User("x", "clinician", disabled=True), demo["fabricated"])
    with pytest.raises(KeyError):
        load_session(demo["store"], User("x", "clinician"), "nope:nope")


def test_sentence_verdict_is_the_worst_claim():
    from evalkit.schema import Finding

    note = Note(sections=[NoteSection(key="plan", title="PLAN", sentences=[
        NoteSentence(id="plan.0", text="A.", evidence=[1]), NoteSentence(id="plan.1", text="B.")])])
    claims = [Finding(kind="claim", id="plan.0#1", text="A", sentence_id="plan.0", verdict="supported", evidence=[2]),
              Finding(kind="claim", id="plan.0#2", text="A", sentence_id="plan.0", verdict="contradicted")]
    sv = sentence_views(note, claims)
    assert sv[0].verdict == "contradicted" and sv[0].evidence == [1, 2]
    assert sv[1].verdict == "unchecked" and sv[1].claims == []


def test_word_diff_marks_substitutions_deletions_insertions():
    ref = [Turn(id=0, speaker=SpeakerRole.CLINICIAN, text="Start lisinopril ten mg daily.")]
    hyp = [Turn(id=0, speaker=SpeakerRole.CLINICIAN, text="start listen opera ten daily")]
    ops = word_diff(ref, hyp)
    kinds = [o.op for o in ops]
    assert "substitute" in kinds and ("delete" in kinds or "insert" in kinds)
    assert " ".join(o.ref for o in ops if o.ref).startswith("start lisinopril")
    stored = word_diff(ref, hyp, {"ops": [["equal", "a", "a"], {"op": "delete", "ref": "b"}]})
    assert [(o.op, o.ref) for o in stored] == [("equal", "a"), ("delete", "b")]


def test_checklist_reruns_the_adherence_checks():
    note = Note(sections=[NoteSection(key="subjective", title="SUBJECTIVE", sentences=[
        NoteSentence(id="subjective.0", text="Cough for two weeks."),
        NoteSentence(id="subjective.1", text="No fever.")])])
    items = adherence_checklist({}, note, "SOAP")
    present = {i["item"]: i["ok"] for i in items}
    assert present["Subjective: section present"] is True and present["Plan: section present"] is False
    fallback = adherence_checklist({"failed": [{"check": "present:plan", "why": "needs a plan"}]}, note, None)
    assert fallback == [{"item": "Plan: section present", "ok": False, "why": "needs a plan"}]


def test_status_is_the_latest_status_annotation():
    a = [Annotation(session_id="s", reviewer="x", kind="status", payload={"status": "in_review"}),
         Annotation(session_id="s", reviewer="x", kind="comment", payload={"text": "hi"}),
         Annotation(session_id="s", reviewer="y", kind="adjudication", payload={"status": "done"})]
    assert status_of([]) == "to_review" and status_of(a[:2]) == "in_review" and status_of(a) == "done"
