"""False flags seen on evalkit's own synthetic consultations (reference scribe runs).

The ``reference`` scribe writes its note from the true dialogue, so a claim it copies from
a turn must be supported: names with digits are not numbers, a self-correction is not a
negation, denying a specific finding does not deny the broader one, and a plan sentence
the note phrases as "I would like to give X" or "Plan: review X" covers that plan item.
"""

from __future__ import annotations

import pytest

from evalkit.grounding.entities import Unit
from evalkit.grounding.negation import AFF, NEG
from evalkit.grounding.numbers import note_numbers
from evalkit.metrics.hallucination import judge_note
from evalkit.text.parse import parse_note, parse_transcript


def _judge(transcript: str, note: str):
    return judge_note(parse_transcript(transcript), parse_note(note))


def _flagged(res):
    return [(c.text, c.verdict, c.rationale) for c in res.claims if c.verdict != "supported"]


def _polarity(text: str, word: str) -> str:
    u = Unit(text)
    for s, e, t in u.matches:
        if word in u.toks[s:e]:
            return u.polarity(s)
    raise AssertionError(f"{word!r} not matched in {text!r}")


# ------------------------------------------------------------------- names with digits


@pytest.mark.parametrize("sentence", [
    "The TSH is 8.2 and the free T4 is low normal.",
    "Free T3 and T4 were normal.",
    "Her B12 was low and vitamin D3 was started.",
    "The HbA1c is 7.9 and the A1c before was 8.1.",
    "His CD4 count is 450.",
    "She had COVID-19 last winter.",
    "Known type 2 diabetes, on metformin.",
    "S1 and S2 are normal.",
    "The MRI shows a disc bulge at C5-C6 and at L4-L5.",
])
def test_names_with_digits_in_the_same_turn_are_supported(sentence):
    res = _judge(f"[doctor] so {sentence.lower()}\n[patient] okay .", f"RESULTS\n\n{sentence}")
    assert _flagged(res) == []


def test_thyroid_hormones_are_not_numbers():
    assert [n.value for n in note_numbers("TSH 8.2, free T4 low normal, T3 normal")] == [8.2]


def test_a_level_not_said_is_still_checked():
    res = _judge("[doctor] the mri shows a disc bulge at c5 .\n[patient] okay .",
                 "RESULTS\n\nThe MRI shows a disc bulge at C7.")
    assert [v for _, v, _ in _flagged(res)] == ["unsupported"]


# ------------------------------------------------------------------- self-corrections


@pytest.mark.parametrize("turn", [
    "I take omeprazole 20 mg, in the morning — no, sorry, once a day for my reflux.",
    "I take omeprazole 20 mg, at night, no, I mean once a day for my reflux.",
    "I take omeprazole 20 mg, twice, no wait, once a day for my reflux.",
    "I take omeprazole 20 mg, twice a day, sorry, no, once a day for my reflux.",
])
def test_a_self_correction_does_not_negate_what_follows(turn):
    assert _polarity(turn, "reflux") == AFF
    res = _judge(f"[doctor] what do you take ?\n[patient] {turn}",
                 "MEDICATIONS\n\nThe patient takes omeprazole 20 mg, once a day for her reflux.")
    assert _flagged(res) == []


def test_a_real_negation_is_still_a_negation():
    assert _polarity("No, no reflux at all.", "reflux") == NEG
    assert _polarity("No, sorry, no reflux.", "reflux") == NEG  # the second "no" still negates
    res = _judge("[doctor] any reflux ?\n[patient] no , no reflux .",
                 "HPI\n\nThe patient has reflux.")
    assert [v for _, v, _ in _flagged(res)] == ["contradicted"]


# ------------------------------------------------------------------- specific vs broader finding

COUGH = ("[doctor] what brings you in ?\n[patient] a cough with green phlegm for five days .\n"
         "[doctor] any chest pain or coughing up blood ?\n[patient] no , no chest pain , no coughing up blood .")


def test_denying_coughing_up_blood_does_not_deny_the_cough():
    res = _judge(COUGH, "HPI\n\nCough with green phlegm. Reports no chest pain, no coughing up blood.")
    assert _flagged(res) == []


def test_denying_the_cough_itself_is_still_contradicted():
    res = _judge(COUGH, "HPI\n\nDenies cough.")
    assert [v for _, v, _ in _flagged(res)] == ["contradicted"]


# ------------------------------------------------------------------- plan items the note covers


@pytest.mark.parametrize("turn,note", [
    ("i'd like to give acetaminophen 240 mg every six hours as needed for pain .",
     "I would like to give acetaminophen 240 mg every six hours as needed for pain."),
    ("i'm going to review inhaler technique with the asthma nurse in four weeks .",
     "Plan: review inhaler technique with the asthma nurse in four weeks."),
    ("i'd like you to practise the breathing exercise twice a day .",
     "Patient to practise the breathing exercise twice a day."),
])
def test_plan_sentences_cover_their_items(turn, note):
    res = _judge(f"[doctor] so the plan is , {turn}\n[patient] okay .", f"PLAN\n\n{note}")
    assert [o.text for o in res.omissions] == []


# ------------------------------------------------------------------- the reference scribe, end to end


def test_reference_notes_of_every_card_have_no_flagged_claim():
    from evalkit.paths import synthetic_dir
    from evalkit.scribes.base import ScribeInput, get_scribe
    from evalkit.synth import generate, load_cards

    cards = load_cards(synthetic_dir() / "cards")
    scribe = get_scribe("reference")
    flagged, claims = [], 0
    for seed in (1, 2):
        for c in generate(cards, n=2 * len(cards), seed=seed):
            res = judge_note(c.turns, scribe.run(ScribeInput(consultation=c)).note, c.case)
            claims += len(res.claims)
            flagged += [(c.id, *f) for f in _flagged(res)]
    assert claims > 0
    assert flagged == []
