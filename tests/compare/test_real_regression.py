"""End to end on real ACI-Bench consultations with the real runner and scoring: a scribe that drops
every plan sentence in 30% of cases must fail the right gate checks; an unchanged scribe must pass."""

from __future__ import annotations

import hashlib

import pytest

from evalkit.compare.runs import compare_runs
from evalkit.compare.gate import run_gate
from evalkit.compare.gate_report import to_markdown
from evalkit.importers.aci_bench import load_aci_bench
from evalkit.run.runner import run_suite
from evalkit.scribes import register
from evalkit.scribes.base import WriterScribe
from evalkit.scribes.rules import RulesWriter
from evalkit.run.suite import Suite
from tests.conftest import ACI

pytestmark = pytest.mark.slow  # runs 60 real sessions through the scorer (~15 s)


def _dropped(case_id: str) -> bool:
    return int(hashlib.sha256(case_id.encode()).hexdigest(), 16) % 10 < 3  # ~30% of cases


class DropPlanWriter:
    """The rules note writer, but the plan section comes back empty in ~30% of cases."""

    name = "dropplan"
    version = "1"

    def __init__(self) -> None:
        self.inner = RulesWriter()

    def write(self, turns, item):
        note = self.inner.write(turns, item)
        if _dropped(item.consultation.id):
            for sec in note.sections:
                if sec.key == "plan":
                    sec.sentences = []
        return note


register("dropplan")(lambda **kw: WriterScribe(DropPlanWriter(), name="dropplan"))

GATE = """\
checks:
  - name: no failures
    check: failure_rate == 0
  - name: omission rate does not regress
    check: omission_rate no significant regression
  - name: adherence does not regress
    check: adherence no significant regression
  - name: no more hallucinations per note
    check: major_hallucinations no significant regression
  - name: major hallucinations do not become more frequent
    check: major_hallucination_rate no significant regression
"""


@pytest.fixture(scope="module")
def real_runs(tmp_path_factory):
    from evalkit.store import Store

    aci_dir = ACI
    store = Store(tmp_path_factory.mktemp("real") / "t.duckdb")
    cases = load_aci_bench(aci_dir / "valid.csv", dataset="aci")
    store.put_consultations(cases)
    suite = Suite(name="swap", dataset="aci", scribes=["reference", "dropplan"], template="SOAP",
                  metrics=["adherence", "hallucination"], judge="grounding", concurrency=2)
    base, cand = run_suite(suite, store, label="swap", progress=False)
    (again,) = run_suite(suite.model_copy(update={"scribes": ["reference"]}), store, label="rerun", progress=False)
    store.set_baseline("prod", base)
    return store, cases, base, cand, again


def test_dropped_plans_fail_the_right_checks(real_runs, tmp_path):
    store, cases, base, cand, _ = real_runs
    n_hit = sum(_dropped(c.id) for c in cases)
    assert 3 <= n_hit <= 10  # the injected regression touches a minority of cases
    gate = tmp_path / "gate.yaml"
    gate.write_text(GATE)
    report = run_gate(store, cand, gate, baseline="prod")
    failed = {r.name for r in report.failed}
    assert {"omission rate does not regress", "adherence does not regress"} <= failed, report.summary()
    # dropping sentences invents nothing: the count of hallucinations per note stays put (the per-claim
    # *rate* may rise a little, since the same bad claims sit among fewer claims)
    assert "no failures" not in failed and "no more hallucinations per note" not in failed
    md = to_markdown(report)
    verdict = md.split("\n\n")[1]
    assert "Gate failed" in verdict and "omission rate does not regress" in verdict

    res = report.comparison
    plan = next(g for g in res.breakdowns if g.dimension == "section" and g.group == "plan"
                and g.metric == "claims_per_note")
    assert plan.mean_b < plan.mean_a and plan.hi < 0  # fewer plan claims, significantly
    hit = {c.id for c in cases if _dropped(c.id)}
    top = [w.consultation_id for w in res.worst[:n_hit]]
    assert set(top) <= hit, (top, hit)  # the worst cases are exactly the ones that lost their plan


def test_unchanged_scribe_passes(real_runs, tmp_path):
    store, _, base, _, again = real_runs
    gate = tmp_path / "gate.yaml"
    gate.write_text(GATE)
    report = run_gate(store, again, gate, baseline="prod")
    assert report.passed, report.summary()
    res = compare_runs(store, base, again, n_resamples=2000)
    quality = [m for m in res.metrics if m.metric not in ("latency_s", "cost_usd")]
    assert all(m.delta == 0 for m in quality), [(m.metric, m.delta) for m in quality if m.delta]
