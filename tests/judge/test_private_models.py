"""Every LLM feature against a local OpenAI-compatible server, configured by ``api_base`` alone.

This is what a hospital running its own model (vLLM, llama.cpp, a gateway) does: the model string
is ``openai/<name>`` and ``api_base`` points at the server; nothing else changes. The server here is
the loopback stub answering every evalkit prompt (``evalkit_responder``); all calls go through
litellm.
"""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from evalkit.testing.stub_llm import StubLLM


@pytest.fixture
def server():
    with StubLLM(responder="evalkit.testing.stub_llm:evalkit_responder") as s:
        yield s


def test_suite_run_with_llm_scribe_and_llm_judge(server, store):
    from evalkit.run.runner import run_suite
    from evalkit.run.suite import Suite
    from evalkit.synth import generate, load_cards

    store.put_consultations(generate(load_cards(), 2, seed=2, dataset="private"))
    model = {"model": "openai/hospital-llm", "api_base": server.api_base}
    suite = Suite(name="private", dataset="private", scribes=["llm"], scribe_options={"llm": model},
                  metrics=["adherence", "hallucination"], judge=model, concurrency=2)
    [rid] = run_suite(suite, store, progress=False)
    sessions = store.run_sessions(rid)
    assert list(sessions["status"]) == ["ok", "ok"], sessions["error"].tolist()
    scores = store.scores_frame([rid])
    assert set(scores.query("metric == 'hallucination_rate'")["value"]) == {0.0}
    detail = store.session_detail(sessions["session_id"][0])
    assert detail["output"].backend == "llm" and detail["findings"]
    assert all(f.verdict == "supported" for f in detail["findings"] if f.kind == "claim")
    models = {r["model"] for r in server.requests}
    assert models == {"hospital-llm"}


def test_generation_jury_rubrics_and_cli(server, tmp_path):
    from evalkit.llm.judge import make_llm_judge
    from evalkit.synth import load_cards
    from evalkit.synth.llm_generate import generate_with_llm

    card = load_cards()[0]
    c = generate_with_llm(card, "openai/hospital-llm", seed=1, api_base=server.api_base)
    assert c.turns and c.reference_note.sentences()
    jury = make_llm_judge(["openai/hospital-llm", "openai/other-llm"], api_base=server.api_base)
    res = jury.judge(c.turns, c.reference_note, c.case)
    assert res.error is None and res.claims
    scores = jury.judges[0].rubric_scores("s", c.turns, c.reference_note, c.template)
    assert all(s.value is not None for s in scores), [s.detail for s in scores if s.value is None]
    jury.close()
    cases = tmp_path / "cases.jsonl"
    cases.write_text(json.dumps({"id": "x", "transcript": [{"speaker": t.speaker.value, "text": t.text}
                                                           for t in c.turns],
                                 "note": c.reference_note.to_text()}) + "\n")
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(app_(), ["judge", "-i", str(cases), "-o", str(out), "-j", "openai/hospital-llm",
                                    "--api-base", server.api_base, "--db", str(tmp_path / "x.duckdb")])
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app_(), ["calibrate", "--csv", str(_aci_csv(tmp_path, c)), "--judge",
                                    "openai/hospital-llm", "--api-base", server.api_base,
                                    "--db", str(tmp_path / "x.duckdb"), "--kinds", "fabricated_dose"])
    assert r.exit_code == 0, r.output


def app_():
    from evalkit.cli import app

    return app


def _aci_csv(tmp_path, c):
    import csv

    p = tmp_path / "mini.csv"
    with p.open("w", newline="") as f:
        w = csv.writer(f)
        w.writerow(["dataset", "encounter_id", "dialogue", "note"])
        w.writerow(["mini", "M001", c.transcript_text().replace("[clinician]", "[doctor]"), c.reference_note.to_text()])
    return p


def test_suite_judge_with_rubric_scores_stores_pdqi_and_content_adherence(server, store):
    """``judge: {model, api_base, scores: [pdqi, adherence]}``: a suite run stores PDQI-9 items and
    content adherence with each session, next to the claims."""
    from evalkit.errors import InputError
    from evalkit.llm.judge import make_llm_judge
    from evalkit.llm.schemas import PDQI_ITEMS
    from evalkit.run.runner import run_suite
    from evalkit.run.suite import Suite
    from evalkit.synth import generate, load_cards

    store.put_consultations(generate(load_cards(), 1, seed=4, dataset="rubric"))
    judge = {"model": "openai/hospital-llm", "api_base": server.api_base, "scores": ["pdqi", "adherence"]}
    suite = Suite(name="rubric", dataset="rubric", scribes=["reference"], metrics=["hallucination"], judge=judge)
    [rid] = run_suite(suite, store, progress=False)
    [sid] = store.run_sessions(rid)["session_id"]
    scores = store.session_detail(sid)["scores"]
    assert {scores[f"pdqi_{k}"]["value"] for k in PDQI_ITEMS} == {4.0}  # the stub rates every item 4
    assert scores["adherence_content"]["value"] == 1.0 and scores["hallucination_rate"]["value"] == 0.0
    systems = [r["messages"][0]["content"] for r in server.requests]
    assert sum("PDQI-9" in s for s in systems) == 1
    with pytest.raises(InputError, match="scores"):
        make_llm_judge({**judge, "scores": ["vibes"]})
