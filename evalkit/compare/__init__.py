"""Run-vs-run comparison and the CI gate: paired deltas, bootstrap and McNemar statistics, gate files, reports."""

from .completeness import require_complete
from .data import RunSide, load_side, pair_sides, session_table
from .gate import GateReport, run_gate
from .gate_config import Check, GateConfig, load_gate_config, parse_rule
from .refs import resolve
from .results import APP_URL, CompareResult, GroupDelta, MetricDelta, Verdict, WorstCase, session_url
from .runs import HEADLINE_METRICS, compare_runs, compare_sides
from .stats import BootstrapResult, McNemarResult, mcnemar, paired_bootstrap

__all__ = [
    "APP_URL", "BootstrapResult", "Check", "CompareResult", "GateConfig", "GateReport", "GroupDelta",
    "HEADLINE_METRICS", "McNemarResult", "MetricDelta", "RunSide", "Verdict", "WorstCase", "compare_runs",
    "compare_sides", "load_gate_config", "load_side", "mcnemar", "pair_sides", "paired_bootstrap", "parse_rule",
    "require_complete", "resolve", "run_gate", "session_table", "session_url",
]
