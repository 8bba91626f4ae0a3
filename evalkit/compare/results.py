"""Result records of a run-vs-run comparison (plain dataclasses, JSON via ``to_dict``)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field
from typing import Any, Literal
from urllib.parse import quote

import numpy as np

from ..metrics.info import MetricInfo, info_or_default
from .stats import McNemarResult

APP_URL = "http://localhost:8501"
Verdict = Literal["regressed", "improved", "no significant change", "n/a"]


@dataclass
class MetricDelta:
    """One metric compared over the paired cases (delta = B − A)."""

    metric: str
    label: str
    direction: str | None
    kind: str
    n: int
    mean_a: float
    mean_b: float
    delta: float
    lo: float
    hi: float
    p_value: float
    test: str  # "bootstrap", "mcnemar-exact", "mcnemar-chi2"
    verdict: Verdict
    mcnemar: McNemarResult | None = None

    @property
    def info(self) -> MetricInfo:
        return info_or_default(self.metric)

    @property
    def significant(self) -> bool:
        return self.verdict in ("regressed", "improved")


@dataclass
class GroupDelta:
    """A metric compared within one group (a specialty, template, scribe or note section)."""

    dimension: str
    group: str
    metric: str
    n: int
    mean_a: float
    mean_b: float
    delta: float
    lo: float
    hi: float


@dataclass
class WorstCase:
    """A paired case that got worse, with links to open both sessions in the app."""

    key: str
    consultation_id: str
    scribe: str
    session_a: str
    session_b: str
    url_a: str
    url_b: str
    score: float
    changes: list[dict[str, Any]]  # [{metric, a, b, delta}], worst first


@dataclass
class CompareResult:
    ref_a: str
    ref_b: str
    run_a: list[str]
    run_b: list[str]
    n_a: int
    n_b: int
    n_paired: int
    only_a: list[str]
    only_b: list[str]
    metrics: list[MetricDelta]
    breakdowns: list[GroupDelta]
    worst: list[WorstCase]
    settings: dict[str, Any] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)  # which runs labels stood for; incomplete runs allowed

    def metric(self, name: str) -> MetricDelta | None:
        return next((m for m in self.metrics if m.metric == name), None)

    @property
    def regressions(self) -> list[MetricDelta]:
        return [m for m in self.metrics if m.verdict == "regressed"]

    @property
    def improvements(self) -> list[MetricDelta]:
        return [m for m in self.metrics if m.verdict == "improved"]

    @property
    def verdict(self) -> str:
        """``regressed`` if any metric is significantly worse, else ``improved`` or ``no significant change``."""
        if self.regressions:
            return "regressed"
        return "improved" if self.improvements else "no significant change"

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        d["verdict"] = self.verdict
        d["regressions"] = [m.metric for m in self.regressions]
        d["improvements"] = [m.metric for m in self.improvements]
        return _clean(d)


def _clean(v: Any) -> Any:
    """JSON-safe: NaN → None, numpy scalars → python."""
    if isinstance(v, dict):
        return {k: _clean(x) for k, x in v.items()}
    if isinstance(v, (list, tuple)):
        return [_clean(x) for x in v]
    if isinstance(v, (np.floating, float)):
        f = float(v)
        return None if f != f or f in (float("inf"), float("-inf")) else f
    if isinstance(v, np.integer):
        return int(v)
    if isinstance(v, np.bool_):
        return bool(v)
    return v


def session_url(session_id: str, app_url: str = APP_URL) -> str:
    """Link that opens a session in the review app."""
    return f"{app_url.rstrip('/')}/?session={quote(session_id, safe=':')}"



__all__ = ["APP_URL", "CompareResult", "GroupDelta", "MetricDelta", "Verdict", "WorstCase", "session_url"]
