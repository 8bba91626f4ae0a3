"""A gate or comparison never passes judgement on cases it did not see (issue 18, item 3).

A run stopped part-way (status ``running``) or missing cases of its dataset is refused with exit
code 2 and a line saying how many cases are missing — unless the gate file says
``allow_incomplete: true`` (or ``evalkit compare --allow-incomplete``), and then a note says so.
"""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest

from evalkit.run.runner import run_suite
from evalkit.store import SessionResult, Store
from evalkit.run.suite import Suite
from tests.conftest import make_consultation

EVALKIT = Path(sys.executable).with_name("evalkit")
N = 10


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(EVALKIT), *args], capture_output=True, text=True, timeout=300)


def _errors(res: subprocess.CompletedProcess) -> list[str]:
    return [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]


class _Killed(Exception):
    pass


def _killed_run(store: Store, label: str, after: int) -> str:
    """A run of N cases stopped after ``after`` sessions, as a kill leaves it (the finished ones saved)."""
    suite = Suite(name="g", dataset="unit", scribes=["reference"], metrics=["adherence"], concurrency=1)
    seen = []

    def stop(rows):
        seen.append(rows)
        if len(seen) >= after:
            raise _Killed()

    with pytest.raises(_Killed):
        run_suite(suite, store, label=label, progress=False, on_result=stop)
    (rid,) = store.list_runs().query("label == @label").run_id.tolist()
    return rid


@pytest.fixture
def db(tmp_path) -> Path:
    db = tmp_path / "g.duckdb"
    Store(db).put_consultations([make_consultation(f"g{i:02d}") for i in range(N)])
    return db


@pytest.fixture
def gate_file(tmp_path) -> Path:
    p = tmp_path / "gate.yaml"
    p.write_text("checks:\n  - {name: no failed sessions, check: failure_rate == 0}\n")
    return p


def test_gate_refuses_a_run_killed_part_way(db, gate_file):
    store = Store(db)
    rid = _killed_run(store, "candidate", after=4)
    assert store.get_run(rid)["status"] == "running" and len(store.run_sessions(rid)) == 4
    res = _cli("gate", "candidate", "-c", str(gate_file), "--db", str(db))
    assert res.returncode == 2, res.stdout + res.stderr
    (err,) = _errors(res)
    assert f"run 'candidate' ({rid}): is incomplete: 6 of 10 cases missing, status 'running'" in err
    assert "resume it" in err and f"add `allow_incomplete: true` to {gate_file}" in err


def test_gate_file_may_allow_an_incomplete_run_and_the_report_says_so(db, gate_file, tmp_path):
    rid = _killed_run(Store(db), "candidate", after=4)
    allow = tmp_path / "allow.yaml"
    allow.write_text("allow_incomplete: true\n" + gate_file.read_text())
    md = tmp_path / "gate.md"
    res = _cli("gate", "candidate", "-c", str(allow), "--db", str(db), "--markdown", str(md))
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"note: run 'candidate' ({rid}) is incomplete: 6 of 10 cases missing" in " ".join(res.stdout.split())
    assert "6 of 10 cases missing" in md.read_text()


def test_a_finished_run_missing_cases_is_refused_too(db, gate_file):
    store = Store(db)
    store.create_run(run_id="short", label="short", dataset="unit", scribe="reference", cases=N)
    store.write_results("short", [SessionResult(f"short:g{i:02d}", f"g{i:02d}", "reference") for i in range(7)])
    store.finish_run("short", summary={"cases": N})
    res = _cli("gate", "short", "-c", str(gate_file), "--db", str(db))
    assert res.returncode == 2
    (err,) = _errors(res)
    assert "run 'short': is incomplete: 3 of 10 cases missing" in err and "status" not in err


def test_compare_refuses_an_incomplete_side_unless_allowed(db):
    store = Store(db)
    suite = Suite(name="g", dataset="unit", scribes=["reference"], metrics=["adherence"], concurrency=1)
    run_suite(suite, store, label="baseline", progress=False)
    rid = _killed_run(store, "candidate", after=3)
    res = _cli("compare", "baseline", "candidate", "--db", str(db), "--resamples", "1000")
    assert res.returncode == 2
    (err,) = _errors(res)
    assert f"run 'candidate' ({rid}): is incomplete: 7 of 10 cases missing" in err and "--allow-incomplete" in err
    res = _cli("compare", "baseline", "candidate", "--db", str(db), "--resamples", "1000", "--allow-incomplete")
    assert res.returncode == 0, res.stderr
    out = " ".join(res.stdout.split())
    assert f"note: run 'candidate' ({rid}) is incomplete: 7 of 10 cases missing" in out and "(allowed)" in out


def test_resumed_to_the_end_the_run_passes(db, gate_file):
    store = Store(db)
    rid = _killed_run(store, "candidate", after=4)
    suite = Suite(name="g", dataset="unit", scribes=["reference"], metrics=["adherence"], concurrency=1)
    assert run_suite(suite, store, label="candidate", progress=False) == [rid]
    res = _cli("gate", "candidate", "-c", str(gate_file), "--db", str(db))
    assert res.returncode == 0, res.stdout + res.stderr
    assert f"run candidate = {rid}" in res.stdout


def test_library_gate_and_compare_refuse_too(db, gate_file):
    from evalkit.compare.runs import compare_runs
    from evalkit.errors import InputError
    from evalkit.compare.gate import run_gate

    store = Store(db)
    suite = Suite(name="g", dataset="unit", scribes=["reference"], metrics=["adherence"], concurrency=1)
    run_suite(suite, store, label="baseline", progress=False)
    _killed_run(store, "candidate", after=2)
    with pytest.raises(InputError, match="8 of 10 cases missing"):
        run_gate(store, "candidate", gate_file)
    with pytest.raises(InputError, match="8 of 10 cases missing"):
        compare_runs(store, "baseline", "candidate", n_resamples=1000)
    res = compare_runs(store, "baseline", "candidate", n_resamples=1000, allow_incomplete=True)
    assert res.n_paired == 2 and any("8 of 10 cases missing" in n for n in res.notes)
