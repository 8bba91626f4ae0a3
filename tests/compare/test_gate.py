"""The CI gate: config loading with line-numbered errors, check evaluation, CLI exit codes, JUnit."""

from __future__ import annotations

import textwrap
import xml.etree.ElementTree as ET

import numpy as np
import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.errors import InputError
from evalkit.compare.gate import load_gate_config, parse_rule, run_gate
from evalkit.compare.gate_report import to_junit, to_markdown
from tests.compare.fakes import put_cases, write_run

N = 50
GATE = """\
checks:
  - name: WER ceiling
    check: wer <= 0.15
  - name: few major hallucinations
    check: major_hallucination_rate <= 0.05
  - name: p90 omission
    check: p90(omission_rate) <= 60%
  - name: wer does not regress
    check: wer no significant regression
  - name: omissions within 2 points
    check: omission_rate regression <= 0.02
  - name: adherence does not regress
    check: adherence no significant regression
"""


def _write(tmp_path, text: str, name: str = "gate.yaml"):
    p = tmp_path / name
    p.write_text(textwrap.dedent(text))
    return p


@pytest.fixture
def runs(store):
    ids = put_cases(store, N)
    rng = np.random.default_rng(21)
    vals = {"wer": rng.uniform(0.05, 0.2, N), "omission_rate": rng.uniform(0.0, 0.3, N),
            "adherence": rng.uniform(0.8, 1.0, N), "major_hallucinations": np.zeros(N)}
    write_run(store, "base1", ids, vals)
    store.set_baseline("prod", "base1")
    return store, ids, vals


# ---------------------------------------------------------------------------- config


def test_rules_parse():
    c = parse_rule("x", "p95(latency_s) <= 20")
    assert (c.kind, c.metric, c.agg, c.op, c.value) == ("threshold", "latency_s", "p95", "<=", 20.0)
    c = parse_rule("x", "wer<=15%")
    assert (c.metric, c.value) == ("wer", 0.15)
    c = parse_rule("x", "adherence:  no significant  regression")
    assert (c.kind, c.metric) == ("no_regression", "adherence")
    c = parse_rule("x", "adherence delta >= -0.01")
    assert (c.kind, c.signed, c.op, c.value) == ("delta", "delta", ">=", -0.01)


def test_example_gate_file_loads():
    from pathlib import Path

    cfg = load_gate_config(Path(__file__).parents[2] / "examples" / "gate.yaml")
    assert cfg.baseline == "prod" and len(cfg.checks) >= 8
    assert {c.kind for c in cfg.checks} == {"threshold", "no_regression", "delta"}


@pytest.mark.parametrize("text,line,needle,fix", [
    ("checks:\n  - name: a\n    check: wre <= 0.1\n", 3, "unknown metric 'wre'", "did you mean 'wer'"),
    ("checks:\n  - name: a\n    check: wer <= 0.1\n  - name: b\n    check: wer <== 0.1\n", 5,
     "cannot read rule 'wer <== 0.1'", "wer <= 0.15"),
    ("checks:\n  - name: a\n    check: wer <= low\n", 3, "'low' is not a number", "write a number"),
    ("checks:\n  - name: a\n    check: wer is small\n", 3, "cannot read rule", "wer <= 0.15"),
    ("checks:\n  - name: a\n    check: p101(wer) < 1\n", 3, "unknown aggregate", "pNN"),
    ("checks:\n  - name: a\n    check: wer <= 0.1\n    threshold: 2\n", 4, "unknown key", "only `name` and `check`"),
    ("baseline: prod\nthreshold: 3\nchecks: []\n", 2, "unknown key", "allowed keys"),
    ("checks:\n  - name: a\n    check: wer <= 0.1\n  - name: a\n    check: cer <= 0.1\n", 5,
     "duplicate check name", "own name"),
    ("confidence: 95\nchecks:\n  - {name: a, check: wer <= 1}\n", 1, "between 0.5 and 1", "0.95"),
    ("checks:\n  - name: a\n    check: [wer, 1]\n", 3, "rule must be one line", "wer <= 0.15"),
    ("checks:\n  - name: a\n   check: wer <= 1\n", 3, "not valid YAML", "indentation"),
    ("checks:\n", 1, "no checks", "checks:"),
])
def test_bad_config_names_file_line_and_fix(tmp_path, text, line, needle, fix):
    p = _write(tmp_path, text)
    with pytest.raises(InputError) as e:
        load_gate_config(p)
    msg = str(e.value)
    assert msg.startswith(f"{p}:{line}"), msg
    assert needle in msg and "fix:" in msg and fix in msg.split("fix:", 1)[1], msg
    assert "\n" not in msg


