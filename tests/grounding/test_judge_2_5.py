"""Judge 2.5 on real ACI-Bench dialogues: the plan, examination and result checks it adds, and the false
flags it no longer raises.

Each case is a note sentence judged against its real consultation; sentences are quoted from published
notes (the system is named) or from the clinicians' reference notes, unless marked as written for the test.
"""

from __future__ import annotations

import pytest

from evalkit.metrics.hallucination import judge_note
from evalkit.text.parse import parse_note


def _flags(c, note: str) -> list[tuple[str, str | None]]:
    """(rule, severity) of the note's flagged claims at the review queue's operating point (confidence >= 0.5)."""
    return [(cl.rule, cl.severity) for cl in judge_note(c.turns, parse_note(note), c.case).claims
            if cl.verdict != "supported" and (cl.confidence or 0) >= 0.5]


def _rules(c, note: str) -> set[str | None]:
    return {r for r, _ in _flags(c, note)}


# ---------------------------------------------------------------- follow-up and declined treatments


def test_a_follow_up_at_another_interval_than_the_clinicians_is_flagged_major(cons):
    # D2N096 (biobart-division): "come back to see me if the pain ... still there after maybe three weeks"
    c = cons["D2N096"]
    assert _flags(c, "PLAN\nFollow up with me in 1 week to check on her pain.") == [("followup.other_interval", "major")]
    assert not _rules(c, "PLAN\nShe will follow up in 3 weeks if the pain persists.")  # written for the test


def test_a_follow_up_interval_when_the_visit_gave_none_is_flagged(cons):
    # D2N116 (biobart-division): the visit plans physical therapy and gives no follow-up interval
    c = cons["D2N116"]
    assert "followup.unsaid" in _rules(c, "PLAN\nHe will follow up with me in 2 weeks to assess his progress.")


@pytest.mark.parametrize("eid,note", [
    # D2N092 (gpt-4): "if it does n't get any better in the next week or so , let me know , and we'll take a look
    # at you again" is a follow-up in other words
    ("D2N092", "She is to follow up in a week if no improvement."),
    # D2N121 (biobart-division): an "as needed" follow-up gives no appointment
    ("D2N121", "He will follow up with me as needed if his blood pressure does not improve over the next couple of days."),
    # D2N028 (reference note): the patient reports his doctor's plan: "we would recheck them in about six months"
    ("D2N028", "his primary care provider advised that they would need to recheck his liver enzymes in 6 months."),
])
def test_a_follow_up_said_in_other_words_or_as_needed_is_not_flagged(cons, eid, note):
    assert not {r for r in _rules(cons[eid], "PLAN\n" + note) if r and r.startswith("followup.")}


def test_a_treatment_the_clinician_said_is_not_needed_is_flagged(cons):
    # D2N110: "i do n't think any more antibiotics are needed at this time"
    c = cons["D2N110"]
    assert _flags(c, "PLAN\nWe will prescribe a daily course of antibiotics.") == [("plan.declined", "major")]
    # the history of an earlier course is not the plan (gpt-4)
    assert "plan.declined" not in _rules(c, "HPI\nHe saw his PCP who prescribed antibiotics but the wound did not improve.")


# ---------------------------------------------------------------- examination and results read the other way


@pytest.mark.parametrize("eid,note", [
    ("D2N116", "PHYSICAL EXAM\nNormal range of motion."),  # "you have limited active and passive range of motion"
    ("D2N116", "PHYSICAL EXAM\nDecreased grip strength."),  # "you do have a good hand grip"
    ("D2N104", "PHYSICAL EXAM\nRange of motion is decreased."),  # "good range of motion"
])
def test_an_examination_measure_read_the_other_way_is_flagged(cons, eid, note):
    assert "exam.opposite_quality" in _rules(cons[eid], note)


@pytest.mark.parametrize("eid,note", [
    # the same reading (text-davinci-003)
    ("D2N104", "On physical exam, the doctor noted good range of motion and ridges in her nails."),
    # "limited range of motion on extension not on flexion" (reference note): another movement
    ("D2N037", "Full range of motion with flexion with pain."),
    # a symptom denial, not an examination of sensation (reference note)
    ("D2N060", "There is no numbness, tingling, or other abnormal sensations associated with her pain."),
])
def test_an_examination_measure_read_the_same_way_or_elsewhere_is_not_flagged(cons, eid, note):
    assert "exam.opposite_quality" not in _rules(cons[eid], "PHYSICAL EXAM\n" + note)


