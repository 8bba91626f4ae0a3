"""Suites: dataset × scribes × metrics × flag rules, as a YAML file an engineer can read."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from ..security import safe_yaml
from ..errors import InputError, pydantic_to_input_error
from ..schema import content_hash

METRIC_GROUPS = ("wer", "adherence", "hallucination")


FlagSeverity = Literal["high", "medium", "low"]
#: rank of a flag rule's severity in the review queue (a session ranks by its most severe flag)
FLAG_SEVERITY_RANK: dict[str, int] = {"high": 3, "medium": 2, "low": 1}


class FlagRule(BaseModel):
    """Flag a session when ``metric op value`` holds, e.g. ``wer > 0.25``.

    ``severity`` (high, medium, low; default low) orders the review queue: sessions whose most
    severe flag is high come first (see docs/review-app.md). It does not change a run's results,
    so it is left out of the suite's hash (a run keeps its identity when only severities change).
    """

    model_config = ConfigDict(extra="forbid")
    name: str
    metric: str
    op: Literal[">", ">=", "<", "<=", "==", "!="] = ">"
    value: float = 0.0
    reason: str | None = None  # shown to reviewers; defaults to "metric op value"
    #: for counts of judge findings (major_hallucinations): count only those at least this confident
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    severity: FlagSeverity = "low"

    def holds(self, v: float | None) -> bool:
        if v is None:
            return False
        return {">": v > self.value, ">=": v >= self.value, "<": v < self.value, "<=": v <= self.value,
                "==": v == self.value, "!=": v != self.value}[self.op]

    def describe(self, v: float) -> str:
        return self.reason or f"{self.metric} {v:.3g} {self.op} {self.value:g}"


DEFAULT_FLAG_RULES = [
    FlagRule(name="major_hallucination", metric="major_hallucinations", op=">", value=0, min_confidence=0.5,
             reason="note has a major unsupported or contradicted claim", severity="high"),
    FlagRule(name="major_omission", metric="major_omissions", op=">", value=0,
             reason="note omits a major fact (medication, dose, allergy, diagnosis or plan)", severity="medium"),
    FlagRule(name="high_wer", metric="wer", op=">", value=0.25, severity="low"),
    FlagRule(name="numeric_error", metric="numeric_error_rate", op=">", value=0,
             reason="a number or dose in the transcript was misheard", severity="medium"),
    FlagRule(name="low_adherence", metric="adherence", op="<", value=0.8, severity="low"),
]


class Suite(BaseModel):
    """An evaluation suite.

    Args:
        name: suite name (shown in reports).
        dataset: dataset name in the store (``evalkit generate`` / ``evalkit import`` put it there).
        scribes: scribe specs, each a name or a pipeline (``whisper+rules``). One run per scribe.
        scribe_options: per-stage options, e.g. ``{"whisper": {"beam_size": 1}}``.
        template: note template for every case; ``None`` uses each consultation's own.
        metrics: metric groups to compute (``wer``, ``adherence``, ``hallucination``).
        normalizer: text normalisation for the WER family: ``evalkit`` (clinical: doses, units,
            numbers) or ``whisper`` (Whisper's EnglishTextNormalizer, for comparison with published
            figures); see :mod:`evalkit.text.normalizers`.
        judge: ``grounding`` (offline) or an LLM judge spec (model string or mapping).
        context: the parts of the record the judge may use as evidence besides the dialogue
            (:data:`evalkit.context.PARTS`; ``[]`` for the dialogue alone).
        flag_rules: rules that put a session in front of clinicians.
        concurrency: cases processed at once.
        limit: process only the first N consultations (for smoke tests).
    """

    model_config = ConfigDict(extra="forbid")
    name: str = "suite"
    dataset: str = "synthetic"
    scribes: list[str] = Field(default_factory=lambda: ["reference"], min_length=1)
    scribe_options: dict[str, dict[str, Any]] = Field(default_factory=dict)
    template: str | None = None
    metrics: list[str] = Field(default_factory=lambda: list(METRIC_GROUPS))
    normalizer: str = "evalkit"
    judge: Any = "grounding"
    context: list[str] = Field(default_factory=lambda: ["demographics", "chief_complaint", "medications",
                                                        "conditions", "allergies"])
    flag_rules: list[FlagRule] = Field(default_factory=lambda: list(DEFAULT_FLAG_RULES))
    concurrency: int = Field(default=2, ge=1, le=256)
    limit: int | None = Field(default=None, ge=1)
    label: str | None = None

    @field_validator("metrics")
    @classmethod
    def _known_groups(cls, v: list[str]) -> list[str]:
        bad = [m for m in v if m not in METRIC_GROUPS]
        if bad:
            raise ValueError(f"unknown metric group(s) {bad}; use any of {list(METRIC_GROUPS)}")
        return v

    @field_validator("context")
    @classmethod
    def _known_parts(cls, v: list[str]) -> list[str]:
        from ..context import PARTS

        bad = [p for p in v if p not in PARTS]
        if bad:
            raise ValueError(f"unknown context part(s) {bad}; use any of {list(PARTS)} (or [] for none)")
        return v

    @field_validator("normalizer")
    @classmethod
    def _known_normalizer(cls, v: str) -> str:
        from ..text.normalizers import NORMALIZERS

        if v not in NORMALIZERS:
            raise ValueError(f"unknown normaliser {v!r}; use one of {list(NORMALIZERS)}")
        return v

    @field_validator("template")
    @classmethod
    def _known_template(cls, v: str | None) -> str | None:
        if v is not None:
            from ..text.templates import load_template

            load_template(v)  # raises InputError naming the known templates
        return v

    def hash(self) -> str:
        d = self.model_dump(mode="json", exclude={"label": True, "concurrency": True,
                                                  "flag_rules": {"__all__": {"severity"}}})
        # defaults are left out, so runs made before these fields existed keep their ids
        if d["context"] == Suite.model_fields["context"].default_factory():  # type: ignore[misc]
            del d["context"]
        if d["normalizer"] == "evalkit":
            del d["normalizer"]
        return content_hash(d, 12)


def load_suite(path: str | Path) -> Suite:
    """Load and validate a suite YAML file; errors name the file, the field and the fix."""
    p = Path(path)
    if not p.exists():
        raise InputError(str(p), None, "file not found", "give the path of a suite YAML (see examples/suites/)")
    try:
        raw = safe_yaml.load_file(p)
    except UnicodeDecodeError:
        raise InputError(str(p), None, "is not UTF-8 text", "save the suite as UTF-8") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        raise InputError(str(p), f"line {mark.line + 1}" if mark else None, "is not valid YAML",
                         "check indentation and quoting") from None
    if not isinstance(raw, dict):
        raise InputError(str(p), None, "must be a YAML mapping", "see examples/suites/demo.yaml")
    try:
        return Suite.model_validate(raw)
    except ValidationError as e:
        raise pydantic_to_input_error(str(p), e, "see examples/suites/demo.yaml for the format") from None
