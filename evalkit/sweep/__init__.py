"""Robustness sweeps: every case under every acoustic condition, summarised with intervals and break points."""

from .conditions import Condition, conditions_for
from .report import break_points, summarise, write_report
from .run import SweepConfig, SweepResult, prepare_consultations, run_sweep

__all__ = ["Condition", "SweepConfig", "SweepResult", "break_points", "conditions_for", "prepare_consultations",
           "run_sweep", "summarise", "write_report"]
