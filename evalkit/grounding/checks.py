"""What a grounding check returns: one :class:`Check` per atom, one :class:`Grounded` per claim."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Final

SUPPORTED, UNSUPPORTED, CONTRADICTED = "supported", "unsupported", "contradicted"
RANK: Final = {SUPPORTED: 0, UNSUPPORTED: 1, CONTRADICTED: 2}  # the worst atom sets the verdict


@dataclass
class Check:
    """The outcome of checking one atom of a claim."""

    kind: str  # drug | condition | procedure | number | dose | laterality | negation | allergy
    verdict: str
    type: str | None = None  # fabrication | negation | causality | contextual
    major: bool = False
    evidence: list[int] = field(default_factory=list)  # turn indexes
    why: str = ""
    rule: str = ""  # which rule found it wrong ("drug.absent"...): severity and confidence go by it
    concept: str = ""  # the lexicon concept checked, when there is one


@dataclass
class Grounded:
    """One claim's verdict: the worst of its checks."""

    verdict: str
    type: str | None
    severity: str | None
    evidence: list[int]  # turn indexes
    rationale: str
    checks: list[Check]
    rule: str | None = None  # the rule of the worst check, when not supported
    confidence: float | None = None  # how often that rule's flags are right (rubrics/grounding/confidence.json)
