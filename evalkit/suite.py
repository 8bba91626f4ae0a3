"""Suites: dataset × scribes × metrics × flag rules, as a YAML file an engineer can read."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, ValidationError, field_validator

from .errors import InputError, pydantic_to_input_error
from .schema import content_hash

METRIC_GROUPS = ("wer", "adherence", "hallucination")


class FlagRule(BaseModel):
    """Flag a session when ``metric op value`` holds, e.g. ``wer > 0.25``."""

    model_config = ConfigDict(extra="forbid")
    name: str
    metric: str
    op: Literal[">", ">=", "<", "<=", "==", "!="] = ">"
    value: float = 0.0
    reason: str | None = None  # shown to reviewers; defaults to "metric op value"

    def holds(self, v: float | None) -> bool:
        if v is None:
            return False
        return {">": v > self.value, ">=": v >= self.value, "<": v < self.value, "<=": v <= self.value,
                "==": v == self.value, "!=": v != self.value}[self.op]

    def describe(self, v: float) -> str:
        return self.reason or f"{self.metric} {v:.3g} {self.op} {self.value:g}"


DEFAULT_FLAG_RULES = [
    FlagRule(name="major_hallucination", metric="major_hallucinations", op=">", value=0,
             reason="note has a major unsupported or contradicted claim"),
    FlagRule(name="major_omission", metric="major_omissions", op=">", value=0,
             reason="note omits a major fact (medication, dose, allergy, diagnosis or plan)"),
    FlagRule(name="high_wer", metric="wer", op=">", value=0.25),
    FlagRule(name="numeric_error", metric="numeric_error_rate", op=">", value=0,
             reason="a number or dose in the transcript was misheard"),
    FlagRule(name="low_adherence", metric="adherence", op="<", value=0.8),
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
            figures); see :mod:`evalkit.normalizers`.
        judge: ``grounding`` (offline) or an LLM judge spec (model string or mapping).
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

    @field_validator("normalizer")
    @classmethod
    def _known_normalizer(cls, v: str) -> str:
        from .normalizers import NORMALIZERS

        if v not in NORMALIZERS:
            raise ValueError(f"unknown normaliser {v!r}; use one of {list(NORMALIZERS)}")
        return v

    @field_validator("template")
    @classmethod
    def _known_template(cls, v: str | None) -> str | None:
        if v is not None:
            from .templates import load_template

            load_template(v)  # raises InputError naming the known templates
        return v

    def hash(self) -> str:
        # the default normaliser is left out, so runs made before the choice existed keep their ids
        exclude = {"label", "concurrency"} | ({"normalizer"} if self.normalizer == "evalkit" else set())
        return content_hash(self.model_dump(mode="json", exclude=exclude), 12)


def load_suite(path: str | Path) -> Suite:
    """Load and validate a suite YAML file; errors name the file, the field and the fix."""
    p = Path(path)
    if not p.exists():
        raise InputError(str(p), None, "file not found", "give the path of a suite YAML (see examples/suites/)")
    try:
        raw = yaml.safe_load(p.read_text(encoding="utf-8"))
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
