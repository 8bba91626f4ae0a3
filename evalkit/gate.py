"""The CI gate: named checks on a run, absolute and relative to a baseline.

A gate file (``gate.yaml``) lists checks, each a name and a one-line rule::

    baseline: prod                 # optional; `evalkit gate --baseline` overrides it
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

Loading errors name the file, the line and the fix (:class:`evalkit.errors.InputError`).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import yaml

from .errors import InputError
from .metric_info import info_or_default, is_known, known_names, suggest

OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt, "==": operator.eq, "!=": operator.ne}
TOP_KEYS = ("baseline", "confidence", "resamples", "seed", "checks")
CHECK_KEYS = ("name", "check")
EXAMPLES = "`wer <= 0.15`, `p95(latency_s) <= 20`, `wer no significant regression` or `omission_rate regression <= 0.02`"

_NUM = r"[-+]?(?:\d+\.?\d*|\.\d+)(?:[eE][-+]?\d+)?%?"
_OP = r"<=|>=|==|!=|<|>"
_METRIC = r"[A-Za-z_][A-Za-z0-9_]*"
_RE_THRESHOLD = re.compile(rf"^(?:(?P<agg>[A-Za-z0-9]+)\(\s*(?P<m1>{_METRIC})\s*\)|(?P<m2>{_METRIC}))\s*"
                           rf"(?P<op>{_OP})\s*(?P<val>\S+)$")
_RE_NO_REGRESSION = re.compile(rf"^(?P<m>{_METRIC})\s*:?\s*no\s+significant\s+regression$", re.I)
_RE_DELTA = re.compile(rf"^(?P<m>{_METRIC})\s*:?\s*(?P<what>delta|regression)\s*(?P<op>{_OP})\s*(?P<val>\S+)$", re.I)
_AGGS = {"mean", "median", "min", "max"}


@dataclass(frozen=True)
class Check:
    """One named gate check, parsed from its rule.

    Args:
        name: the check's name (a JUnit test case).
        rule: the rule as written.
        kind: ``threshold`` (absolute), ``no_regression`` or ``delta`` (relative to a baseline).
        metric: the metric checked.
        op: comparison operator (threshold and delta checks).
        value: the limit.
        agg: aggregate for thresholds: ``mean``, ``median``, ``min``, ``max`` or ``pNN``.
        signed: for delta checks, ``regression`` (positive = worse) or ``delta`` (raw B − A).
        where: ``FILE:LINE`` of the check, for messages.
    """

    name: str
    rule: str
    kind: Literal["threshold", "no_regression", "delta"]
    metric: str
    op: str | None = None
    value: float | None = None
    agg: str = "mean"
    signed: Literal["regression", "delta"] = "regression"
    where: str = ""

    @property
    def relative(self) -> bool:
        return self.kind != "threshold"


@dataclass
class GateConfig:
    """A loaded gate file."""

    path: str
    checks: list[Check]
    baseline: str | None = None
    confidence: float = 0.95
    resamples: int = 10_000
    seed: int = 0


def _number(text: str, where: str, fld: str) -> float:
    try:
        return float(text[:-1]) / 100.0 if text.endswith("%") else float(text)
    except ValueError:
        raise InputError(where, fld, f"{text!r} is not a number", "write a number such as 0.15 or 15%") from None


def _check_metric(metric: str, where: str, fld: str) -> None:
    if not is_known(metric):
        hint = suggest(metric)
        raise InputError(where, fld, f"unknown metric {metric!r}",
                         (f"did you mean {hint!r}? " if hint else "") + f"known metrics: {', '.join(known_names())}")


def parse_rule(name: str, rule: str, where: str = "", fld: str = "check") -> Check:
    """Parse one rule such as ``wer <= 0.15`` into a :class:`Check`.

    Args:
        name: the check's name.
        rule: the rule text.
        where: ``FILE:LINE`` for error messages.
        fld: field name for error messages.
    """
    text = " ".join(str(rule).split())
    if m := _RE_NO_REGRESSION.match(text):
        _check_metric(m["m"], where, fld)
        return Check(name, text, "no_regression", m["m"], where=where)
    if m := _RE_DELTA.match(text):
        _check_metric(m["m"], where, fld)
        return Check(name, text, "delta", m["m"], m["op"], _number(m["val"], where, fld),
                     signed=m["what"].lower(), where=where)  # type: ignore[arg-type]
    if m := _RE_THRESHOLD.match(text):
        metric = m["m1"] or m["m2"]
        agg = (m["agg"] or "mean").lower()
        if agg not in _AGGS and not re.fullmatch(r"p(100|\d{1,2})", agg):
            raise InputError(where, fld, f"unknown aggregate {agg!r}", "use mean, median, min, max or pNN (e.g. p95)")
        _check_metric(metric, where, fld)
        return Check(name, text, "threshold", metric, m["op"], _number(m["val"], where, fld), agg=agg, where=where)
    raise InputError(where, fld, f"cannot read rule {text!r}", f"write a rule like {EXAMPLES}")


def _line(node: yaml.Node | None) -> int | None:
    return node.start_mark.line + 1 if node is not None else None


def _map_nodes(node: yaml.Node) -> dict[str, tuple[yaml.Node, yaml.Node]]:
    return {k.value: (k, v) for k, v in node.value} if isinstance(node, yaml.MappingNode) else {}


def load_gate_config(path: str | Path) -> GateConfig:
    """Load and validate a gate file; errors name ``FILE:LINE``, the field and the fix.

    Args:
        path: the gate YAML file.
    """
    p = Path(path)
    src = str(p)
    if not p.is_file():
        raise InputError(src, None, "file not found", "pass the gate file with --config (see examples/gate.yaml)")
    try:
        text = p.read_text(encoding="utf-8")
        root = yaml.compose(text, Loader=yaml.SafeLoader)
        data = yaml.safe_load(text)
    except UnicodeDecodeError:
        raise InputError(src, None, "is not UTF-8 text", "save the gate file as UTF-8") from None
    except yaml.YAMLError as e:
        mark = getattr(e, "problem_mark", None)
        where = f"{src}:{mark.line + 1}" if mark else src
        raise InputError(where, None, f"is not valid YAML ({getattr(e, 'problem', 'syntax error')})",
                         "check indentation and quoting; quote rules that start with a special character") from None
    if not isinstance(data, dict):
        raise InputError(src, None, "must be a YAML mapping with a `checks:` list", "see examples/gate.yaml")
    nodes = _map_nodes(root)
    for key in data:
        if key not in TOP_KEYS:
            raise InputError(f"{src}:{_line(nodes.get(str(key), (None,))[0])}", str(key), "unknown key",
                             f"allowed keys: {', '.join(TOP_KEYS)}")

    def where(key: str) -> str:
        return f"{src}:{_line(nodes[key][1])}" if key in nodes else src

    cfg = GateConfig(path=src, checks=[])
    if data.get("baseline") is not None:
        cfg.baseline = str(data["baseline"])
    if "confidence" in data:
        c = data["confidence"]
        if not isinstance(c, (int, float)) or isinstance(c, bool) or not 0.5 <= float(c) < 1.0:
            raise InputError(where("confidence"), "confidence", f"{c!r} is not a level between 0.5 and 1",
                             "write e.g. confidence: 0.95")
        cfg.confidence = float(c)
    for key, lo in (("resamples", 1000), ("seed", 0)):
        if key in data:
            v = data[key]
            if not isinstance(v, int) or isinstance(v, bool) or v < lo:
                raise InputError(where(key), key, f"{v!r} is not a whole number >= {lo}",
                                 f"write e.g. {key}: {10000 if key == 'resamples' else 0}")
            setattr(cfg, key, int(v))
    cfg.checks = _load_checks(data.get("checks"), nodes.get("checks"), src)
    return cfg


def _load_checks(raw: Any, nodes: tuple[yaml.Node, yaml.Node] | None, src: str) -> list[Check]:
    if not raw:
        line = f":{_line(nodes[0])}" if nodes else ""
        raise InputError(f"{src}{line}", "checks", "no checks", "add a `checks:` list, e.g. - {name: WER, check: wer <= 0.15}")
    value_node = nodes[1] if nodes else None
    items: list[tuple[Any, Any, yaml.Node | None, str]] = []  # (name, rule, node, field)
    if isinstance(raw, dict):  # mapping form: name: rule
        for (k_node, v_node), (name, rule) in zip(value_node.value if value_node else [], raw.items()):
            items.append((name, rule, k_node, f"checks.{name}"))
    elif isinstance(raw, list):
        seq = value_node.value if isinstance(value_node, yaml.SequenceNode) else [None] * len(raw)
        for i, (item, node) in enumerate(zip(raw, seq)):
            w = f"{src}:{_line(node)}"
            if isinstance(item, str):
                items.append((item, item, node, f"checks[{i}]"))
                continue
            if not isinstance(item, dict):
                raise InputError(w, f"checks[{i}]", "must be a mapping with `name` and `check`",
                                 "write - name: WER at most 15%\\n    check: wer <= 0.15")
            sub = _map_nodes(node) if node is not None else {}
            for key in item:
                if key not in CHECK_KEYS:
                    kn = sub.get(str(key), (None,))[0]
                    raise InputError(f"{src}:{_line(kn)}", f"checks[{i}].{key}", "unknown key",
                                     "a check has only `name` and `check` (e.g. check: wer <= 0.15)")
            if "check" not in item or item["check"] in (None, ""):
                raise InputError(w, f"checks[{i}].check", "missing", f"add a rule such as {EXAMPLES}")
            rule_node = sub.get("check", (None, node))[1]
            items.append((item.get("name") or item["check"], item["check"], rule_node, f"checks[{i}].check"))
    else:
        raise InputError(f"{src}:{_line(value_node)}", "checks", "must be a list of checks",
                         "write checks: then lines like - {name: WER, check: wer <= 0.15}")
    checks, seen = [], set()
    for name, rule, node, fld in items:
        w = f"{src}:{_line(node)}" if node is not None else src
        if not isinstance(rule, (str, int, float)):
            raise InputError(w, fld, "rule must be one line of text", f"write a rule like {EXAMPLES}")
        name = str(name)
        if name in seen:
            raise InputError(w, fld, f"duplicate check name {name!r}", "give every check its own name")
        seen.add(name)
        checks.append(parse_rule(name, str(rule), w, fld))
    return checks


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
    comparison: Any = None  # evalkit.compare.CompareResult
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
        from .compare_results import _clean

        return _clean({
            "passed": self.passed, "run": self.run, "run_ids": self.run_ids, "n_sessions": self.n_sessions,
            "baseline": self.baseline, "baseline_ids": self.baseline_ids, "config": self.config.path,
            "normalizers": self.normalizers or ["evalkit"],
            "checks": [{"name": r.name, "rule": r.check.rule, "kind": r.check.kind, "metric": r.check.metric,
                        "passed": r.passed, "observed": r.observed, "message": r.message, "where": r.check.where,
                        **r.extra} for r in self.results],
            "comparison": self.comparison.to_dict() if self.comparison is not None else None,
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
    from .compare import APP_URL, compare_sides, load_side

    cfg = config if isinstance(config, GateConfig) else load_gate_config(config)
    baseline = baseline or cfg.baseline
    side = load_side(store, run_ref)
    if side.sessions.empty:
        raise InputError(f"run {run_ref!r}", None, "has no sessions", "run the suite before gating it")
    relative = [c for c in cfg.checks if c.relative]
    if relative and not baseline:
        c = relative[0]
        raise InputError(c.where, c.name, "compares with a baseline and none was given",
                         "pass --baseline LABEL or add `baseline: LABEL` to the gate file")
    comparison, base_ids = None, []
    if baseline:
        base = load_side(store, baseline)
        base_ids = base.run_ids
        comparison = compare_sides(base, side, n_resamples=cfg.resamples, seed=cfg.seed, confidence=cfg.confidence,
                                   app_url=app_url or APP_URL)
        if relative and comparison.n_paired == 0:
            raise InputError(f"runs {baseline!r} and {run_ref!r}", None, "share no consultations",
                             "gate a run of the same dataset as the baseline")
    results = [_evaluate(c, side, comparison, run_ref, baseline) for c in cfg.checks]
    return GateReport(cfg, run_ref, side.run_ids, len(side.sessions), results, baseline, base_ids, comparison,
                      side.normalizers)


__all__ = ["Check", "CheckResult", "GateConfig", "GateReport", "aggregate", "load_gate_config", "parse_rule",
           "run_gate"]
