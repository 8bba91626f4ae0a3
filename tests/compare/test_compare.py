"""Run-vs-run comparison on runs written straight into a temporary store."""

from __future__ import annotations

import json

import numpy as np
import pytest

from evalkit.compare.runs import compare_runs
from evalkit.compare.report import headline, to_markdown, write_json
from evalkit.errors import InputError
from evalkit.metrics.info import info_or_default, metric_info
from tests.compare.fakes import put_cases, write_run

N = 60


@pytest.fixture
def base(store):
    ids = put_cases(store, N, templates=("SOAP", "BIRP"))
    rng = np.random.default_rng(11)
    vals = {"wer": rng.uniform(0.05, 0.3, N), "adherence": rng.uniform(0.7, 1.0, N),
            "omission_rate": rng.uniform(0.0, 0.3, N), "major_hallucinations": (rng.random(N) < 0.1).astype(float),
            "pdqi_accurate": rng.integers(2, 6, N).astype(float)}
    write_run(store, "runa", ids, vals, label="prod-run", scribe="old")
    return store, ids, vals


def test_identical_runs_show_no_change(base):
    store, ids, vals = base
    write_run(store, "runb", ids, vals, scribe="old")
    res = compare_runs(store, "runa", "runb", n_resamples=2000)
    assert res.n_paired == N and not res.only_a and not res.only_b
    for m in res.metrics:
        assert m.delta == 0 and m.verdict in ("no significant change", "n/a"), m
    assert res.verdict == "no significant change" and res.worst == []
    assert "No significant regression" in headline(res)


def test_regression_is_found_with_direction(base):
    store, ids, vals = base
    worse = dict(vals)
    worse["wer"] = vals["wer"] + 0.03  # lower is better: worse
    worse["adherence"] = vals["adherence"] + 0.05  # higher is better: better
    worse["pdqi_accurate"] = np.maximum(vals["pdqi_accurate"] - 1, 1)  # judge score down: worse
    write_run(store, "runb", ids, worse, scribe="new")
    res = compare_runs(store, "prod-run", "runb", n_resamples=2000)
    assert res.run_a == ["runa"]  # resolved by label
    assert res.metric("wer").verdict == "regressed" and res.metric("wer").delta == pytest.approx(0.03)
    assert res.metric("adherence").verdict == "improved"
    assert res.metric("pdqi_accurate").verdict == "regressed"
    assert res.metric("omission_rate").verdict == "no significant change"
    assert {m.metric for m in res.regressions} == {"wer", "pdqi_accurate"}
    assert res.verdict == "regressed"


def test_only_cases_in_both_runs_are_paired(base):
    store, ids, vals = base
    extra = put_cases(store, N + 5)[N:]  # 5 cases only run B has
    vb = {m: np.concatenate([v[10:], np.full(5, 0.1)]) for m, v in vals.items()}
    write_run(store, "runb", ids[10:] + extra, vb)
    res = compare_runs(store, "runa", "runb", n_resamples=1000)
    assert res.n_paired == N - 10
    assert res.only_a == ids[:10] and res.only_b == extra
    md = to_markdown(res)
    assert "Only in A (not compared)" in md and f"`{ids[0]}`" in md and f"`{extra[0]}`" in md


def test_binary_outcomes_use_mcnemar(base):
    store, ids, vals = base
    worse = dict(vals)
    mh = vals["major_hallucinations"].copy()
    flip = np.flatnonzero(mh == 0)[:15]
    mh[flip] = 2.0  # 15 more notes with a major hallucination
    worse["major_hallucinations"] = mh
    write_run(store, "runb", ids, worse, flagged=list(range(8)))
    res = compare_runs(store, "runa", "runb", n_resamples=1000)
    m = res.metric("major_hallucination_rate")
    assert m.test == "mcnemar-exact" and m.mcnemar.only_b == 15 and m.mcnemar.only_a == 0
    assert m.p_value == pytest.approx(2 * 0.5 ** 15)
    assert m.verdict == "regressed"
    f = res.metric("flagged_rate")
    assert f.mcnemar.only_b == 8 and f.verdict == "regressed"  # p = 2/256 < 0.05


