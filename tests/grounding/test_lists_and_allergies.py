"""User-reported problems: list negation scope, and allergies judged as allergies."""

from __future__ import annotations

import pytest

from evalkit.grounding.entities import Unit
from evalkit.grounding.lexicon import lexicon
from evalkit.grounding.negation import AFF, NEG
from evalkit.metrics.hallucination import judge_note
from evalkit.text.parse import parse_note, parse_transcript


def _judge(transcript: str, note: str):
    return judge_note(parse_transcript(transcript), parse_note(note))


def _flagged(res):
    return [c for c in res.claims if c.verdict != "supported"]


def _polarities(text: str) -> dict[str, str]:
    u = Unit(text)
    return {" ".join(u.toks[s:e]): u.polarity(s) for s, e, t in u.matches if t.category != "anatomy"}


# ---------------------------------------------------------------------------------- 1. list negation

DENIES_LIST = "HISTORY OF PRESENT ILLNESS\n\nDenies chest pain, shortness of breath and palpitations."


@pytest.mark.parametrize("transcript", [
    "[doctor] any chest pain or shortness of breath ?\n[patient] no , no chest pain , no shortness of breath .\n"
    "[doctor] palpitations ?\n[patient] no .",
    "[doctor] how have you been ?\n[patient] good . no chest pain , shortness of breath , or palpitations .",
    "[doctor] any chest pain , shortness of breath , palpitations ?\n[patient] no , none of that .",
])
def test_denied_list_against_denied_list_is_supported(transcript):
    res = _judge(transcript, DENIES_LIST)
    assert _flagged(res) == [], [(c.text, c.rationale) for c in _flagged(res)]


@pytest.mark.parametrize("sentence", [
    "Denies chest pain, shortness of breath and palpitations.",
    "No chest pain, shortness of breath, or palpitations.",
    "Denies chest pain with exertion, shortness of breath, and palpitations.",
    "Denies chest pain or pressure, shortness of breath and palpitations.",
    "She denies unexplained weight gain or loss, chest pain, shortness of breath, palpitations.",
    "He denies fever, sore throat, loss of taste or smell, shortness of breath and palpitations.",
])
def test_negation_carries_over_the_whole_list(sentence):
    pol = _polarities(sentence)
    assert pol["shortness of breath"] == NEG and pol["palpitations"] == NEG, pol


def test_list_negation_stops_at_a_new_clause():
    assert _polarities("No chest pain, but reports palpitations.")["palpitations"] == AFF
    assert _polarities("Denies chest pain, endorses palpitations.")["palpitations"] == AFF
    assert _polarities("no chest pain , i have palpitations")["palpitations"] == AFF
    assert _polarities("Denies fever, mild cough.")["cough"] == AFF
    assert _polarities("no fever some chills")["chills"] == AFF
    assert _polarities("no , no weakness , just , just the weird numbing")["numbing"] == AFF


def test_a_note_affirming_a_denied_list_item_is_still_contradicted():
    t = "[doctor] any chest pain , shortness of breath , palpitations ?\n[patient] no , none of that ."
    res = _judge(t, "HISTORY OF PRESENT ILLNESS\n\nReports palpitations.")
    assert [c.verdict for c in res.claims] == ["contradicted"]
    assert res.claims[0].type == "negation"


# ---------------------------------------------------------------------------------- 2. allergies

PENICILLIN = "[doctor] do you have any allergies ?\n[patient] i'm allergic to penicillin .\n[doctor] okay ."


def test_allergy_omission_is_named_by_substance_not_medication():
    res = _judge(PENICILLIN, "HISTORY OF PRESENT ILLNESS\n\nShe is here for a checkup.")
    texts = [(o.category, o.text) for o in res.omissions]
    assert ("allergy", "allergy: penicillin") in texts
    assert not any(cat == "medication" for cat, _ in texts), texts
    assert not any(cat == "diagnosis" for cat, _ in texts), texts  # "allergic" is not allergic rhinitis here


