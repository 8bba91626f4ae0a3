"""Template adherence: sections present, in order, not empty, and each content rule."""

import pytest

from evalkit.errors import InputError
from evalkit.metrics.adherence import adherence, adherence_scores, drugs_without_dose, states_action
from evalkit.text.templates import load_template
from evalkit.text.parse import parse_note

GOOD_SOAP = """SUBJECTIVE
Cough for two weeks, worse at night. Takes salbutamol 100 mcg two puffs as needed.

OBJECTIVE
Chest clear on auscultation. Temperature 37.1.

ASSESSMENT
Post-viral cough.

PLAN
Continue salbutamol as needed.
Review in two weeks if not improving.
"""


def _checks(result):
    return {c.name: c.passed for c in result.checks}


def test_a_complete_note_scores_one():
    r = adherence(parse_note(GOOD_SOAP), "SOAP")
    assert r.score == 1.0, [c.name for c in r.failed]
    assert r.missing == [] and r.extra_sections == []
    assert {"present:plan", "order", "min_sentences:subjective", "states_action:plan",
            "medications_have_dose:subjective"} <= set(_checks(r))


def test_missing_section_lowers_score_and_is_named():
    note = GOOD_SOAP.replace("OBJECTIVE\nChest clear on auscultation. Temperature 37.1.\n", "")
    r = adherence(parse_note(note), "SOAP")
    assert r.score < 1.0
    assert r.missing == ["objective"]
    assert _checks(r)["present:objective"] is False
    [score] = adherence_scores(r, "run:c1")
    assert score.metric == "adherence" and score.value == pytest.approx(r.score)
    assert score.detail["missing"] == ["objective"]
    assert "present:objective" in [f["check"] for f in score.detail["failed"]]


def test_order_violation_detected():
    plan_first = """PLAN
Continue salbutamol as needed. Review in two weeks.

SUBJECTIVE
Cough for two weeks. Takes salbutamol 100 mcg when needed.

OBJECTIVE
Chest clear.

ASSESSMENT
Post-viral cough.
"""
    r = adherence(parse_note(plan_first), "SOAP")
    order = [c for c in r.checks if c.name == "order"][0]
    assert order.passed is False
    assert order.detail == {"section": "subjective", "after": "plan"}
    assert r.missing == []


def test_empty_section_fails_not_empty():
    note = parse_note(GOOD_SOAP)
    objective = [s for s in note.sections if s.key == "objective"][0]
    objective.sentences.clear()
    r = adherence(note, "SOAP")
    assert _checks(r)["not_empty:objective"] is False
    assert _checks(r)["min_sentences:objective"] is False


def test_states_action_fires_on_a_plan_without_actions():
    note = GOOD_SOAP.replace("Continue salbutamol as needed.\nReview in two weeks if not improving.",
                             "The cough is probably viral in origin.\nThe chest was clear today.")
    r = adherence(parse_note(note), "SOAP")
    check = [c for c in r.checks if c.name == "states_action:plan"][0]
    assert check.passed is False
    assert check.detail["without_action"] == ["plan.0", "plan.1"]  # sentence ids, no text


def test_states_action_in_a_combined_assessment_and_plan():
    note = """CHIEF COMPLAINT
Knee pain.

HISTORY OF PRESENT ILLNESS
Right knee pain for a week. Worse on stairs.

REVIEW OF SYSTEMS
No fever.

PHYSICAL EXAMINATION
Tender medial joint line.

ASSESSMENT AND PLAN
Right knee pain, likely a medial meniscus strain.
We will order an MRI and refer to physiotherapy.
"""
    r = adherence(parse_note(note), "HISTORY_AND_PHYSICAL")
    assert _checks(r)["states_action:assessment_plan"] is True
    no_action = note.replace("We will order an MRI and refer to physiotherapy.", "The knee looks quite swollen today.")
    r = adherence(parse_note(no_action), "HISTORY_AND_PHYSICAL")
    assert _checks(r)["states_action:assessment_plan"] is False


def test_combined_heading_counts_for_both_sections():
    note = GOOD_SOAP.replace("ASSESSMENT\nPost-viral cough.\n\nPLAN\n", "ASSESSMENT AND PLAN\nPost-viral cough.\n")
    r = adherence(parse_note(note), "SOAP")
    assert r.missing == []
    assert _checks(r)["states_action:plan"] is True


