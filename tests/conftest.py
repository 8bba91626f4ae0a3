"""Shared fixtures: ACI-Bench paths, a temporary store, tiny consultations."""

from __future__ import annotations

import os
import sys
import tempfile
from pathlib import Path

import hypothesis
import hypothesis.configuration
import pytest

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")

# Tests leave the working tree as they found it: a command run without --db writes its database
# to a temporary folder (subprocesses inherit this), and hypothesis keeps no example database.
_SCRATCH = tempfile.mkdtemp(prefix="evalkit-tests-")
os.environ["EVALKIT_DB"] = os.path.join(_SCRATCH, "evalkit.duckdb")  # never a user's own database
hypothesis.settings.register_profile("evalkit-tests", database=None)
# hypothesis also caches constants and Unicode tables under ./.hypothesis: keep them in the scratch folder
os.environ["HYPOTHESIS_STORAGE_DIRECTORY"] = os.path.join(_SCRATCH, "hypothesis")
hypothesis.configuration.set_hypothesis_home_dir(os.environ["HYPOTHESIS_STORAGE_DIRECTORY"])
hypothesis.settings.load_profile("evalkit-tests")

REPO = Path(__file__).resolve().parents[1]
#: ACI-Bench as vendored in the repository (train, valid, test1 with the published systems' notes)
ACI = REPO / "datasets" / "aci-bench"
if not (ACI / "valid.csv").is_file():  # a broken checkout, never a reason to skip
    raise RuntimeError(f"{ACI / 'valid.csv'} is missing: the tests need the ACI-Bench copy shipped in datasets/")

# Nothing beside the clone may be read: a user's checkout has no ../shared. Fail loudly on any
# such read (CI also runs the tests from a copy of the clone with nothing beside it).
_OUTSIDE = str(REPO.parent / "shared")


def _no_reads_beside_the_repo(event: str, args: tuple) -> None:
    if event == "open" and isinstance(args[0], (str, os.PathLike)):
        p = os.fspath(args[0])
        if "shared" in p and os.path.abspath(p).startswith(_OUTSIDE):
            raise RuntimeError(f"a test opened {p}, outside the repository: vendor what it needs into datasets/")


sys.addaudithook(_no_reads_beside_the_repo)


@pytest.fixture
def aci_dir() -> Path:
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


@pytest.fixture(autouse=True)
def _fresh_rate_limits():
    """Each test paces on its own table: a loopback port reused by a later test's stub server must
    not inherit the pace an earlier test's refusals set for that address."""
    from evalkit.llm import ratelimit

    old = ratelimit._TABLE
    ratelimit.install_table(ratelimit._LocalTable())
    ratelimit.set_default_limits(None, None)
    yield
    ratelimit.install_table(old)
    ratelimit.set_default_limits(None, None)
