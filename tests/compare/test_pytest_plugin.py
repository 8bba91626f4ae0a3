"""The pytest plugin, used as a team would: a test file in its own project, run by pytest."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
import xml.etree.ElementTree as ET

import pytest

from evalkit.store import Store
from tests.conftest import make_consultation

SUITE = """\
name: plugin-smoke
dataset: unit
scribes: [reference]
template: SOAP
metrics: [adherence, hallucination]
judge: grounding
concurrency: 1
"""

TESTS = '''\
import pytest

@pytest.mark.evalkit_suite("suite.yaml")
def test_quality(evalkit_run):
    assert evalkit_run.scribes == ["reference"]
    assert 0 < evalkit_run.mean("adherence") <= 1
    assert evalkit_run.means()["failure_rate"] == 0
    assert len(evalkit_run.values("hallucination_rate")) == 4
    report = evalkit_run.assert_gate("gate_ok.yaml")
    assert report.passed

@pytest.mark.evalkit_suite("suite.yaml")
def test_strict_gate(evalkit_run):
    evalkit_run.assert_gate("gate_strict.yaml")

def test_runner_memoises(evalkit_runner):
    assert evalkit_runner("suite.yaml") is evalkit_runner("suite.yaml")

def test_compare_with_itself(evalkit_runner):
    run = evalkit_runner("suite.yaml")
    res = run.compare(run, n_resamples=1000)
    assert res.n_paired == 4 and not res.regressions

def test_missing_marker(evalkit_run):
    pass
'''


def _run_pytest(project, db):
    env = {**os.environ, "PYTEST_DISABLE_PLUGIN_AUTOLOAD": "1"}  # load only the plugin under test
    env.pop("EVALKIT_DB", None)
    proc = subprocess.run([sys.executable, "-m", "pytest", "-p", "evalkit.pytest_plugin", "-p", "no:cacheprovider",
                           "-q", f"--evalkit-db={db}", "--junitxml=report.xml", "test_team.py"],
                          cwd=project, env=env, capture_output=True, text=True, timeout=300)
    root = ET.parse(project / "report.xml").getroot()
    outcome = {}
    for case in root.iter("testcase"):
        fail = case.find("failure") if case.find("failure") is not None else case.find("error")
        outcome[case.get("name")] = fail.get("message", "") + (fail.text or "") if fail is not None else "passed"
    return proc, outcome


@pytest.mark.slow  # two pytest sessions in subprocesses (~15 s on a quiet machine)
def test_plugin_runs_suite_asserts_and_caches(tmp_path):
    project = tmp_path / "team"
    project.mkdir()
    db = tmp_path / "team.duckdb"
    Store(db).put_consultations([make_consultation(f"case-{i}") for i in range(4)])
    (project / "suite.yaml").write_text(SUITE)
    (project / "gate_ok.yaml").write_text("checks:\n  - {name: nothing failed, check: failure_rate == 0}\n"
                                          "  - {name: adherence floor, check: adherence >= 0.1}\n")
    (project / "gate_strict.yaml").write_text("checks:\n  - {name: perfect adherence, check: adherence >= 1.01}\n")
    (project / "test_team.py").write_text(textwrap.dedent(TESTS))

    proc, outcome = _run_pytest(project, db)
    assert outcome["test_quality"] == "passed", proc.stdout[-3000:]
    assert outcome["test_runner_memoises"] == "passed"
    assert outcome["test_compare_with_itself"] == "passed", outcome["test_compare_with_itself"]
    assert "gate failed" in outcome["test_strict_gate"] and "perfect adherence" in outcome["test_strict_gate"]
    assert "evalkit_suite" in outcome["test_missing_marker"]

    store = Store(db)
    runs = store.list_runs()
    assert len(runs) == 1 and runs.sessions.iloc[0] == 4
    first = store.run_sessions(runs.run_id.iloc[0])

    # a second test session reuses the stored run: same run id, no new sessions
    proc, outcome = _run_pytest(project, db)
    assert outcome["test_quality"] == "passed", proc.stdout[-3000:]
    runs2 = store.list_runs()
    assert list(runs2.run_id) == list(runs.run_id) and runs2.sessions.iloc[0] == 4
    again = store.run_sessions(runs.run_id.iloc[0])
    assert list(again.session_id) == list(first.session_id)


def test_plugin_is_registered_as_entry_point_in_pyproject():
    import tomllib
    from pathlib import Path

    data = tomllib.loads((Path(__file__).parents[2] / "pyproject.toml").read_text())
    assert data["project"]["entry-points"]["pytest11"]["evalkit"] == "evalkit.pytest_plugin"