def test_mapping_form_of_checks(tmp_path):
    cfg = load_gate_config(_write(tmp_path, "checks:\n  wer ceiling: wer <= 0.2\n  no regress: wer no significant regression\n"))
    assert [c.name for c in cfg.checks] == ["wer ceiling", "no regress"]
    assert cfg.checks[1].where.endswith(":3")


# ---------------------------------------------------------------------------- evaluation


def test_identical_run_passes(runs, tmp_path):
    store, ids, vals = runs
    write_run(store, "cand", ids, vals)
    report = run_gate(store, "cand", _write(tmp_path, GATE), baseline="prod")
    assert report.passed, report.summary()
    assert len(report.results) == 6 and report.comparison.n_paired == N


def test_injected_regression_fails_the_right_checks(runs, tmp_path):
    """30% of cases lose their plan: omissions rise in those cases, adherence drops."""
    store, ids, vals = runs
    hit = np.zeros(N, bool)
    hit[np.random.default_rng(4).choice(N, int(0.3 * N), replace=False)] = True
    worse = {**vals, "omission_rate": np.where(hit, vals["omission_rate"] + 0.25, vals["omission_rate"]),
             "adherence": np.where(hit, vals["adherence"] - 0.2, vals["adherence"])}
    write_run(store, "cand", ids, worse)
    report = run_gate(store, "cand", _write(tmp_path, GATE), baseline="prod")
    failed = {r.name for r in report.failed}
    assert failed == {"omissions within 2 points", "adherence does not regress"}, report.summary()
    md = to_markdown(report)
    first = md.split("\n\n")[1]  # the verdict paragraph comes first, naming the failed checks
    assert "Gate failed" in first and "omissions within 2 points" in first and "adherence does not regress" in first
    assert "WER ceiling" not in first
    assert "| ❌ | adherence does not regress |" in md and "| ✅ | WER ceiling |" in md
    assert "Worst-regressed cases" in md and "?session=cand:" in md


def test_small_noise_is_not_significant(runs, tmp_path):
    store, ids, vals = runs
    rng = np.random.default_rng(8)
    noisy = {**vals, "wer": vals["wer"] + rng.normal(0, 0.005, N),
             "adherence": np.clip(vals["adherence"] + rng.normal(0, 0.005, N), 0, 1)}
    write_run(store, "cand", ids, noisy)
    report = run_gate(store, "cand", _write(tmp_path, GATE), baseline="prod")
    assert report.passed, report.summary()
    wer = report.comparison.metric("wer")
    assert wer.lo < 0 < wer.hi and wer.verdict == "no significant change"


def test_absolute_threshold_values(runs, tmp_path):
    store, ids, vals = runs
    mh = np.zeros(N)
    mh[:5] = 1  # 10% of sessions have a major hallucination
    write_run(store, "cand", ids, {**vals, "major_hallucinations": mh})
    cfg = _write(tmp_path, "checks:\n  - {name: mh, check: major_hallucination_rate <= 0.05}\n"
                           "  - {name: worst wer, check: max(wer) <= 0.2}\n")
    report = run_gate(store, "cand", cfg)
    mh_res, max_res = report.results
    assert not mh_res.passed and mh_res.observed == pytest.approx(0.1)
    assert max_res.passed and max_res.observed == pytest.approx(vals["wer"].max())


def test_relative_check_without_baseline_is_a_config_error(runs, tmp_path):
    store, ids, vals = runs
    write_run(store, "cand", ids, vals)
    with pytest.raises(InputError, match=r"gate.yaml:9.*none was given.*--baseline"):
        run_gate(store, "cand", _write(tmp_path, GATE))


def test_metric_the_run_lacks_is_a_data_error(runs, tmp_path):
    store, ids, vals = runs
    write_run(store, "cand", ids, {"wer": vals["wer"]})
    with pytest.raises(InputError, match=r"no 'adherence' values.*fix: add `adherence` to the suite's metrics"):
        run_gate(store, "cand", _write(tmp_path, "checks:\n  - {name: a, check: adherence >= 0.9}\n"))


def test_junit_has_one_testcase_per_check(runs, tmp_path):
    store, ids, vals = runs
    write_run(store, "cand", ids, {**vals, "wer": vals["wer"] + 0.05})
    report = run_gate(store, "cand", _write(tmp_path, GATE), baseline="prod")
    root = ET.fromstring(to_junit(report))
    cases = root.findall("./testsuite/testcase")
    assert [c.get("name") for c in cases] == [c.name for c in report.config.checks]
    failed = {c.get("name") for c in cases if c.find("failure") is not None}
    assert failed == {r.name for r in report.failed} and "wer does not regress" in failed
    assert root.get("tests") == "6" and root.get("failures") == str(len(failed))


