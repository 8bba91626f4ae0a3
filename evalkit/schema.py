"""Pydantic models shared by every part of evalkit.

The data flow is one direction: ``Case`` → ``Consultation`` (+ ``Audio``) → ``ScribeOutput``
→ ``Claim``/``Omission`` findings and ``Score`` records → ``Flag`` and ``Annotation``.
Every stored record carries a ``Provenance``.
"""

from __future__ import annotations

import hashlib
import json
import re
from datetime import datetime, timezone
from enum import Enum
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, field_validator


def utcnow() -> datetime:
    return datetime.now(timezone.utc)


def content_hash(obj: Any, n: int = 16) -> str:
    """Stable short hash of any JSON-able object (pydantic models included)."""
    if isinstance(obj, BaseModel):
        obj = obj.model_dump(mode="json")
    blob = json.dumps(obj, sort_keys=True, ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()[:n]


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid", populate_by_name=True)


# --------------------------------------------------------------------------- case cards


class Sex(str, Enum):
    FEMALE = "female"
    MALE = "male"
    OTHER = "other"
    UNKNOWN = "unknown"


class Persona(_Model):
    """The patient as they present: who speaks in the dialogue."""

    name: str = "the patient"
    age: int | None = Field(default=None, ge=0, le=120)
    sex: Sex = Sex.UNKNOWN
    pronouns: str = "they/them"
    occupation: str | None = None
    speech_style: str | None = None  # e.g. "hesitant", "chatty", "terse"


class Clinician(_Model):
    name: str = "Dr Patel"
    role: str = "doctor"  # GP, PCP, nurse practitioner...


class Medication(_Model):
    name: str
    dose: str | None = None  # "500 mg"
    route: str | None = None  # "oral"
    frequency: str | None = None  # "twice a day"
    indication: str | None = None
    status: Literal["current", "new", "changed", "stopped"] = "current"


class Allergy(_Model):
    substance: str
    reaction: str | None = None


class PlantedFact(_Model):
    """A fact a good note must carry (a dose, a laterality, a negated symptom, an allergy)."""

    kind: Literal["dose", "laterality", "negation", "allergy", "number", "plan", "history", "other"]
    text: str  # how a note would state it, e.g. "No chest pain."
    keywords: list[str] = Field(default_factory=list)  # words that must appear in the note


class Case(_Model):
    """A case card: everything a consultation is generated from."""

    id: str
    specialty: str
    setting: str = "outpatient clinic"
    region: Literal["UK", "US", "AU", "IE", "NZ", "CA", "IN", "other"] = "US"
    dialect: dict[str, str] = Field(default_factory=dict)  # canonical term → regional term
    persona: Persona = Field(default_factory=Persona)
    clinician: Clinician = Field(default_factory=Clinician)
    chief_complaint: str
    history: list[str] = Field(default_factory=list)  # HPI facts, patient's words
    duration: str | None = None
    symptoms_present: list[str] = Field(default_factory=list)
    symptoms_absent: list[str] = Field(default_factory=list)  # negated review of systems
    conditions: list[str] = Field(default_factory=list)  # past medical history
    family_history: list[str] = Field(default_factory=list)
    social_history: list[str] = Field(default_factory=list)
    medications: list[Medication] = Field(default_factory=list)
    allergies: list[Allergy] = Field(default_factory=list)
    vitals: dict[str, str] = Field(default_factory=dict)  # "blood pressure": "142/90"
    exam: list[str] = Field(default_factory=list)
    results: list[str] = Field(default_factory=list)
    assessment: list[str] = Field(default_factory=list)
    plan: list[str] = Field(default_factory=list)
    planted_facts: list[PlantedFact] = Field(default_factory=list)
    template: str = "SOAP"
    source: str = "synthetic"
    metadata: dict[str, Any] = Field(default_factory=dict)

    @field_validator("id")
    @classmethod
    def _id_is_slug(cls, v: str) -> str:
        if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9_.-]*", v):
            raise ValueError("use letters, digits, '-', '_' or '.' only (e.g. 'cardio-af-uk-01')")
        return v


# --------------------------------------------------------------------------- dialogue and notes


class SpeakerRole(str, Enum):
    CLINICIAN = "CLINICIAN"
    PATIENT = "PATIENT"
    OTHER = "OTHER"


class Turn(_Model):
    id: int  # index within the consultation, 0-based; evidence links point here
    speaker: SpeakerRole
    text: str
    start: float | None = None  # seconds
    end: float | None = None


class NoteSentence(_Model):
    id: str  # "<section>.<n>", e.g. "plan.2"
    text: str
    evidence: list[int] = Field(default_factory=list)  # turn ids


class NoteSection(_Model):
    key: str  # canonical key from the template, e.g. "subjective"
    title: str  # heading as written, e.g. "SUBJECTIVE"
    sentences: list[NoteSentence] = Field(default_factory=list)

    @property
    def text(self) -> str:
        return " ".join(s.text for s in self.sentences)


class Note(_Model):
    template: str | None = None
    sections: list[NoteSection] = Field(default_factory=list)

    def sentences(self) -> list[tuple[NoteSection, NoteSentence]]:
        return [(sec, s) for sec in self.sections for s in sec.sentences]

    def to_text(self) -> str:
        """Plain text with upper-case headings: the format `Note.from_text` reads back."""
        blocks = []
        for sec in self.sections:
            body = "\n".join(s.text for s in sec.sentences)
            blocks.append(f"{sec.title.upper()}\n\n{body}")
        return "\n\n".join(blocks)


