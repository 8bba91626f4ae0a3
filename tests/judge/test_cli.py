"""``evalkit judge`` and ``evalkit calibrate`` as a user runs them."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from evalkit.cli import app

TRANSCRIPT = "[doctor] any chest pain?\n[patient] no chest pain. i take metformin 500 mg twice a day.\n" \
             "[doctor] we will check your hba1c today."
NOTE = "SUBJECTIVE\n\nDenies chest pain. Takes metformin 500 mg twice daily.\n\nPLAN\n\nCheck HbA1c."


@pytest.fixture
def cases(tmp_path):
    p = tmp_path / "cases.jsonl"
    lines = [json.dumps({"id": f"case-{i}", "transcript": TRANSCRIPT, "note": NOTE.replace("HbA1c", f"HbA1c ({i})")})
             for i in range(4)]
    lines.insert(2, json.dumps({"id": "bad", "transcript": "no speaker tags", "note": NOTE}))
    lines.insert(3, '{"id": "worse", "note": "PLAN\\nx"}')
    p.write_text("\n".join(lines) + "\n")
    return p


def _out(path):
    return [json.loads(x) for x in path.read_text().splitlines()]


def test_judge_offline_default_reports_bad_lines_and_goes_on(cases, tmp_path):
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(app, ["judge", "--input", str(cases), "--output", str(out)])
    assert r.exit_code == 1, r.output
    assert f"{cases}:3: transcript: has no [speaker] tags" in r.output
    assert f"{cases}:4: transcript: is missing" in r.output
    rows = _out(out)
    assert [x["id"] for x in rows] == ["case-0", "case-1", "case-2", "case-3"]
    c = rows[0]["claims"][0]
    assert set(c) == {"text", "verdict", "type", "severity", "confidence", "evidence", "sources", "rule"}
    assert any(x["rule"] for row in rows for x in row["claims"] if x["verdict"] != "supported")  # why it was flagged
    assert set(rows[0]) >= {"claims", "omissions"}


def test_judge_llm_budget_stop_and_resume(cases, tmp_path, stub):
    out, db = tmp_path / "out.jsonl", tmp_path / "j.duckdb"
    base = ["judge", "--input", str(cases), "--output", str(out), "--judge", "openai/stub",
            "--api-base", stub.api_base, "--db", str(db)]
    r = CliRunner().invoke(app, base + ["--max-calls", "2", "--concurrency", "1"])
    assert r.exit_code == 3, r.output
    assert "budget reached" in r.output and len(_out(out)) == 2 and stub.calls == 2
    r = CliRunner().invoke(app, base)
    assert r.exit_code == 1  # the two bad lines; every good case judged
    assert [x["id"] for x in _out(out)] == ["case-0", "case-1", "case-2", "case-3"]
    assert stub.calls == 4  # the first two came from the cache
    r = CliRunner().invoke(app, base)
    assert stub.calls == 4 and "(4 cached" in r.output.replace("\n", " ")


def test_judge_llm_jury_and_pdqi(cases, tmp_path, stub):
    from evalkit.llm.schemas import PDQI_ITEMS

    from .conftest import verdicts_for

    def responder(req):
        if "PDQI-9" in req["messages"][0]["content"]:
            return {"items": {k: 3 for k in PDQI_ITEMS}}
        return verdicts_for(req)

    stub.core.responder = responder
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(app, ["judge", "-i", str(cases), "-o", str(out), "-j", "openai/a", "-j", "openai/b",
                                 "--api-base", stub.api_base, "--db", str(tmp_path / "j.duckdb"), "--pdqi"])
    assert r.exit_code == 1, r.output  # bad lines only
    row = _out(out)[0]
    assert row["jury"]["rule"] == "majority" and set(row["jury"]["judges"]) == {"openai/a", "openai/b"}
    assert row["pdqi"]["accurate"] == 3.0 and len(row["claims"]) == 3


def test_calibrate_cli_gates_and_stores(tmp_path, stub):
    from evalkit.store import Store
    from evalkit.synth import generate, load_cards

    db = tmp_path / "c.duckdb"
    Store(db).put_consultations(generate(load_cards(), 3, seed=1, dataset="cal"))
    base = ["calibrate", "--dataset", "cal", "--db", str(db), "--kinds", "fabricated_dose,negation_flip"]
    r = CliRunner().invoke(app, base + ["--min-recall", "0.0"])
    assert r.exit_code == 0, r.output
    assert "fabricated_dose" in r.output and "gate passed" in r.output
    r = CliRunner().invoke(app, base + ["--judge", "openai/stub", "--api-base", stub.api_base, "--min-recall", "0.9"])
    assert r.exit_code == 1 and "gate failed: recall" in r.output  # the stub says everything is supported
    assert stub.calls > 0
    r = CliRunner().invoke(app, base + ["--min-kappa", "0.5"])
    assert r.exit_code == 1 and "no clinician claim labels" in r.output
    r = CliRunner().invoke(app, base + ["--kinds", "nonsense"])
    assert r.exit_code == 2 and "unknown kind" in r.output
    r = CliRunner().invoke(app, ["calibrate", "--db", str(db)])
    assert r.exit_code == 2 and "--dataset" in r.output
    cal = Store(db).calibrations()
    assert set(cal["judge"]) == {"grounding", "openai/stub"} and len(cal) == 3


def test_run_budget_stops_cleanly_and_the_same_command_resumes(tmp_path):
    """``evalkit run --max-calls`` covers the LLM scribe and judge of a suite: it stops with exit code 3,
    keeps the finished sessions, and the same command (without a budget) finishes the run paying
    only for what is left."""
    from evalkit.store import Store
    from evalkit.synth import generate, load_cards
    from evalkit.testing.stub_llm import StubLLM, evalkit_responder

    db = tmp_path / "r.duckdb"
    Store(db).put_consultations(generate(load_cards(), 4, seed=3, dataset="budget"))
    with StubLLM(responder=evalkit_responder) as server:
        model = {"model": "openai/budget-llm", "api_base": server.api_base}
        suite = tmp_path / "suite.yaml"
        suite.write_text(json.dumps({"name": "budget", "dataset": "budget", "scribes": ["llm"],
                                     "scribe_options": {"llm": model}, "judge": model, "concurrency": 1,
                                     "metrics": ["adherence", "hallucination"]}))
        base = ["run", str(suite), "--db", str(db)]
        r = CliRunner().invoke(app, base + ["--max-calls", "3"])
        assert r.exit_code == 3, r.output
        assert "budget reached" in r.output and server.calls == 3
        store = Store(db)
        [run] = store.list_runs().itertuples()
        assert run.status == "running" and run.sessions == 1  # scribe + judge of the first case, kept
        r = CliRunner().invoke(app, base)
        assert r.exit_code == 0, r.output
        [run] = Store(db).list_runs().itertuples()
        assert run.status == "finished" and run.sessions == 4 and run.failed == 0
        assert server.calls == 2 * 4  # one scribe and one judge call per case, none paid twice
        r = CliRunner().invoke(app, base + ["--max-calls", "1", "--executor", "ray"])
        assert r.exit_code == 2 and "--executor local" in r.output


def test_judge_takes_a_transcript_whose_first_turn_has_no_tag_with_a_warning(tmp_path):
    # real exports (ACI-Bench test2 D2N131) start without "[doctor]"; a BOM starts the file
    p, out = tmp_path / "c.jsonl", tmp_path / "o.jsonl"
    untagged = TRANSCRIPT.removeprefix("[doctor] ")
    p.write_text("\ufeff" + json.dumps({"id": "c1", "transcript": untagged, "note": NOTE}) + "\n", encoding="utf-8")
    r = CliRunner().invoke(app, ["judge", "--input", str(p), "--output", str(out)])
    assert r.exit_code == 0, r.output
    assert f"{p}:1: transcript: first turn has no [speaker] tag" in r.output and "clinician" in r.output
    assert "chest" not in r.output.split("warning:")[1].splitlines()[0]  # no transcript text in the warning
    (row,) = _out(out)
    denies = next(c for c in row["claims"] if c["text"].startswith("Denies chest pain"))
    assert denies["verdict"] == "supported" and 0 in denies["evidence"]  # the untagged question is turn 0