def test_allergy_from_the_answer_to_an_allergy_question():
    t = "[doctor] do you have any allergies to medicines ?\n[patient] yes , penicillin gives me a rash ."
    res = _judge(t, "HISTORY OF PRESENT ILLNESS\n\nShe is here for a checkup.")
    texts = [(o.category, o.text) for o in res.omissions]
    assert ("allergy", "allergy: penicillin") in texts
    assert all("medicines" not in text for _, text in texts), texts
    assert not any(cat in ("medication", "diagnosis") for cat, _ in texts), texts


@pytest.mark.parametrize("note", ["ALLERGIES\n\nPenicillin.", "HISTORY OF PRESENT ILLNESS\n\nShe is allergic to penicillin."])
def test_note_allergy_grounds_against_the_allergy_statement(note):
    res = _judge(PENICILLIN, note)
    assert _flagged(res) == [] and res.omissions == []
    assert res.claims[0].evidence == [1]  # the patient's "i'm allergic to penicillin"


def test_note_allergy_not_grounded_by_a_medication_mention():
    t = "[doctor] what do you take ?\n[patient] i take penicillin for my tooth .\n[doctor] okay ."
    res = _judge(t, "ALLERGIES\n\nAllergic to penicillin.")
    assert [c.verdict for c in res.claims] == ["unsupported"]
    assert "allergy to 'penicillin'" in res.claims[0].rationale
    ok = _judge(t, "MEDICATIONS\n\nPenicillin.")
    assert _flagged(ok) == []


def test_note_allergy_to_another_substance_is_flagged():
    t = "[doctor] any allergies ?\n[patient] i'm allergic to amoxicillin , it gives me hives ."
    res = _judge(t, "ALLERGIES\n\nPenicillin.")
    assert [c.verdict for c in res.claims] == ["unsupported"]
    assert [o.text for o in res.omissions] == ["allergy: amoxicillin"]


def test_allergy_denials():
    assert _flagged(_judge("[doctor] any allergies ?\n[patient] no .", "ALLERGIES\n\nNKDA.")) == []
    res = _judge(PENICILLIN, "ALLERGIES\n\nNo known drug allergies.")
    assert [(c.verdict, c.type) for c in res.claims] == [("contradicted", "negation")]
    asked = "[doctor] are you allergic to penicillin ?\n[patient] no .\n[doctor] okay ."
    assert _flagged(_judge(asked, "HISTORY OF PRESENT ILLNESS\n\nShe is allergic to penicillin."))
    assert not [o for o in _judge(asked, "PLAN\n\nFollow up.").omissions if o.category == "allergy"]


def test_allergy_lists_and_allergens():
    t = "[doctor] are you allergic to any medications ?\n[patient] yes , sulfa drugs and latex .\n[doctor] okay ."
    res = _judge(t, "ALLERGIES\n\nSulfa, latex.")
    assert _flagged(res) == [] and res.omissions == []
    res = _judge(t, "ALLERGIES\n\nSulfa.")
    assert [o.text for o in res.omissions] == ["allergy: latex"]


def test_a_drug_allergy_does_not_contradict_denied_seasonal_allergies():
    t = PENICILLIN + "\n[doctor] and seasonal allergies ?\n[patient] no , never ."
    assert _flagged(_judge(t, "HISTORY OF PRESENT ILLNESS\n\nShe denies seasonal allergies.")) == []
    assert lexicon().find("allergic") is not None  # the word still means allergies where no substance is named


# ---------------------------------------------------------------------------------- determinism

_DUMP = """
import sys
from evalkit.importers.aci_bench import load_aci_bench
from evalkit.metrics.hallucination import judge_note
from tests.conftest import ACI
for c in load_aci_bench(ACI / "valid.csv", ACI / "valid_metadata.csv"):
    sys.stdout.write(judge_note(c.turns, c.reference_note, c.case).model_dump_json())
"""


def test_same_verdicts_whatever_the_hash_seed(aci_valid):
    """Evidence and tie-breaks must not depend on set iteration order (PYTHONHASHSEED)."""
    import os
    import subprocess
    import sys
    from pathlib import Path

    root = Path(__file__).resolve().parents[2]
    outs = []
    for seed in ("1", "2"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        outs.append(subprocess.run([sys.executable, "-c", _DUMP], cwd=root, env=env, capture_output=True,
                                   text=True, check=True).stdout)
    assert outs[0] and outs[0] == outs[1]
