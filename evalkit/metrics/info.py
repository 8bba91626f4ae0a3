"""The metric registry: for every score name, a human label, which direction is better, and
how to show it. Comparison and gates read direction from here (lower WER is better, higher
adherence is better), so a new metric is added here once.

Besides the per-session scores stored by the runner, a few *derived* per-session outcomes are
defined here (0/1 per session, so their mean is a share of sessions), e.g.
``major_hallucination_rate``: the share of sessions whose note has at least one major
hallucination.
"""

from __future__ import annotations

import difflib
from dataclasses import dataclass
from typing import Literal

Direction = Literal["lower", "higher"]
Kind = Literal["rate", "count", "score", "seconds", "usd", "binary"]


@dataclass(frozen=True)
class MetricInfo:
    """What evalkit knows about a metric.

    Args:
        name: score name as stored (``wer``) or derived (``major_hallucination_rate``).
        label: human label for tables.
        direction: ``lower`` or ``higher`` is better; ``None`` when unknown (no verdict).
        kind: ``rate`` (0–1), ``count``, ``score`` (e.g. PDQI 1–5), ``seconds``, ``usd``, ``binary``
            (a 0/1 outcome per session, compared with McNemar's test).
        family: group of related metrics (``asr``, ``structure``, ``grounding``, ``completeness``,
            ``judge``, ``ops``, ``review``); worst-case ranking counts each family once.
        source: for derived binary metrics, the score it is computed from (value > 0 → 1).
    """

    name: str
    label: str
    direction: Direction | None
    kind: Kind
    family: str
    source: str | None = None

    @property
    def derived(self) -> bool:
        return self.kind == "binary"

    def better(self, delta: float) -> bool:
        """True when ``delta`` (B − A) is an improvement."""
        return (delta < 0) if self.direction == "lower" else (delta > 0) if self.direction == "higher" else False

    def worsening(self, delta: float) -> float:
        """``delta`` signed so that positive means worse (0 when direction is unknown)."""
        if self.direction == "lower":
            return delta
        if self.direction == "higher":
            return -delta
        return 0.0

    def fmt(self, v: float | None, signed: bool = False) -> str:
        """Format a value (or a delta with ``signed``) for tables."""
        if v is None or v != v:
            return "–"
        sign = "+" if signed else ""
        if self.kind == "usd":
            return f"{v:{sign}.4f}"
        if self.kind in ("rate", "binary"):
            return f"{v:{sign}.3f}"
        if self.kind in ("seconds", "score"):
            return f"{v:{sign}.2f}"
        if self.kind == "count":
            return f"{v:{sign}.3f}" if abs(v) < 100 else f"{v:{sign},.1f}"
        return f"{v:{sign}.3g}" if abs(v) < 1000 else f"{v:{sign},.0f}"


def _m(name: str, label: str, direction: Direction | None, kind: Kind, family: str,
       source: str | None = None) -> MetricInfo:
    return MetricInfo(name, label, direction, kind, family, source)