def test_failed_sessions_count_as_failures_not_scores(base):
    store, ids, vals = base
    write_run(store, "runb", ids, vals, failed=[0, 1, 2])
    res = compare_runs(store, "runa", "runb", n_resamples=1000)
    assert res.metric("wer").n == N - 3
    fr = res.metric("failure_rate")
    assert fr.mean_a == 0 and fr.mean_b == pytest.approx(3 / N) and fr.n == N


def test_worst_cases_link_to_the_app_and_rank_by_damage(base):
    store, ids, vals = base
    worse = {m: v.copy() for m, v in vals.items()}
    worse["omission_rate"][7] += 0.6  # one case loses much of its content
    worse["wer"][3] += 0.05
    write_run(store, "runb", ids, worse)
    res = compare_runs(store, "runa", "runb", n_resamples=1000, app_url="http://review:8501/")
    assert [w.consultation_id for w in res.worst[:2]] == [ids[7], ids[3]]
    w = res.worst[0]
    assert w.url_b == f"http://review:8501/?session=runb:{ids[7]}"
    assert w.changes[0]["metric"] == "omission_rate"
    by_wer = compare_runs(store, "runa", "runb", n_resamples=1000, worst_by="wer")
    assert by_wer.worst[0].consultation_id == ids[3] and len(by_wer.worst) == 1
    md = to_markdown(res)
    assert md.index(headline(res)) < md.index("| Metric |") < md.index("Worst-regressed cases")
    assert f"[B](http://review:8501/?session=runb:{ids[7]})" in md


def test_breakdowns_by_specialty_template_and_section(base):
    store, ids, vals = base
    claims_a = {i: [("plan", "supported", None)] * 3 + [("subjective", "supported", None)] for i in range(N)}
    store2_vals = {m: v.copy() for m, v in vals.items()}
    # only cardiology cases (every third) get worse WER
    card = np.array([i % 3 == 0 for i in range(N)])
    store2_vals["wer"] = np.where(card, vals["wer"] + 0.1, vals["wer"])
    claims_b = {i: ([] if i % 2 else [("plan", "unsupported", "major")] * 3) + [("subjective", "supported", None)]
                for i in range(N)}
    write_run(store, "runc", ids, vals, claims=claims_a)
    write_run(store, "rund", ids, store2_vals, claims=claims_b)
    res = compare_runs(store, "runc", "rund", n_resamples=2000)
    spec = {g.group: g for g in res.breakdowns if g.dimension == "specialty" and g.metric == "wer"}
    assert set(spec) == {"cardiology", "dermatology", "orthopedics"}
    assert spec["cardiology"].delta == pytest.approx(0.1) and spec["cardiology"].lo > 0.09
    assert spec["dermatology"].delta == 0 and spec["dermatology"].hi == 0
    tmpl = {g.group for g in res.breakdowns if g.dimension == "template"}
    assert tmpl == {"SOAP", "BIRP"}
    sec = {(g.group, g.metric): g for g in res.breakdowns if g.dimension == "section"}
    plan_claims = sec[("plan", "claims_per_note")]
    assert plan_claims.mean_a == 3 and plan_claims.mean_b == 1.5 and plan_claims.hi < 0
    plan_rate = sec[("plan", "hallucination_rate")]
    assert plan_rate.mean_a == 0 and plan_rate.mean_b == 1 and plan_rate.lo == 1
    assert sec[("subjective", "claims_per_note")].delta == 0
    md = to_markdown(res)
    assert "**By specialty**" in md and "**By note section**" in md and "cardiology" in md


