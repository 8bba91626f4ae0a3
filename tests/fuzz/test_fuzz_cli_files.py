"""The same broken files, through the commands people type: ``evalkit run SUITE``, ``evalkit gate -c``,
``evalkit generate --cards`` and ``evalkit import aci-bench``.

What the user sees must be exactly one line, ``error: <file>...``, on stderr, exit code 2, and
no traceback — the library's InputError reaches the terminal as that line and nothing else.
The commands run in-process through the console script's own entry point (``evalkit.cli:main``),
so the test sees what a terminal would.
"""

from __future__ import annotations

import contextlib
import io
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st
from evalkit.cli import main

from ._support import FUZZ, Tally, mutated_mapping
from .test_fuzz_imports import bad_aci_csv
from .test_fuzz_yaml_files import CARD, GATE, SUITE, _card_rules, _gate_rules, _suite_rules, _write

CLI = settings(FUZZ, max_examples=12)


@dataclass
class Result:
    exit_code: int
    stdout: str
    stderr: str


def invoke(argv: list[str]) -> Result:
    """Run ``evalkit ARGV`` through the console-script entry point, capturing what it prints."""
    out, err = io.StringIO(), io.StringIO()
    old = sys.argv
    sys.argv = ["evalkit", *argv]
    code = 0
    try:
        with contextlib.redirect_stdout(out), contextlib.redirect_stderr(err):
            main()
    except SystemExit as e:  # anything else propagates: the test fails with the traceback a user would see
        code = e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    finally:
        sys.argv = old
    return Result(code, out.getvalue(), err.getvalue())


def _one_clear_line(tally: Tally, res: Result, must_name: str) -> None:
    everything = res.stdout + res.stderr
    assert "Traceback" not in everything, everything
    assert res.exit_code == 2, (res.exit_code, everything)
    lines = [ln for ln in res.stderr.splitlines() if ln.strip()]
    assert len(lines) == 1, res.stderr
    assert lines[0].startswith("error: ") and must_name in lines[0] and " — fix: " in lines[0], lines[0]
    tally.refused += 1
    if len(tally.messages) < 5:
        tally.messages.append(lines[0])


def _fuzz_command(tally: Tally, strategy, argv) -> None:
    """Write each generated file into a fresh folder and run ``argv(folder, file)``."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)

        @CLI
        @given(case=strategy, n=st.integers(0, 10**6))
        def run(case, n):
            content, _ = case
            sub = d / f"c{n}"
            sub.mkdir(exist_ok=True)
            p = _write(sub, "input" + (".csv" if "csv" in tally.name else ".yaml"), content)
            res = invoke(argv(sub, p))
            _one_clear_line(tally, res, p.name)

        run()


def test_evalkit_run_with_a_broken_suite_prints_one_line():
    tally = Tally("CLI: evalkit run SUITE")
    strategy = mutated_mapping(SUITE, [], {"name": str, "scribes": list, "metrics": list}) | _suite_rules()
    _fuzz_command(tally, strategy, lambda d, p: ["run", str(p), "--db", str(d / "x.duckdb")])
    assert tally.refused >= 10


def test_evalkit_gate_with_a_broken_gate_file_prints_one_line():
    tally = Tally("CLI: evalkit gate -c")
    strategy = mutated_mapping(GATE, ["checks"], {"checks": list, "seed": int}) | _gate_rules()
    _fuzz_command(tally, strategy, lambda d, p: ["gate", "latest", "-c", str(p), "--db", str(d / "x.duckdb")])
    assert tally.refused >= 10


def test_evalkit_generate_with_a_broken_card_prints_one_line():
    tally = Tally("CLI: evalkit generate --cards")
    strategy = mutated_mapping(CARD, ["id", "specialty"], {"persona": dict, "plan": list}) | _card_rules()
    _fuzz_command(tally, strategy, lambda d, p: ["generate", "--cards", str(d), "--no-audio", "--out", str(d / "o")])
    assert tally.refused >= 10


def test_evalkit_import_with_a_broken_csv_imports_good_rows_or_prints_one_line():
    """A defect in one row: the other rows are imported, the bad one is a warning naming the file and
    row (exit 0); a defect of the whole file (missing column, no rows, no good row): one error line, exit 2."""
    tally = Tally("CLI: evalkit import aci-bench (csv)")
    skipped = [0]
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)

        @CLI
        @given(case=bad_aci_csv(), n=st.integers(0, 10**6))
        def run(case, n):
            content, _ = case
            sub = d / f"c{n}"
            sub.mkdir(exist_ok=True)
            p = _write(sub, "input.csv", content)
            res = invoke(["import", "aci-bench", str(p), "--no-metadata", "--db", str(sub / "x.duckdb")])
            if res.exit_code == 2:
                _one_clear_line(tally, res, p.name)
                return
            everything = res.stdout + res.stderr
            assert res.exit_code == 0 and "Traceback" not in everything, (res.exit_code, everything)
            warnings = [ln for ln in res.stderr.splitlines() if ln.strip()]
            assert warnings and all(ln.startswith("warning: skipped ") and p.name in ln and " row " in ln
                                    and " — fix: " in ln for ln in warnings), res.stderr
            assert "imported" in res.stdout and "skipped, listed above" in res.stdout
            skipped[0] += 1

        run()
    assert tally.refused >= 3 and skipped[0] >= 3 and tally.refused + skipped[0] >= 10
