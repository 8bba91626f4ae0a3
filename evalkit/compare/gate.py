"""The CI gate: named checks on a run, absolute and relative to a baseline.

A gate file (``gate.yaml``) lists checks, each a name and a one-line rule::

    baseline: prod                 # optional; `evalkit gate --baseline` overrides it
    allow_incomplete: false        # optional; true gates a run that stopped part-way (with a note)
    checks:
      - name: WER at most 15%
        check: wer <= 0.15
      - name: major hallucinations in at most 1% of notes
        check: major_hallucination_rate <= 0.01
      - name: p95 latency under 20 s
        check: p95(latency_s) <= 20
      - name: WER does not regress
        check: wer no significant regression
      - name: omission rate rises by at most 2 points
        check: omission_rate regression <= 0.02

Rules:

- ``METRIC OP VALUE`` or ``AGG(METRIC) OP VALUE`` — an absolute threshold on the run's mean
  (or ``median``, ``min``, ``max``, ``pNN``) over its sessions; OP is one of ``<= < >= > == !=``;
  VALUE may be a percentage (``15%``).
- ``METRIC no significant regression`` — against the baseline: fails when the paired
  comparison finds the metric significantly worse (bootstrap interval for continuous metrics,
  McNemar's test for per-session outcomes such as ``major_hallucination_rate``).
- ``METRIC regression OP VALUE`` — the paired mean change, signed so that positive is worse
  (``wer`` up, ``adherence`` down), compared with VALUE; ``METRIC delta OP VALUE`` uses the raw
  change B − A instead.

A gate never passes what it did not see: a run (or baseline) that is still ``running`` or misses
cases of its dataset is refused with an InputError saying how many cases are missing (the CLI
exits 2), unless the gate file says ``allow_incomplete: true``. When a run label is shared by
several runs the report says which one was gated (:mod:`evalkit.compare.refs`).

Loading errors name the file, the line and the fix (:class:`evalkit.errors.InputError`).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from ..errors import InputError
from .gate_config import (CHECK_KEYS, EXAMPLES, OPS, TOP_KEYS, Check, GateConfig,  # noqa: F401 - re-exported
                          load_gate_config, parse_rule)
from ..metrics.info import info_or_default


# ---------------------------------------------------------------------------- evaluation


def aggregate(values: np.ndarray, agg: str) -> float:
    """``mean``/``median``/``min``/``max``/``pNN`` of the non-NaN values (NaN when there are none)."""
    v = values[~np.isnan(values)]
    if v.size == 0:
        return float("nan")
    if agg == "mean":
        return float(v.mean())
    if agg == "median":
        return float(np.median(v))
    if agg == "min":
        return float(v.min())
    if agg == "max":
        return float(v.max())
    return float(np.percentile(v, float(agg[1:])))


@dataclass
class CheckResult:
    """The outcome of one check: passed or not, the observed value and a one-line explanation."""

    check: Check
    passed: bool
    observed: float | None
    message: str
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def name(self) -> str:
        return self.check.name


def _fmt(metric: str, v: float | None, signed: bool = False) -> str:
    return info_or_default(metric).fmt(v, signed=signed)


_GROUP_FOR_FAMILY = {"asr": "wer", "speakers": "wer", "structure": "adherence", "grounding": "hallucination",
                     "completeness": "hallucination"}


def _missing_fix(metric: str, check: Check) -> str:
    info = info_or_default(metric)
    group = _GROUP_FOR_FAMILY.get(info.family)
    how = (f"add `{group}` to the suite's metrics and run it again" if group else
           "score it with an LLM judge" if info.family == "judge" else "compute it in the suite")
    return f"{how}, or remove check {check.name!r} ({check.where})"


@dataclass
class GateReport:
    """All checks of a gate on one run (and the comparison with the baseline, if any)."""

    config: GateConfig
    run: str
    run_ids: list[str]
    n_sessions: int
    results: list[CheckResult]
    baseline: str | None = None
    baseline_ids: list[str] = field(default_factory=list)
    comparison: Any = None  # evalkit.compare.runs.CompareResult
    notes: list[str] = field(default_factory=list)  # which runs labels stood for; incomplete runs allowed
    normalizers: list[str] = field(default_factory=list)  # the WER normalisers of the gated run

    @property
    def passed(self) -> bool:
        return all(r.passed for r in self.results)

    @property
    def failed(self) -> list[CheckResult]:
        return [r for r in self.results if not r.passed]

    def summary(self) -> str:
        """One line: passed, or which checks failed and why."""
        if self.passed:
            return f"gate passed: {len(self.results)}/{len(self.results)} checks on run {self.run!r}"
        return (f"gate failed: {len(self.failed)} of {len(self.results)} checks on run {self.run!r} — "
                + "; ".join(f"{r.name}: {r.message}" for r in self.failed))

    def to_dict(self) -> dict[str, Any]:
        from .results import _clean

        return _clean({
            "passed": self.passed, "run": self.run, "run_ids": self.run_ids, "n_sessions": self.n_sessions,
            "baseline": self.baseline, "baseline_ids": self.baseline_ids, "config": self.config.path,
            "normalizers": self.normalizers or ["evalkit"],
            "checks": [{"name": r.name, "rule": r.check.rule, "kind": r.check.kind, "metric": r.check.metric,
                        "passed": r.passed, "observed": r.observed, "message": r.message, "where": r.check.where,
                        **r.extra} for r in self.results],
            "comparison": self.comparison.to_dict() if self.comparison is not None else None,
            "notes": self.notes,
        })


def _evaluate(c: Check, side: Any, comparison: Any, run_ref: str, baseline: str | None) -> CheckResult:
    if c.kind == "threshold":
        col = side.sessions[c.metric].to_numpy(dtype=np.float64) if c.metric in side.sessions else np.array([])
        observed = aggregate(col, c.agg)
        if observed != observed:
            raise InputError(f"run {run_ref!r}", c.metric, f"has no {c.metric!r} values for check {c.name!r}",
                             _missing_fix(c.metric, c))
        ok = bool(OPS[c.op](observed, c.value))  # type: ignore[index]
        what = c.metric if c.agg == "mean" else f"{c.agg}({c.metric})"
        rel = "" if ok else f" (limit {c.op} {_fmt(c.metric, c.value)})"
        msg = f"{what} = {_fmt(c.metric, observed)} over {int((~np.isnan(col)).sum())} sessions{rel}"
        return CheckResult(c, ok, observed, msg)
    m = comparison.metric(c.metric)
    if m is None or m.n < 2:
        raise InputError(f"runs {baseline!r} and {run_ref!r}", c.metric,
                         f"fewer than 2 paired sessions have {c.metric!r} for check {c.name!r}",
                         _missing_fix(c.metric, c))
    conf = int(round(comparison.settings.get("confidence", 0.95) * 100))
    stats = (f"McNemar p {m.p_value:.3g}" if m.test.startswith("mcnemar")
             else f"{conf}% CI [{_fmt(c.metric, m.lo, True)}, {_fmt(c.metric, m.hi, True)}]")
    change = (f"{c.metric} {_fmt(c.metric, m.mean_a)} → {_fmt(c.metric, m.mean_b)} "
              f"(Δ {_fmt(c.metric, m.delta, True)}, {stats}, n={m.n})")
    extra = {"delta": m.delta, "lo": m.lo, "hi": m.hi, "p_value": m.p_value, "n": m.n, "test": m.test}
    if c.kind == "no_regression":
        ok = m.verdict != "regressed"
        return CheckResult(c, ok, m.delta, change + ("" if ok else ": significantly worse than the baseline"), extra)
    observed = info_or_default(c.metric).worsening(m.delta) if c.signed == "regression" else m.delta
    ok = bool(OPS[c.op](observed, c.value))  # type: ignore[index]
    msg = f"{c.signed} {_fmt(c.metric, observed, True)}; {change}" + ("" if ok else f" (limit {c.op} {c.value:g})")
    return CheckResult(c, ok, observed, msg, extra)


def run_gate(store: Any, run_ref: str, config: GateConfig | str | Path, *, baseline: str | None = None,
             app_url: str | None = None) -> GateReport:
    """Evaluate a gate on a run.

    Args:
        store: the :class:`~evalkit.store.Store` holding the run (and the baseline).
        run_ref: the run to gate: run id, label, baseline label or ``latest``.
        config: a loaded :class:`GateConfig` or the path of a gate file.
        baseline: baseline run reference for relative checks (overrides the file's ``baseline``).
        app_url: base URL of the review app for links in the comparison.

    Raises:
        InputError: bad gate file, unknown run, no baseline for a relative check, or a metric
            the run has no values for (the CLI exits 2).
    """
    from .runs import APP_URL, compare_sides, load_side

    cfg = config if isinstance(config, GateConfig) else load_gate_config(config)
    baseline = baseline or cfg.baseline
    how = f"add `allow_incomplete: true` to {cfg.path}"
    side = load_side(store, run_ref, allow_incomplete=cfg.allow_incomplete, how_to_allow=how)
    if side.sessions.empty:
        raise InputError(f"run {run_ref!r}", None, "has no sessions", "run the suite before gating it")
    relative = [c for c in cfg.checks if c.relative]
    if relative and not baseline:
        c = relative[0]
        raise InputError(c.where, c.name, "compares with a baseline and none was given",
                         "pass --baseline LABEL or add `baseline: LABEL` to the gate file")
    comparison, base_ids, base_notes = None, [], []
    if baseline:
        base = load_side(store, baseline, allow_incomplete=cfg.allow_incomplete, how_to_allow=how)
        base_ids, base_notes = base.run_ids, base.notes
        comparison = compare_sides(base, side, n_resamples=cfg.resamples, seed=cfg.seed, confidence=cfg.confidence,
                                   app_url=app_url or APP_URL)
        if relative and comparison.n_paired == 0:
            raise InputError(f"runs {baseline!r} and {run_ref!r}", None, "share no consultations",
                             "gate a run of the same dataset as the baseline")
    results = [_evaluate(c, side, comparison, run_ref, baseline) for c in cfg.checks]
    return GateReport(cfg, run_ref, side.run_ids, len(side.sessions), results, baseline, base_ids, comparison,
                      notes=side.notes + base_notes, normalizers=side.normalizers)


__all__ = ["Check", "CheckResult", "GateConfig", "GateReport", "aggregate", "load_gate_config", "parse_rule",
           "run_gate"]