_REGISTRY: dict[str, MetricInfo] = {m.name: m for m in [
    _m("wer", "WER", "lower", "rate", "asr"),
    _m("cer", "CER", "lower", "rate", "asr"),
    _m("medical_wer", "Medical-term WER", "lower", "rate", "asr"),
    _m("wer_clinician", "WER (clinician)", "lower", "rate", "asr"),
    _m("wer_patient", "WER (patient)", "lower", "rate", "asr"),
    _m("numeric_error_rate", "Numeric error rate", "lower", "rate", "asr"),
    _m("cpwer", "cpWER (speaker-attributed)", "lower", "rate", "speakers"),
    _m("tcpwer", "tcpWER (time-constrained)", "lower", "rate", "speakers"),
    _m("speaker_confusion", "Speaker confusion (cpWER − ORC WER)", "lower", "rate", "speakers"),
    _m("stream_first_partial_s", "Stream: time to first partial (s)", "lower", "seconds", "streaming"),
    _m("stream_final_latency_s", "Stream: final latency per utterance (s)", "lower", "seconds", "streaming"),
    _m("stream_revision_rate", "Stream: partial words later changed", "lower", "rate", "streaming"),
    _m("stream_rtf", "Stream: real-time factor", "lower", "score", "streaming"),
    _m("adherence", "Template adherence", "higher", "rate", "structure"),
    _m("hallucination_rate", "Hallucination rate", "lower", "rate", "grounding"),
    _m("contradiction_rate", "Contradiction rate", "lower", "rate", "grounding"),
    _m("hallucination_rate_fabrication", "Hallucination: fabrication", "lower", "rate", "grounding"),
    _m("hallucination_rate_negation", "Hallucination: negation", "lower", "rate", "grounding"),
    _m("hallucination_rate_causality", "Hallucination: causality", "lower", "rate", "grounding"),
    _m("hallucination_rate_contextual", "Hallucination: contextual", "lower", "rate", "grounding"),
    _m("major_hallucinations", "Major hallucinations / note", "lower", "count", "grounding"),
    _m("omission_rate", "Omission rate", "lower", "rate", "completeness"),
    _m("omissions", "Omissions / note", "lower", "count", "completeness"),
    _m("major_omissions", "Major omissions / note", "lower", "count", "completeness"),
    _m("latency_s", "Latency (s)", "lower", "seconds", "ops"),
    _m("cost_usd", "Cost (USD)", "lower", "usd", "ops"),
    _m("adherence_content", "Content adherence (LLM judge)", "higher", "rate", "judge"),
    _m("jury_agreement", "Jury agreement (mean over judges)", None, "rate", "judge"),
    # derived per-session outcomes (0/1): their mean is a share of sessions
    _m("major_hallucination_rate", "Sessions with a major hallucination", "lower", "binary", "grounding",
       "major_hallucinations"),
    _m("major_omission_rate", "Sessions with a major omission", "lower", "binary", "completeness",
       "major_omissions"),
    _m("flagged_rate", "Sessions flagged for review", "lower", "binary", "review"),
    _m("failure_rate", "Sessions that failed", "lower", "binary", "ops"),
]}

_PDQI_LABELS = {
    "up_to_date": "up-to-date", "accurate": "accurate", "thorough": "thorough", "useful": "useful",
    "organized": "organized", "comprehensible": "comprehensible", "succinct": "succinct",
    "synthesized": "synthesized", "internally_consistent": "internally consistent",
}

#: display order: the registry order, then judge items, then anything else alphabetically
ORDER = list(_REGISTRY)


def metric_info(name: str) -> MetricInfo | None:
    """Registry entry for a metric name (``pdqi_<item>`` judge items included), or None."""
    if name in _REGISTRY:
        return _REGISTRY[name]
    if name.startswith("pdqi_") and len(name) > 5:
        item = name[5:]
        return MetricInfo(name, f"PDQI-9: {_PDQI_LABELS.get(item, item.replace('_', ' '))}", "higher", "score",
                          "judge")
    if name.startswith("hallucination_rate_") and len(name) > 19:
        return MetricInfo(name, f"Hallucination: {name[19:].replace('_', ' ')}", "lower", "rate", "grounding")
    return None


def info_or_default(name: str) -> MetricInfo:
    """Registry entry, or a neutral one (direction unknown) for metrics evalkit does not know."""
    return metric_info(name) or MetricInfo(name, name, None, "score", "other")


def is_known(name: str) -> bool:
    return metric_info(name) is not None


def known_names() -> list[str]:
    """Every registered name (the ``pdqi_<item>`` family shown as one pattern)."""
    return ORDER + ["pdqi_<item>"]


def derived_names() -> list[str]:
    return [n for n, m in _REGISTRY.items() if m.derived]


def suggest(name: str) -> str | None:
    """Closest known metric name, for "did you mean" hints."""
    cands = list(_REGISTRY) + [f"pdqi_{k}" for k in _PDQI_LABELS]
    hit = difflib.get_close_matches(name, cands, n=1, cutoff=0.6)
    return hit[0] if hit else None


def sort_key(name: str) -> tuple[int, str]:
    if name in _REGISTRY:
        return (ORDER.index(name), name)
    if name.startswith("pdqi_"):
        return (len(ORDER), name)
    return (len(ORDER) + 1, name)


__all__ = ["MetricInfo", "derived_names", "info_or_default", "is_known", "known_names", "metric_info",
           "sort_key", "suggest"]
