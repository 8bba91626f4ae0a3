"""Running suites: the suite file, the runner, scoring one output, run identity, storable rows and export."""

from .export import export_run
from .identity import input_hash, run_identity
from .runner import process_case, run_suite
from .scoring import score_output
from .suite import FlagRule, Suite, load_suite

__all__ = ["FlagRule", "Suite", "export_run", "input_hash", "load_suite", "process_case", "run_identity",
           "run_suite", "score_output"]
