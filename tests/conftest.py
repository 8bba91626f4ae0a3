"""Shared fixtures: ACI-Bench paths, a temporary store, tiny consultations."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

REPO = Path(__file__).resolve().parents[1]
SHARED = REPO.parent / "shared"
ACI = SHARED / "data" / "aci-bench"


@pytest.fixture
def aci_dir() -> Path:
    if not (ACI / "valid.csv").exists():
        pytest.skip("ACI-Bench data not found beside the repo (../shared/data/aci-bench)")
    return ACI


@pytest.fixture
def store(tmp_path):
    from evalkit.store import Store

    return Store(tmp_path / "t.duckdb")


def make_consultation(cid: str = "c1", dataset: str = "unit", template: str = "SOAP"):
    """A small, fully grounded consultation built by hand."""
    from evalkit.schema import Case, Consultation, Medication, Note, NoteSection, NoteSentence, SpeakerRole, Turn

    C, P = SpeakerRole.CLINICIAN, SpeakerRole.PATIENT
    texts = [
        (C, "Good morning. What brings you in today?"),
        (P, "I've had a cough for two weeks and some wheeze at night."),
        (C, "Any chest pain?"),
        (P, "No, no chest pain."),
        (C, "What medicines are you taking at the moment?"),
        (P, "Just salbutamol 100 micrograms when I need it."),
        (C, "Any allergies?"),
        (P, "Penicillin gives me a rash."),
        (C, "Your chest has a mild wheeze on the left side. Oxygen saturation is 97 percent."),
        (C, "So the plan is to start beclometasone 200 micrograms twice a day and review in four weeks."),
    ]
    turns = [Turn(id=i, speaker=s, text=t) for i, (s, t) in enumerate(texts)]
    note = Note(template=template, sections=[
        NoteSection(key="subjective", title="SUBJECTIVE", sentences=[
            NoteSentence(id="subjective.0", text="Cough for two weeks with nocturnal wheeze.", evidence=[1]),
            NoteSentence(id="subjective.1", text="Denies chest pain.", evidence=[2, 3])]),
        NoteSection(key="objective", title="OBJECTIVE", sentences=[
            NoteSentence(id="objective.0", text="Mild left-sided wheeze. SpO2 97%.", evidence=[8])]),
        NoteSection(key="assessment", title="ASSESSMENT", sentences=[
            NoteSentence(id="assessment.0", text="Probable asthma.", evidence=[1, 8])]),
        NoteSection(key="plan", title="PLAN", sentences=[
            NoteSentence(id="plan.0", text="Start beclometasone 200 micrograms twice daily.", evidence=[9]),
            NoteSentence(id="plan.1", text="Review in four weeks.", evidence=[9])]),
    ])
    case = Case(id=cid, specialty="respiratory", chief_complaint="cough",
                medications=[Medication(name="salbutamol", dose="100 micrograms", frequency="as needed")])
    return Consultation(id=cid, case=case, turns=turns, reference_note=note, template=template, dataset=dataset)


@pytest.fixture
def consultation_factory():
    return make_consultation