def test_label_with_one_run_per_scribe_pairs_by_scribe(store):
    ids = put_cases(store, 30)
    rng = np.random.default_rng(3)
    v1, v2 = {"wer": rng.uniform(0, 0.2, 30)}, {"wer": rng.uniform(0.2, 0.4, 30)}
    write_run(store, "a1", ids, v1, scribe="whisper+rules", label="before")
    write_run(store, "a2", ids, v2, scribe="reference", label="before")
    write_run(store, "b1", ids, {"wer": v1["wer"] + 0.05}, scribe="whisper+rules", label="after")
    write_run(store, "b2", ids, v2, scribe="reference", label="after")
    res = compare_runs(store, "before", "after", n_resamples=1000)
    assert sorted(res.run_a) == ["a1", "a2"] and res.n_paired == 60
    assert res.settings["paired_on"] == "scribe+consultation_id"
    by_scribe = {g.group: g.delta for g in res.breakdowns if g.dimension == "scribe" and g.metric == "wer"}
    assert by_scribe["whisper+rules"] == pytest.approx(0.05) and by_scribe["reference"] == 0


def test_ambiguous_side_is_refused(store):
    ids = put_cases(store, 5)
    write_run(store, "x1", ids, {"wer": np.zeros(5)}, scribe="s1", label="mix")
    write_run(store, "x2", ids, {"wer": np.zeros(5)}, scribe="s2", label="mix")
    write_run(store, "y1", ids, {"wer": np.zeros(5)}, scribe="s1")
    with pytest.raises(InputError, match="cannot be paired.*fix:"):
        compare_runs(store, "mix", "y1", n_resamples=1000)


def test_unknown_run_and_metric_are_input_errors(base):
    store, ids, vals = base
    with pytest.raises(InputError, match="no run with this id or label"):
        compare_runs(store, "runa", "nope")
    with pytest.raises(InputError, match="no scores for cer.*use one of: wer"):
        compare_runs(store, "runa", "runa", metrics=["cer"])


def test_json_output_is_complete_and_valid(base, tmp_path):
    store, ids, vals = base
    write_run(store, "runb", ids, {**vals, "wer": vals["wer"] + 0.02})
    res = compare_runs(store, "runa", "runb", n_resamples=1000)
    path = tmp_path / "c.json"
    write_json(res, path)
    data = json.loads(path.read_text())  # NaN would make this invalid JSON for strict parsers
    assert data["verdict"] == "regressed" and data["regressions"] == ["wer"]
    wer = next(m for m in data["metrics"] if m["metric"] == "wer")
    assert wer["direction"] == "lower" and wer["lo"] > 0 and wer["n"] == N
    assert data["settings"]["n_resamples"] == 1000 and data["worst"][0]["url_b"].startswith("http://localhost:8501/")
    assert "NaN" not in path.read_text()


def test_seeded_results_are_reproducible(base):
    store, ids, vals = base
    write_run(store, "runb", ids, {**vals, "wer": vals["wer"] + np.random.default_rng(5).normal(0, 0.02, N)})
    r1 = compare_runs(store, "runa", "runb", n_resamples=2000, seed=1)
    r2 = compare_runs(store, "runa", "runb", n_resamples=2000, seed=1)
    assert [(m.lo, m.hi) for m in r1.metrics] == [(m.lo, m.hi) for m in r2.metrics]


def test_metric_registry_directions():
    assert metric_info("wer").direction == "lower" and metric_info("adherence").direction == "higher"
    assert metric_info("pdqi_thorough").direction == "higher"
    assert metric_info("hallucination_rate_negation").direction == "lower"
    assert metric_info("major_hallucination_rate").kind == "binary"
    assert metric_info("nonsense") is None and info_or_default("nonsense").direction is None
    assert info_or_default("adherence").worsening(-0.1) == pytest.approx(0.1)


def test_runs_without_common_cases(store):
    ids = put_cases(store, 10)
    write_run(store, "p", ids[:5], {"wer": np.full(5, 0.1)})
    write_run(store, "q", ids[5:], {"wer": np.full(5, 0.3)})
    res = compare_runs(store, "p", "q", n_resamples=1000)
    assert res.n_paired == 0 and res.only_a == ids[:5] and res.only_b == ids[5:]
    assert all(m.verdict == "n/a" for m in res.metrics) and res.worst == []
    assert "No paired cases" in to_markdown(res)
