"""Gate files: loading and validating ``gate.yaml`` into named checks (see :mod:`evalkit.compare.gate` for the rules).

Every loading error names ``FILE:LINE``, the field and the fix (:class:`evalkit.errors.InputError`).
"""

from __future__ import annotations

import operator
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

import yaml

from ..security import safe_yaml
from ..errors import InputError
from ..metrics.info import is_known, known_names, suggest

OPS = {"<=": operator.le, "<": operator.lt, ">=": operator.ge, ">": operator.gt, "==": operator.eq, "!=": operator.ne}
TOP_KEYS = ("baseline", "confidence", "resamples", "seed", "allow_incomplete", "checks")
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
    allow_incomplete: bool = False


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
        data, root = safe_yaml.compose(safe_yaml.read_text(p), src)
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
    if "allow_incomplete" in data:
        v = data["allow_incomplete"]
        if not isinstance(v, bool):
            raise InputError(where("allow_incomplete"), "allow_incomplete", f"{v!r} is not true or false",
                             "write allow_incomplete: true (gate runs that stopped part-way) or leave it out")
        cfg.allow_incomplete = v
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


__all__ = ["CHECK_KEYS", "Check", "EXAMPLES", "GateConfig", "OPS", "TOP_KEYS", "load_gate_config", "parse_rule"]
