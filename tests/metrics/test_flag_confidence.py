"""Flag rules that count judge findings can ask for a minimum confidence."""

from __future__ import annotations

from evalkit.metrics.hallucination import hallucination_scores
from evalkit.schema import Claim, JudgeResult, Provenance
from evalkit.run.scoring import apply_flag_rules
from evalkit.run.suite import DEFAULT_FLAG_RULES, FlagRule, Suite


def _flags(confidences, rules=None):
    claims = [Claim(id=f"s.{i}#0", sentence_id=f"s.{i}", section="plan", text="x", verdict="unsupported",
                    severity="major", type="fabrication", confidence=c) for i, c in enumerate(confidences)]
    scores = hallucination_scores(JudgeResult(claims=claims), "r:c")
    suite = Suite(flag_rules=rules) if rules is not None else Suite()
    return [f.rule for f in apply_flag_rules(scores, suite, "r:c", Provenance())]


def test_the_default_rule_ignores_flags_the_judge_is_unsure_of():
    assert [r for r in DEFAULT_FLAG_RULES if r.name == "major_hallucination"][0].min_confidence == 0.5
    assert _flags([0.3, 0.45]) == []
    assert _flags([0.3, 0.9]) == ["major_hallucination"]
    assert _flags([None]) == ["major_hallucination"]  # an LLM judge's flag without a confidence counts


def test_a_rule_without_min_confidence_counts_every_flag_and_a_stricter_one_fewer():
    every = FlagRule(name="any_major", metric="major_hallucinations", op=">", value=0)
    strict = FlagRule(name="sure_major", metric="major_hallucinations", op=">=", value=2, min_confidence=0.8)
    assert _flags([0.3], [every, strict]) == ["any_major"]
    assert _flags([0.85, 0.95, 0.2], [every, strict]) == ["any_major", "sure_major"]
