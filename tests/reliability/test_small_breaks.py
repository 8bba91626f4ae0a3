"""The smaller breaks of issue 18 (item 10): emoji codes in printed text, a no-op resume killed, numpy's
All-NaN warnings in compare/gate, and tables cut at 80 columns without a terminal."""

from __future__ import annotations

import os
import subprocess
import sys
import warnings
from pathlib import Path

import numpy as np
import pytest

from evalkit.run.runner import run_suite
from evalkit.store import Store
from evalkit.run.suite import Suite
from tests.conftest import make_consultation

EVALKIT = Path(sys.executable).with_name("evalkit")


def _cli(*args: str) -> subprocess.CompletedProcess:
    """The console script with stdout and stderr piped (no terminal) and no COLUMNS: what CI sees."""
    env = {k: v for k, v in os.environ.items() if k not in ("COLUMNS", "LINES")}
    return subprocess.run([str(EVALKIT), *args], capture_output=True, text=True, timeout=300, env=env)


def test_emoji_codes_in_user_text_are_printed_as_written(tmp_path):
    """``root:x:0:0`` (a passwd line pasted into a label or a reference) must not print as ``root❌0:0``."""
    db = tmp_path / "e.duckdb"
    store = Store(db)
    store.put_consultations([make_consultation("e0")])
    suite = Suite(name="e", dataset="unit", scribes=["reference"], metrics=["adherence"])
    run_suite(suite, store, label="root:x:0:0 :smile:", progress=False)
    res = _cli("runs", "--db", str(db))
    assert res.returncode == 0 and "root:x:0:0 :smile:" in res.stdout, res.stdout
    gate = tmp_path / "g.yaml"
    gate.write_text("checks:\n  - {name: a, check: adherence >= 0}\n")
    res = _cli("gate", "root:x:0:1", "-c", str(gate), "--db", str(db))
    assert res.returncode == 2 and "run 'root:x:0:1': no run with this id or label" in res.stderr
    assert "❌" not in res.stderr + res.stdout and "😄" not in res.stdout


def test_without_a_terminal_tables_are_not_cut_at_80_columns(tmp_path):
    db = tmp_path / "w.duckdb"
    store = Store(db)
    store.put_consultations([make_consultation("w0")])
    label = "candidate-" + "abcdefghij" * 9  # 100 characters: wider than 80 columns by itself
    for scribe in ("reference", "rules"):  # enough runs for the one-row-per-run table
        run_suite(Suite(name="w", dataset="unit", scribes=[scribe], metrics=["adherence"]), store, label=label,
                  progress=False)
    res = _cli("runs", "--db", str(db))
    assert res.returncode == 0
    assert label in res.stdout, res.stdout  # whole, on one line: not folded or cut with "…"


class _Killed(BaseException):
    pass


def test_a_no_op_resume_killed_leaves_the_finished_run_finished(tmp_path, monkeypatch):
    """Running a finished suite again does nothing; killed meanwhile, the run must still say finished."""
    store = Store(tmp_path / "n.duckdb")
    store.put_consultations([make_consultation(f"n{i}") for i in range(3)])
    suite = Suite(name="n", dataset="unit", scribes=["reference"], metrics=["adherence"])
    (rid,) = run_suite(suite, store, progress=False)
    assert store.get_run(rid)["status"] == "finished"

    def killed(*a, **kw):  # the resume stopped before it could write "finished" again
        raise _Killed()

    monkeypatch.setattr(Store, "finish_run", killed)
    with pytest.raises(_Killed):
        run_suite(suite, store, progress=False)
    monkeypatch.undo()
    assert store.get_run(rid)["status"] == "finished"


def test_a_resume_with_work_left_is_running_until_it_finishes(tmp_path, monkeypatch):
    store = Store(tmp_path / "r.duckdb")
    store.put_consultations([make_consultation(f"r{i}") for i in range(3)])
    suite = Suite(name="r", dataset="unit", scribes=["reference"], metrics=["adherence"])
    (rid,) = run_suite(suite, store, progress=False, limit=2)
    store.put_consultations([make_consultation("r3")])  # more work for the same run

    def killed(*a, **kw):
        raise _Killed()

    monkeypatch.setattr(Store, "finish_run", killed)
    with pytest.raises(_Killed):
        run_suite(suite, store, progress=False, limit=3)
    monkeypatch.undo()
    assert store.get_run(rid)["status"] == "running"


def test_compare_and_gate_print_no_numpy_warnings(tmp_path):
    """A metric one run has only NaN for (no interval to draw) must not make numpy warn "All-NaN slice"."""
    from evalkit.compare.runs import compare_runs
    from evalkit.compare.gate import run_gate
    from tests.compare.fakes import write_run

    store = Store(tmp_path / "w.duckdb")
    ids = [f"c{i}" for i in range(8)]
    write_run(store, "ra", ids, {"wer": np.full(8, 0.1), "adherence": np.full(8, np.nan)}, label="a",
              claims={0: [("plan", "unsupported", "major")]})
    write_run(store, "rb", ids, {"wer": np.full(8, 0.2), "adherence": np.r_[np.full(7, np.nan), 0.5]}, label="b")
    gate = tmp_path / "g.yaml"
    gate.write_text("checks:\n  - {name: w, check: wer <= 0.5}\n  - {name: r, check: wer no significant regression}\n")
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # any warning fails the test
        res = compare_runs(store, "a", "b", n_resamples=1000)
        report = run_gate(store, "b", gate, baseline="a")
    assert res.metric("adherence").n == 0 and not report.passed
    out = _cli("compare", "a", "b", "--db", str(store.path), "--resamples", "1000")
    assert out.returncode == 0 and "Warning" not in out.stderr and "All-NaN" not in out.stderr, out.stderr
