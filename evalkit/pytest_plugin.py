"""pytest plugin: run an evalkit suite from your own tests and assert on its scores and gate.

Enabled by the ``pytest11`` entry point when evalkit is installed (or ``-p evalkit.pytest_plugin``).
Loading it costs nothing: evalkit itself is imported only when a fixture is used.

Usage::

    import pytest

    @pytest.mark.evalkit_suite("suites/smoke.yaml", limit=10)
    def test_scribe_quality(evalkit_run):
        assert evalkit_run.mean("wer") <= 0.15
        assert evalkit_run.mean("major_hallucination_rate") == 0
        evalkit_run.assert_gate("gate.yaml")              # every check of the gate file passes

    def test_against_prod(evalkit_runner):
        run = evalkit_runner("suites/smoke.yaml", label="candidate")
        res = run.compare("prod")                           # paired comparison with a baseline
        assert not res.regressions, [m.metric for m in res.regressions]

Runs are cached through the store: the runner derives each run id from the suite, the scribe
and the label, so a second test session reuses every stored session and calls no scribe; in
one pytest session a suite runs once. The suite's dataset must already be in the store
(``evalkit generate``/``evalkit import`` into the same ``--evalkit-db``, or
``evalkit_store.put_consultations(...)`` in a session fixture).

Options: ``--evalkit-db FILE`` (else ``$EVALKIT_DB``, the ``evalkit_db`` ini value, or
``evalkit.duckdb`` in the rootdir) and ``--evalkit-limit N`` (first N consultations of every suite).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import pytest

MARKER = "evalkit_suite"


def pytest_addoption(parser: pytest.Parser) -> None:
    group = parser.getgroup("evalkit", "evalkit scribe evaluation")
    group.addoption("--evalkit-db", default=None,
                    help="DuckDB file evalkit suites run against (default: $EVALKIT_DB, ini evalkit_db, "
                         "or evalkit.duckdb in the rootdir).")
    group.addoption("--evalkit-limit", type=int, default=None,
                    help="Run only the first N consultations of every evalkit suite.")
    parser.addini("evalkit_db", "DuckDB file evalkit suites run against.", default=None)


def pytest_configure(config: pytest.Config) -> None:
    config.addinivalue_line(
        "markers", f"{MARKER}(path, *, label='pytest', limit=None): run this evalkit suite (cached in the store) "
                   "and hand the result to the evalkit_run fixture.")


class EvalRun:
    """The runs of one suite (one per scribe), with helpers to assert on them.

    Args:
        store: the :class:`~evalkit.store.Store` holding the runs.
        run_ids: the run ids, one per scribe.
        label: the runs' label.
    """

    def __init__(self, store: Any, run_ids: list[str], label: str | None = None):
        self.store = store
        self.run_ids = list(run_ids)
        self.label = label
        self._tables: dict[str, Any] = {}

    def __repr__(self) -> str:
        return f"EvalRun(label={self.label!r}, run_ids={self.run_ids})"

    def run_id(self, scribe: str | None = None) -> str:
        """The run of ``scribe`` (required when the suite has several scribes)."""
        if scribe is None:
            if len(self.run_ids) != 1:
                raise ValueError(f"the suite has {len(self.run_ids)} runs ({', '.join(self.scribes)}): pass scribe=")
            return self.run_ids[0]
        for rid in self.run_ids:
            if self.store.get_run(rid)["scribe"] == scribe:
                return rid
        raise KeyError(f"no run for scribe {scribe!r}; scribes: {', '.join(self.scribes)}")

    @property
    def scribes(self) -> list[str]:
        return [self.store.get_run(r)["scribe"] for r in self.run_ids]

    def sessions(self, scribe: str | None = None):
        """One row per session: ids, status, specialty, template and a column per metric."""
        rid = self.run_id(scribe)
        if rid not in self._tables:
            from .compare.data import load_side

            self._tables[rid] = load_side(self.store, rid).sessions
        return self._tables[rid]

    def values(self, metric: str, scribe: str | None = None) -> list[float]:
        """Per-session values of ``metric`` (sessions without it left out)."""
        t = self.sessions(scribe)
        if metric not in t:
            raise KeyError(f"run {self.run_id(scribe)} has no {metric!r} scores; has: "
                           f"{', '.join(c for c in t.columns if t[c].dtype.kind == 'f')}")
        return [float(v) for v in t[metric].dropna()]

    def mean(self, metric: str, scribe: str | None = None) -> float:
        """Mean of ``metric`` over the run's sessions (derived ones such as ``major_hallucination_rate`` too)."""
        v = self.values(metric, scribe)
        if not v:
            raise ValueError(f"no session of run {self.run_id(scribe)} has a {metric!r} value")
        return sum(v) / len(v)

    def means(self, scribe: str | None = None) -> dict[str, float]:
        """Every metric's mean."""
        from .metrics.info import sort_key

        t = self.sessions(scribe)
        cols = [c for c in t.columns if t[c].dtype.kind == "f" and t[c].notna().any()]
        return {c: float(t[c].mean()) for c in sorted(cols, key=sort_key)}

    def gate(self, config: str | Path, baseline: str | None = None, scribe: str | None = None):
        """Evaluate a gate file on this run; returns a :class:`~evalkit.compare.gate.GateReport`."""
        from .compare.gate import run_gate

        return run_gate(self.store, self.run_id(scribe), config, baseline=baseline)

    def assert_gate(self, config: str | Path, baseline: str | None = None, scribe: str | None = None):
        """Fail the test (naming every failed check) unless the gate passes; returns the report."""
        report = self.gate(config, baseline=baseline, scribe=scribe)
        if not report.passed:
            raise AssertionError(report.summary())
        return report

    def compare(self, baseline: "str | EvalRun", scribe: str | None = None, **kwargs: Any):
        """Paired comparison of this run (B) against ``baseline`` (A: a run reference or an EvalRun)."""
        from .compare.runs import compare_runs

        ref = baseline.run_id(scribe) if isinstance(baseline, EvalRun) else baseline
        return compare_runs(self.store, ref, self.run_id(scribe), **kwargs)