# ---------------------------------------------------------------------------- CLI


def _cli(*args):
    return CliRunner().invoke(app, list(args))


def test_cli_exit_codes_and_outputs(runs, tmp_path):
    store, ids, vals = runs
    db = str(store.path)
    write_run(store, "same", ids, vals)
    write_run(store, "bad", ids, {**vals, "wer": vals["wer"] + 0.05})
    gate = str(_write(tmp_path, GATE))
    ok = _cli("gate", "same", "--config", gate, "--baseline", "prod", "--db", db)
    assert ok.exit_code == 0, ok.output
    junit, md = tmp_path / "j.xml", tmp_path / "g.md"
    bad = _cli("gate", "bad", "--config", gate, "--baseline", "prod", "--db", db, "--junit", str(junit),
               "--markdown", str(md))
    assert bad.exit_code == 1, bad.output
    assert "wer does not regress" in md.read_text().split("\n\n")[1]
    assert ET.parse(junit).getroot().get("failures") == "2"  # WER ceiling and WER no-regression
    cfg_err = _cli("gate", "same", "--config", str(_write(tmp_path, "checks:\n  - {name: a, check: wre < 1}\n", "b.yaml")),
                   "--db", db)
    flat = "".join(cfg_err.output.split())  # the console may wrap or fold long lines
    assert cfg_err.exit_code == 2 and "b.yaml:2:checks[0].check:unknownmetric'wre'" in flat, flat
    assert "fix:didyoumean'wer'" in flat, flat
    no_run = _cli("gate", "ghost", "--config", gate, "--baseline", "prod", "--db", db)
    assert no_run.exit_code == 2 and "norunwiththisidorlabel" in "".join(no_run.output.split())


def test_cli_compare_writes_markdown_and_json(runs, tmp_path):
    store, ids, vals = runs
    write_run(store, "cand", ids, {**vals, "wer": vals["wer"] + 0.05})
    md, js = tmp_path / "c.md", tmp_path / "c.json"
    r = _cli("compare", "prod", "cand", "--db", str(store.path), "--markdown", str(md), "--json", str(js),
             "--resamples", "2000")
    assert r.exit_code == 0, r.output
    assert md.read_text().startswith("## evalkit compare: `prod` → `cand`\n\n❌ **Regression**")
    assert '"verdict": "regressed"' in js.read_text()
    assert _cli("compare", "prod", "cand", "--db", str(store.path), "--fail-on-regression",
                "--resamples", "2000").exit_code == 1


def test_cli_baselines(runs):
    store, ids, vals = runs
    db = str(store.path)
    write_run(store, "cand", ids, vals, label="nightly")
    assert _cli("baseline", "set", "nightly", "--label", "staging", "--db", db).exit_code == 0
    assert store.runs_for_ref("staging") == ["cand"]
    listed = _cli("baseline", "list", "--db", db)
    assert listed.exit_code == 0 and "staging" in listed.output and "prod" in listed.output
    clash = _cli("baseline", "set", "cand", "--label", "base1", "--db", db)
    assert clash.exit_code == 2 and "alreadyarunid" in "".join(clash.output.split())
    assert _cli("baseline", "rm", "staging", "--db", db).exit_code == 0
    assert _cli("baseline", "rm", "staging", "--db", db).exit_code == 2


def test_gate_against_a_baseline_with_no_common_cases_is_a_data_error(store, tmp_path):
    ids = put_cases(store, 10)
    write_run(store, "p", ids[:5], {"wer": np.full(5, 0.1)})
    write_run(store, "q", ids[5:], {"wer": np.full(5, 0.1)})
    with pytest.raises(InputError, match="share no consultations"):
        run_gate(store, "q", _write(tmp_path, "checks:\n  - {name: a, check: wer no significant regression}\n"),
                 baseline="p")


def test_gate_json(runs, tmp_path):
    import json

    from evalkit.compare.gate_report import write_outputs

    store, ids, vals = runs
    write_run(store, "cand", ids, vals)
    report = run_gate(store, "cand", _write(tmp_path, GATE), baseline="prod")
    out = tmp_path / "g.json"
    write_outputs(report, json_path=out)
    data = json.loads(out.read_text())
    assert data["passed"] is True and len(data["checks"]) == 6
    assert data["checks"][3]["kind"] == "no_regression" and data["checks"][3]["where"].endswith(":9")
    assert data["comparison"]["n_paired"] == N
