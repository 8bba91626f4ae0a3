"""How serious a flagged claim is (CREOLA) and how far its flag can be trusted.

Severity comes from what is wrong, as a clinician acting on the note would weigh it:
a medication, dose, allergy, diagnosis, side, result, plan or follow-up, an invented test or
history, or a negated red-flag symptom (``rubrics/grounding/red_flags.txt``) is ``major``; a
symptom the patient was only asked about or put at another body part, an age, a
duration in the history or a number said about something else is ``minor``.

Confidence is how often flags of the same rule were right on labelled real notes (the dev
split of ``datasets/aci-bench-labels``), kept in ``rubrics/grounding/confidence.json`` and
refitted with ``evalkit judge-bench --fit-confidence``; several failing rules combine as
independent evidence (noisy-or).
"""

from __future__ import annotations

import json
import math
import re
from functools import lru_cache
from typing import Any, Final

from .checks import Check
from .lexicon import grounding_dir, lexicon

#: rules whose flags are major whatever the context
_ALWAYS_MAJOR: Final = frozenset({"drug.absent", "dose.other_value", "dose.not_near_drug", "dose.other_drug",
                                  "allergy.none_contradicted",
                                  "allergy.denied_contradicted", "allergy.absent", "laterality.finding_other_side",
                                  "laterality.other_side", "procedure.absent", "history.absent",
                                  "number.local_other_value", "measure.other_value", "result.absent", "result.unnamed_test",
                                  "procedure.other_body_part"})
#: rules whose flags are minor whatever the context
_ALWAYS_MINOR: Final = frozenset({"finding.unconfirmed", "number.other_context"})
_PLAN: Final = re.compile(r"plan|assessment|impression|instructions|follow|diagnos|results|vitals|exam|objective")
_HISTORY: Final = re.compile(r"history of present|\bhpi\b|subjective|chief complaint|social|family|interval")
_AGE: Final = re.compile(r"\b\d+\s*-?\s*(?:year|yr|month|week)s?\s*-?\s*old\b|\bage(?:d)?\s+\d+")
_DURATIONS: Final = frozenset({"second", "minute", "hour", "day", "week", "month", "year", "time", None, ""})
DEFAULT_CONFIDENCE: Final = 0.5


@lru_cache(maxsize=1)
def red_flags() -> frozenset[str]:
    """Canonical concepts of the red-flag symptoms."""
    lx = lexicon()
    out = set()
    for line in (grounding_dir() / "red_flags.txt").read_text(encoding="utf-8").splitlines():
        line = line.strip().lower()
        if line and not line.startswith("#"):
            t = lx.find(line)
            out.add(t.canonical if t is not None else line)
    return frozenset(out)


def is_major(rule: str, *, section: str = "", text: str = "", concept: str | None = None) -> bool:
    """Whether a flag of ``rule`` on this claim is a major error.

    Args:
        rule: the failing check's rule (``drug.absent``, ``negation.denies_affirms``...).
        section: the claim's section key and title, lower-case.
        text: the claim's text, lower-case.
        concept: the finding's canonical concept, for concept and negation rules; a number's
            canonical unit for number rules.
    """
    if rule in _ALWAYS_MAJOR:
        return True
    if rule in _ALWAYS_MINOR:
        return False
    if rule.startswith("negation."):
        return concept in red_flags() or (concept is not None and concept not in lexicon().symptoms) \
            or bool(_PLAN.search(section) and not _HISTORY.search(section))
    if rule in ("condition.absent", "finding.other_body_part"):
        # an invented diagnosis or red flag is major; another invented symptom (or one put at another
        # body part) minor
        return concept not in lexicon().symptoms or concept in red_flags() \
            or bool(_PLAN.search(section) and not _HISTORY.search(section))
    if rule == "number.absent":  # an invented result, dose or follow-up; an age or a duration in the history is minor
        return not (_AGE.search(text) or (_HISTORY.search(section) and concept in _DURATIONS))
    return True


@lru_cache(maxsize=1)
def _table() -> tuple[dict[str, float], float]:
    path = grounding_dir() / "confidence.json"
    if not path.is_file():
        return {}, 0.0
    data: dict[str, Any] = json.loads(path.read_text(encoding="utf-8"))
    return ({rule: float(v["confidence"]) for rule, v in data.get("rules", {}).items()},
            float(data.get("coverage_slope", 0.0)))


def coverage(u: Any, idx: Any) -> float:
    """Share of the claim's content words the transcript says somewhere (1.0 when it has none).

    A flagged claim whose other words are all in the dialogue is more often a paraphrase the
    judge missed than an invention; one made of words the visit never used is usually invented.
    """
    from .lexicon import GENERIC, STOPWORDS

    key = [s for s, t in zip(u.sts, u.toks) if t not in STOPWORDS and t not in GENERIC and len(s) > 2
           and not t[0].isdigit()]
    if not key:
        return 1.0
    said = idx.stem_turns
    return sum(1 for s in key if s in said) / len(key)


#: rules that compare the note with what the visit decided or found: their claims use the visit's own words,
#: so coverage says nothing of whether the flag is right
_NO_COVERAGE: Final = frozenset(("plan.declined", "followup.other_interval", "followup.unsaid",
                                 "exam.opposite_quality", "result.opposite", "dose.other_drug"))


def coverage_counts(rules: list[str | None]) -> bool:
    """Whether a claim's coverage moves the confidence of a flag by these rules."""
    return not all(r in _NO_COVERAGE for r in rules)


def confidence(checks: list[Check], cover: float = 0.5) -> float:
    """How likely the claim's flag is right: the failing rules' confidences combined by noisy-or,
    then lowered as the claim's coverage (:func:`coverage`) rises, by the fitted slope."""
    table, slope = _table()
    miss = 1.0
    for c in checks:
        miss *= 1.0 - table.get(c.rule, DEFAULT_CONFIDENCE)
    p = min(max(1.0 - miss, 1e-3), 1 - 1e-3)
    if not coverage_counts([c.rule for c in checks]):
        cover = 0.5  # no move
    return round(adjust(p, cover, slope), 3)


def adjust(p: float, cover: float, slope: float) -> float:
    """``p`` moved on the logit scale by ``-slope * (cover - 0.5)``."""
    logit = math.log(p / (1 - p)) - slope * (cover - 0.5)
    return 1.0 / (1.0 + math.exp(-logit))