def _db_path(config: pytest.Config) -> Path:
    opt = config.getoption("--evalkit-db") or os.environ.get("EVALKIT_DB") or config.getini("evalkit_db")
    p = Path(opt) if opt else Path("evalkit.duckdb")
    return p if p.is_absolute() else Path(config.rootpath) / p


@pytest.fixture(scope="session")
def evalkit_store(pytestconfig: pytest.Config):
    """The :class:`~evalkit.store.Store` suites run against (``--evalkit-db``)."""
    os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
    from .store import Store

    return Store(_db_path(pytestconfig))


@pytest.fixture(scope="session")
def evalkit_runner(evalkit_store, pytestconfig: pytest.Config):
    """``run(suite_path, *, label="pytest", limit=None, **run_suite_options) -> EvalRun``.

    Runs a suite through :func:`evalkit.run.runner.run_suite` once per pytest session; stored sessions
    are reused (no scribe calls) in later sessions.
    """
    cache: dict[tuple, EvalRun] = {}

    def run(suite: str | Path, *, label: str | None = "pytest", limit: int | None = None, **options: Any) -> EvalRun:
        from .run.runner import run_suite
        from .run.suite import load_suite

        path = Path(suite)
        if not path.is_absolute():
            path = Path(pytestconfig.rootpath) / path
        s = load_suite(path)
        limit = limit or pytestconfig.getoption("--evalkit-limit")
        key = (str(path.resolve()), s.hash(), label, limit, tuple(sorted(options.items())))
        if key not in cache:
            ids = run_suite(s, evalkit_store, label=label, limit=limit, progress=False, **options)
            cache[key] = EvalRun(evalkit_store, ids, label or s.label)
        return cache[key]

    return run


@pytest.fixture
def evalkit_run(request: pytest.FixtureRequest, evalkit_runner) -> EvalRun:
    """The suite named by the test's ``@pytest.mark.evalkit_suite(path, ...)`` marker, run (or reused)."""
    marker = request.node.get_closest_marker(MARKER)
    if marker is None or not marker.args:
        pytest.fail(f"evalkit_run needs @pytest.mark.{MARKER}('path/to/suite.yaml') on the test", pytrace=False)
    return evalkit_runner(marker.args[0], **marker.kwargs)
