"""The ``evalkit`` command line: one typer app; each command group lives in its own module.

Modules register commands on :data:`app` when imported. A module that is missing (an
optional feature not installed) is skipped.
"""

from __future__ import annotations

import importlib
import os
import sys

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch price maps at import

import typer

from ._common import console, fail  # noqa: F401  (re-exported for command modules)

app = typer.Typer(
    name="evalkit",
    help="Clinician-in-the-loop evaluation for AI medical scribes.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)

_COMMAND_MODULES = (
    "demo", "generate", "run", "wer", "judge", "data", "export", "calibrate", "compare", "app_cmd",
    "users", "sweep", "judge_bench",
)

for _mod in _COMMAND_MODULES:
    try:
        importlib.import_module(f"evalkit.cli.{_mod}")
    except ModuleNotFoundError as _e:
        if _e.name and _e.name.startswith("evalkit.cli"):
            continue
        raise


def main() -> None:
    """Console-script entry point: clear one-line errors for bad input, exit code 2."""
    from ..errors import InputError
    from ..store import StoreBusy

    try:
        app()
    except (InputError, StoreBusy) as e:
        sys.stderr.write(f"error: {e}\n")
        sys.exit(2)