class Consultation(_Model):
    id: str
    case: Case
    turns: list[Turn]
    reference_note: Note
    template: str
    dataset: str = "synthetic"
    seed: int | None = None
    generator: str = "offline"
    generator_version: str = "1"

    def transcript_text(self) -> str:
        return "\n".join(f"[{t.speaker.value.lower()}] {t.text}" for t in self.turns)


class TurnTime(_Model):
    turn_id: int
    start: float
    end: float


class Audio(_Model):
    path: str  # relative to the database's directory when stored
    sample_rate: int = 16000
    duration: float
    turn_times: list[TurnTime] = Field(default_factory=list)
    engine: str = "espeak"
    voices: dict[str, str] = Field(default_factory=dict)  # role → voice id
    snr_db: float | None = None
    provenance: dict[str, Any] = Field(default_factory=dict)


# --------------------------------------------------------------------------- scribe output


class ScribeOutput(_Model):
    consultation_id: str
    transcript: list[Turn] = Field(default_factory=list)
    note: Note = Field(default_factory=Note)
    backend: str
    backend_version: str = "0"
    latency_s: float = 0.0
    cost_usd: float | None = None
    entities: list[dict[str, Any]] = Field(default_factory=list)
    metadata: dict[str, Any] = Field(default_factory=dict)


# --------------------------------------------------------------------------- findings and scores

Verdict = Literal["supported", "unsupported", "contradicted"]
ErrorType = Literal["fabrication", "negation", "causality", "contextual"]
Severity = Literal["major", "minor"]


class Claim(_Model):
    """One checkable statement from the note, with the judge's verdict."""

    id: str  # "<sentence id>#<n>"
    sentence_id: str
    section: str
    text: str
    verdict: Verdict = "supported"
    type: ErrorType | None = None  # set when verdict != supported
    severity: Severity | None = None
    evidence: list[int] = Field(default_factory=list)  # turns that support or contradict
    rationale: str = ""
    confidence: float | None = Field(default=None, ge=0, le=1)  # how likely a flag is right (None: not estimated)
    rule: str | None = None  # the judge's rule that flagged it, e.g. "drug.absent"
    sources: list[Literal["transcript", "context"]] = Field(default_factory=list)  # what supports it


class Omission(_Model):
    """A salient transcript fact missing from the note."""

    id: str
    text: str
    category: Literal["medication", "dose", "diagnosis", "plan", "allergy", "symptom", "other"] = "other"
    severity: Severity = "minor"
    evidence: list[int] = Field(default_factory=list)


class Finding(_Model):
    """A stored judge finding: a claim or an omission, flattened for the store and the app."""

    kind: Literal["claim", "omission"]
    id: str
    text: str
    section: str | None = None
    sentence_id: str | None = None
    verdict: Verdict | None = None
    type: ErrorType | None = None
    severity: Severity | None = None
    category: str | None = None
    evidence: list[int] = Field(default_factory=list)
    rationale: str = ""
    confidence: float | None = None
    rule: str | None = None
    sources: list[str] = Field(default_factory=list)  # "transcript", "context": what supports a claim

    @classmethod
    def from_claim(cls, c: Claim) -> "Finding":
        return cls(kind="claim", id=c.id, text=c.text, section=c.section, sentence_id=c.sentence_id,
                   verdict=c.verdict, type=c.type, severity=c.severity, evidence=c.evidence,
                   rationale=c.rationale, confidence=c.confidence, rule=c.rule, sources=list(c.sources))

    @classmethod
    def from_omission(cls, o: Omission) -> "Finding":
        return cls(kind="omission", id=o.id, text=o.text, severity=o.severity, category=o.category,
                   evidence=o.evidence)


class JudgeResult(_Model):
    claims: list[Claim] = Field(default_factory=list)
    omissions: list[Omission] = Field(default_factory=list)
    judge: str = "grounding"
    judge_version: str = "1"
    prompt_hash: str | None = None
    cost_usd: float | None = None
    error: str | None = None
    salient_facts: int | None = None  # how many salient transcript facts were looked for (omission_rate denominator)


class Provenance(_Model):
    run_id: str | None = None
    backend: str | None = None
    backend_version: str | None = None
    judge: str | None = None
    judge_prompt_hash: str | None = None
    reviewer: str | None = None
    created_at: datetime = Field(default_factory=utcnow)


class Score(_Model):
    session_id: str
    metric: str  # "wer", "medical_wer", "adherence", "hallucination_rate", ...
    value: float | None
    detail: dict[str, Any] = Field(default_factory=dict)
    provenance: Provenance = Field(default_factory=Provenance)


class Flag(_Model):
    session_id: str
    rule: str  # rule name from the suite
    reason: str  # human-readable, no patient text
    severity: Literal["high", "medium", "low"] | None = None  # the rule's: orders the review queue (None: low)
    provenance: Provenance = Field(default_factory=Provenance)


AnnotationKind = Literal[
    "flag", "clear", "claim_label", "omission", "pdqi", "comment", "status", "adjudication"
]
ReviewStatus = Literal["to_review", "in_review", "done", "needs_adjudication"]


class Annotation(_Model):
    """A reviewer's label. Appended, never overwritten."""

    id: str | None = None
    session_id: str
    reviewer: str
    kind: AnnotationKind
    target: str | None = None  # claim id for claim_label, etc.
    payload: dict[str, Any] = Field(default_factory=dict)
    created_at: datetime = Field(default_factory=utcnow)


__all__ = [
    "Allergy", "Annotation", "Audio", "Case", "Claim", "Clinician", "Consultation", "Finding",
    "Flag", "JudgeResult", "Medication", "Note", "NoteSection", "NoteSentence", "Omission",
    "Persona", "PlantedFact", "Provenance", "Score", "ScribeOutput", "Sex", "SpeakerRole",
    "Turn", "TurnTime", "content_hash", "utcnow",
]
