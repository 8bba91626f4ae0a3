"""Error planting and measurement."""

from __future__ import annotations

import random

import pytest

from evalkit.calibrate import KINDS, measure, plant_error
from evalkit.metrics.hallucination import judge_note
from evalkit.schema import JudgeResult


@pytest.mark.parametrize("kind", KINDS)
def test_plant_changes_exactly_one_sentence(aci_valid, kind):
    for c in aci_valid[:6]:
        got = plant_error(c.reference_note, c.turns, kind, random.Random(3))
        if got is None:
            continue
        note, err = got
        before = {s.id: s.text for _, s in c.reference_note.sentences()}
        after = {s.id: s.text for _, s in note.sentences()}
        changed = {k for k in before.keys() | after.keys() if before.get(k) != after.get(k)}
        assert changed == {err.sentence_id}
        assert err.original == before.get(err.sentence_id, "")
        assert err.new == after.get(err.sentence_id, "")
        assert err.kind == kind
        return
    pytest.skip(f"no place for {kind} in the first notes")


def test_plant_is_reproducible(aci_valid):
    c = aci_valid[1]
    a = plant_error(c.reference_note, c.turns, "changed_number", random.Random(7))
    b = plant_error(c.reference_note, c.turns, "changed_number", random.Random(7))
    assert a is not None and a[1] == b[1]
    with pytest.raises(ValueError):
        plant_error(c.reference_note, c.turns, "nonsense", random.Random(0))


def test_fabricated_terms_are_not_in_the_transcript(aci_valid):
    for c in aci_valid[:5]:
        said = " ".join(t.text.lower() for t in c.turns)
        for kind, key in (("fabricated_medication", "to"), ("fabricated_history", "added")):
            got = plant_error(c.reference_note, c.turns, kind, random.Random(0))
            assert got is not None
            assert got[1].detail[key] not in said


def test_measure_reports_recall_and_false_flags(aci_valid):
    r = measure(judge_note, aci_valid[:3], seed=0)
    assert set(r["recall"]) <= set(KINDS) and r["recall"]
    assert all(0.0 <= v <= 1.0 for v in r["recall"].values())
    assert r["clean_notes"] == 3 and r["clean_claims"] > 50
    assert 0.0 <= r["false_flag_claim_rate"] <= 0.1
    assert sum(r["planted"].values()) + sum(r["unavailable"].values()) == 3 * len(KINDS)


def test_measure_scores_a_judge_that_flags_nothing_at_zero(aci_valid):
    def silent(transcript, note, case=None):
        res = judge_note(transcript, note, case)
        return JudgeResult(claims=[c.model_copy(update={"verdict": "supported", "type": None, "severity": None})
                                   for c in res.claims])

    r = measure(silent, aci_valid[:2], seed=1)
    assert all(v == 0.0 for v in r["recall"].values())
    assert r["false_flag_claim_rate"] == 0.0