@pytest.mark.parametrize("sentence, expected", [
    ("Continue metformin.", True),
    ("Refer to cardiology.", True),
    ("We will follow up in 2 weeks.", True),
    ("Order a chest x-ray.", True),
    ("Blood pressure is well controlled.", False),
])
def test_states_action(sentence, expected):
    assert states_action(sentence) is expected


@pytest.mark.parametrize("sentence, mentions, missing", [
    ("Metformin 500 mg twice daily.", 1, 0),
    ("Start lisinopril ten milligrams once a day.", 1, 0),
    ("Continue lisinopril.", 1, 1),
    ("Lisinopril 20 daily.", 1, 0),
    ("Metformin and lisinopril 20 mg.", 2, 1),
    ("Salbutamol inhaler two puffs as needed.", 1, 0),
    ("Rest and ice the knee.", 0, 0),
])
def test_drugs_without_dose(sentence, mentions, missing):
    assert drugs_without_dose(sentence) == (mentions, missing)


def test_medications_have_dose_fires_and_skips_allergies():
    note = GOOD_SOAP.replace("Takes salbutamol 100 mcg two puffs as needed.", "Takes salbutamol when needed.")
    r = adherence(parse_note(note), "SOAP")
    check = [c for c in r.checks if c.name == "medications_have_dose:subjective"][0]
    assert check.passed is False and check.detail["without_dose"] == 1
    allergy = GOOD_SOAP.replace("Takes salbutamol 100 mcg two puffs as needed.", "Allergic to penicillin.")
    names = _checks(adherence(parse_note(allergy), "SOAP"))
    assert "medications_have_dose:subjective" not in names  # no drug to dose: rule not applicable


def test_mentions_any_rule():
    from evalkit.text.templates import Template

    tpl = Template.model_validate({"name": "T", "sections": [
        {"key": "exam", "title": "EXAM", "rules": [
            {"rule": "mentions_any", "value": ["tender", "range of motion"]}]}]})
    hit = adherence(parse_note("EXAM\nFull Range of Motion in the knee."), tpl)
    miss = adherence(parse_note("EXAM\nLooked well. Ranged widely."), tpl)
    assert _checks(hit)["mentions_any:exam"] is True
    assert _checks(miss)["mentions_any:exam"] is False
    assert miss.score == pytest.approx(2 / 3)  # present and not_empty pass; mentions_any fails


def test_note_parsed_with_template_keys_and_unknown_headings():
    # SOCIAL HISTORY is an alias of SUBJECTIVE (clinician notes use it); BILLING is no section of SOAP
    note = parse_note(GOOD_SOAP + "\nSOCIAL HISTORY\nNon-smoker.\nBILLING\nLevel 3 visit.\n", template="SOAP")
    r = adherence(note, load_template("SOAP"))
    assert r.extra_sections == ["BILLING"]
    assert r.missing == []


def test_unknown_template_is_an_input_error():
    with pytest.raises(InputError, match="unknown template"):
        adherence(parse_note(GOOD_SOAP), "NOPE")


def test_aci_bench_reference_notes_score_high(aci_dir):
    import pandas as pd

    notes = pd.read_csv(aci_dir / "valid.csv")["note"]
    scores = [adherence(parse_note(n), "HISTORY_AND_PHYSICAL").score for n in notes]
    assert min(scores) >= 0.6
    assert sum(scores) / len(scores) >= 0.85


def test_an_empty_note_scores_zero():
    from evalkit.schema import Note

    r = adherence(Note(), "SOAP")
    assert r.score == 0.0
    assert r.missing == ["subjective", "objective", "assessment", "plan"]


def test_heading_index_follows_a_copied_template():
    """Headings are looked up in an index built on first use; a copy with new aliases gets its own."""
    tpl = load_template("SOAP")
    assert tpl.match_heading("Plan:").key == "plan"
    assert tpl.match_heading("next steps") is None
    sections = [s.model_copy(update={"aliases": [*s.aliases, "NEXT STEPS"]}) if s.key == "plan" else s
                for s in tpl.sections]
    other = tpl.model_copy(update={"sections": sections})
    assert other.match_heading("Next steps").key == "plan"
    assert other.sections[3].matches("next-steps")
    assert tpl.match_heading("next steps") is None