def test_a_test_result_read_the_other_way_is_flagged(cons):
    # D2N093 (biobart-division): "your chest x-ray ... looks good"
    assert "result.opposite" in _rules(cons["D2N093"], "RESULTS\nX-ray of the chest demonstrates possible congestive heart failure.")


@pytest.mark.parametrize("eid,note", [
    ("D2N072", "X-rays of the right hand show no obvious signs of fracture or bony abnormalities."),  # a denial reads normal
    ("D2N080", "After reviewing the patients x-rays, I believe there is some arthritis in the knee."),  # the assessment
    ("D2N109", "X-ray of the left ankle is unremarkable."),  # only ordered: "if the x-ray shows a fracture ..."
])
def test_a_result_read_the_same_way_or_never_read_is_not_contradicted(cons, eid, note):
    assert "result.opposite" not in _rules(cons[eid], "RESULTS\n" + note)


def test_a_dose_said_beside_another_drug_is_flagged(cons):
    # D2N092 (bart-large): 800 milligrams three times a day was the motrin, flonase had no dose
    c = cons["D2N092"]
    assert ("dose.other_drug", "major") in _flags(c, "HPI\nThe patient states she takes flonase, 800 mg 3 times a day.")
    assert "dose.other_drug" not in _rules(c, "PLAN\nMotrin 800 mg three times a day with food.")


def test_a_lab_result_when_labs_were_only_planned_is_flagged(cons):
    # D2N104 (biobart-division): the visit plans blood work and reports none
    assert "result.absent" in _rules(cons["D2N104"], "RESULTS\nLabs: Creatinine is normal.")


# ---------------------------------------------------------------- false flags 2.4 raised, 2.5 does not


@pytest.mark.parametrize("eid,note", [
    ("D2N088", "RESULTS\n> Chest x-ray does not show airspace disease or pneumonia."),  # chatgpt: "does not show X or Y"
    ("D2N088", "PLAN\nPrescribe robitussin for cough and advise ibuprofen or tylenol for fever."),  # gpt-4: what for
    ("D2N088", "HPI\nHe has had both of his COVID vaccinations."),  # reference: "have you had your covid vaccines?" "yeah, both"
    ("D2N088", "PHYSICAL EXAM\nRespiratory: Scattered rhonchi bilaterally, clears with cough."),  # said "ronchi"
    ("D2N099", "PLAN\nIf a croup cough develops, the patient will receive a 0.5 teaspoon."),  # reference: a contingency
    ("D2N117", "HPI\nBlood sugars have been running at 150-160."),  # text-davinci-003: "one fifty one sixty"
    ("D2N096", "HPI\nShe states that she was in gymnastics 1 week ago."),  # reference: "it's been a week" six turns before
])
def test_false_flags_of_2_4_are_gone(cons, eid, note):
    assert _flags(cons[eid], note) == []


def test_a_finding_presupposed_by_an_if_clause_is_still_checked(cons):
    # D2N099 (biobart-division): the visit never spoke of a rash; "if his rash does not improve" asserts one
    assert "condition.absent" in _rules(cons["D2N099"], "PLAN\nIf his rash does not improve, we will send a swab.")


def test_an_inline_examination_label_does_not_make_a_denial_a_manoeuvre(cons):
    # D2N109 (biobart-division): "you do have some tenderness over the lateral malleolus"
    note = "PHYSICAL EXAM\nMSK: Examination of the left ankle: No pain or tenderness over the lateral malleolus."
    assert "negation.denies_affirms" in _rules(cons["D2N109"], note)


# ---------------------------------------------------------------- omissions


def _omissions(c, note: str) -> list[str]:
    return [o.text for o in judge_note(c.turns, parse_note(note), c.case).omissions]


def test_a_decision_that_a_treatment_is_not_needed_is_an_omission_when_left_out(cons):
    # D2N099: "i do n't think he needs any antibiotics , at least not at this point in time"
    c = cons["D2N099"]
    assert any("antibiotic" in o for o in _omissions(c, "PLAN\nFluids and rest."))
    assert not any("antibiotic" in o for o in _omissions(c, "PLAN\nNo antibiotics are needed at this time."))


def test_a_follow_up_without_its_interval_is_an_omission(cons):
    # D2N099: "we'll see him back in one week"
    c = cons["D2N099"]
    assert any(o.startswith("follow-up") for o in _omissions(c, "PLAN\nFollow up as needed."))
    assert not any(o.startswith("follow-up") for o in _omissions(c, "PLAN\nFollow up in one week."))
