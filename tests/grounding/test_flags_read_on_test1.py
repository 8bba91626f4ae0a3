"""Flags read by hand on two unlabelled ACI-Bench test1 encounters (D2N114, D2N125): the right ones
stay, the false ones that judge 2.2 fixed stay fixed (docs/grounding-judge.md)."""

from __future__ import annotations

import csv

import pytest

from evalkit.importers.aci_bench import load_aci_bench
from evalkit.metrics.hallucination import GroundingJudge
from evalkit.text.parse import parse_note
from tests.conftest import ACI

T1 = ACI / "test1"


@pytest.fixture(scope="module")
def flagged():
    cons = {c.case.id: c for c in load_aci_bench(T1 / "test1.csv", T1 / "test1_metadata.csv")}
    notes = {}
    for system, path in (("human", T1 / "test1.csv"), ("gpt-4", T1 / "systems" / "gpt-4.csv"),
                         ("chatgpt", T1 / "systems" / "chatgpt.csv")):
        with open(path, encoding="utf-8") as f:
            notes[system] = {r["encounter_id"]: r["note"] for r in csv.DictReader(f)}

    def flags(system: str, eid: str) -> dict[str, str]:
        """Every claim's text → its verdict (a claim's text is a note sentence, or part of one)."""
        c = cons[eid]
        result = GroundingJudge().judge(c.turns, parse_note(notes[system][eid]), c.case)
        return {cl.text: cl.verdict for cl in result.claims}

    return flags


def _verdict(claims: dict[str, str], words: str) -> str:
    """The worst verdict of the claims whose text holds ``words`` (the words must be in the note)."""
    found = [v for t, v in claims.items() if words.lower() in t.lower()]
    assert found, f"no claim holds {words!r}"
    return next((v for v in ("contradicted", "unsupported") if v in found), "supported")


def test_right_flags_stay(flagged):
    human = flagged("human", "D2N125")
    # the patient: "a little bit numb on my right side"
    assert _verdict(human, "denies sensory loss, numbness") == "contradicted"
    gpt4 = flagged("gpt-4", "D2N114")
    assert _verdict(gpt4, "BP 120/80") == "unsupported"  # a vitals block nobody said
    assert _verdict(gpt4, "35-year-old") == "unsupported"  # the record says 33


def test_false_flags_fixed_in_2_2_stay_fixed(flagged):
    gpt4 = flagged("gpt-4", "D2N125")
    for system in ("human", "gpt-4", "chatgpt"):  # the doctor: "sharp or dull on that part of your face"
        assert _verdict(flagged(system, "D2N125"), "pinprick") == "supported", system
    assert _verdict(gpt4, "multiple sclerosis") == "supported"  # the clinician's question, tagged [patient]
    assert _verdict(gpt4, "MRI of the brain") == "supported"  # brain is the head
    assert _verdict(gpt4, "skin rash") == "supported"  # "dermatologic" side effects named by the doctor
