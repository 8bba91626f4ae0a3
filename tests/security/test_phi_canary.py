"""A PHI canary placed in transcripts and notes never reaches a log record or an error message.

The canary is a made-up patient name and a made-up remedy written into a case card (so it is
spoken in the dialogue, written in the reference note and, for the audio case, synthesised and
recognised), into a replay scribe's notes, and into the JSONL lines given to ``evalkit judge``
and ``evalkit wer`` — good lines and deliberately broken ones. Every logger (the standard
``logging`` tree at DEBUG and loguru) is captured for the whole pipeline in-process: generate →
speech → run (ASR, rules, replay, an LLM judge against the loopback stub, the offline judge) →
judge → compare → gate; every CLI call's stderr (and the run/compare/gate stdout) is captured
too. The canary must be in the data — and nowhere else.
"""

from __future__ import annotations

import json
import logging
import os
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from evalkit.paths import synthetic_dir

EVALKIT = Path(sys.executable).with_name("evalkit")
NAME = "Qorvath Zembleton"  # the canary patient name
REMEDY = "zembleroot"  # the canary remedy
CANARIES = ("Qorvath", "Zembleton", "zembleroot", "QORVATH", "ZEMBLETON", "ZEMBLEROOT")


def _has_canary(text: str) -> list[str]:
    low = text.lower()
    return [c for c in ("qorvath", "zembleton", "zembleroot") if c in low]


def _card(tmp: Path) -> Path:
    card = yaml.safe_load((synthetic_dir() / "cards" / "gp-tonsillitis-uk-01.yaml").read_text())
    card["id"] = "canary-card-01"
    card["persona"] = {**card["persona"], "name": NAME}
    card["history"] = card["history"] + [f"Has been gargling {REMEDY} tea every evening."]
    card["plan"] = card["plan"] + [f"Stop the {REMEDY} tea."]
    d = tmp / "cards"
    d.mkdir()
    (d / "canary.yaml").write_text(yaml.safe_dump(card, sort_keys=False, allow_unicode=True))
    return d


def _cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess:
    env = {**os.environ, "COLUMNS": "200", "LITELLM_LOG": "DEBUG"}
    return subprocess.run([str(EVALKIT), *args], capture_output=True, text=True, timeout=900, input=stdin, env=env)


@pytest.fixture
def all_logs(caplog):
    """Every log record at DEBUG, from the logging tree and from loguru."""
    caplog.set_level(logging.DEBUG)
    for name in list(logging.root.manager.loggerDict):  # loggers that set their own level still propagate
        lg = logging.getLogger(name)
        if lg.level > logging.DEBUG and not name.startswith(("LiteLLM", "litellm")):
            lg.setLevel(logging.DEBUG)
    records: list[str] = []
    try:
        from loguru import logger

        sink = logger.add(lambda m: records.append(str(m)), level="TRACE")
    except ImportError:  # pragma: no cover
        sink = None
    yield lambda: [r.getMessage() + " " + str(r.args or "") + " " + (r.exc_text or "") for r in caplog.records] + records
    if sink is not None:
        from loguru import logger

        logger.remove(sink)


@pytest.mark.slow
def test_phi_canary_never_reaches_logs_or_errors(tmp_path, all_logs):
    from evalkit.compare.runs import compare_runs
    from evalkit.compare.report import to_markdown
    from evalkit.compare.gate import run_gate
    from evalkit.run.runner import run_suite
    from evalkit.store import Store
    from evalkit.run.suite import Suite
    from evalkit.synth import generate, load_cards, synthesize, with_turn_times
    from evalkit.testing.stub_llm import StubLLM

    cards = _card(tmp_path)
    leaks: list[tuple[str, list[str]]] = []

    def check(where: str, text: str) -> None:
        if _has_canary(text):
            leaks.append((where, _has_canary(text)))

    # ---- CLI: generate into a database (the canary is in the data)
    db = tmp_path / "phi.duckdb"
    res = _cli("generate", "--cards", str(cards), "--n", "3", "--no-audio", "--db", str(db), "--dataset", "phi")
    assert res.returncode == 0, res.stderr
    check("evalkit generate stderr", res.stderr)
    check("evalkit generate stdout", res.stdout)
    store = Store(db)
    cons = store.list_consultations("phi")
    said = " ".join(t.text for c in cons for t in c.turns)
    written = " ".join(s.text for c in cons for _, s in c.reference_note.sentences())
    assert _has_canary(said) and _has_canary(written), "the canary did not make it into the data"

    # ---- in-process: speech + ASR, rules, replay (with a broken row), LLM judge via the stub
    card = load_cards(cards)[0]
    (c_audio,) = generate([card], 1, 9, None, dataset="phi-audio")
    audio = synthesize(c_audio, tmp_path / "audio" / f"{c_audio.id}.wav", seed=1, root=tmp_path)
    store.put_consultations([with_turn_times(c_audio, audio)], {c_audio.id: audio})
    replay = tmp_path / "replay.jsonl"
    rows = [{"id": c.id, "note": f"SUBJECTIVE\n{NAME} uses {REMEDY} tea.\n\nPLAN\nStop {REMEDY}."} for c in cons]
    rows[1]["note"] = {"text": f"{NAME} {REMEDY}"}  # not text: this case fails, with an error message
    rows[2]["transcript"] = f"{NAME} said {REMEDY} without a speaker tag"  # unreadable transcript
    replay.write_text("\n".join(json.dumps(r) for r in rows) + "\n")
    with StubLLM(responder="evalkit.testing.stub_llm:judge_responder", keep_requests=False) as stub:
        base = Suite(name="phi", dataset="phi", scribes=["reference"], concurrency=2,
                     judge={"model": "openai/phi-judge", "api_base": stub.api_base})
        (rid_a,) = run_suite(base, store, label="a", progress=False)
        rep = Suite(name="phi-replay", dataset="phi", scribes=["replay"], concurrency=2,
                    scribe_options={"replay": {"path": str(replay)}})
        (rid_b,) = run_suite(rep, store, label="b", progress=False)
        asr = Suite(name="phi-asr", dataset="phi-audio", scribes=["whisper+rules"], concurrency=1,
                    scribe_options={"whisper": {"beam_size": 1}})
        (rid_c,) = run_suite(asr, store, label="c", progress=False)
    sessions = store.run_sessions(rid_b)
    assert (sessions.status == "failed").sum() == 2  # the broken rows failed, with messages
    for e in sessions.error.dropna():
        check("stored session error", e)
    assert store.run_sessions(rid_c).status.eq("ok").all()
    comparison = compare_runs(store, rid_a, rid_b, n_resamples=200)
    check("compare markdown", to_markdown(comparison))
    gate = tmp_path / "gate.yaml"
    gate.write_text("checks:\n  - {name: adherence, check: adherence >= 0}\n  - {name: halluc, check: hallucination_rate <= 1}\n")
    run_gate(store, rid_b, gate, baseline=rid_a)

    # ---- CLI: run, runs, judge, wer (good and broken lines), compare, gate
    suite_yaml = tmp_path / "suite.yaml"
    suite_yaml.write_text(yaml.safe_dump({"name": "phi-cli", "dataset": "phi", "scribes": ["reference", "replay"],
                                          "scribe_options": {"replay": {"path": str(replay)}}}))
    calls = [("run", str(suite_yaml), "--db", str(db), "--label", "cli"), ("runs", "--db", str(db))]
    transcript = " \n".join(f"[{t.speaker.value.lower()}] {t.text}" for t in cons[0].turns)
    note = cons[0].reference_note.to_text()
    cases = tmp_path / "cases.jsonl"
    cases.write_text("\n".join([
        json.dumps({"id": "ok", "transcript": transcript, "note": note}),
        json.dumps({"id": "no-tag", "transcript": f"{NAME} has {REMEDY}", "note": note}),
        json.dumps({"id": "bad-note", "transcript": transcript, "note": {"x": f"{NAME}"}}),
        f'{{"id": "broken", "transcript": "{NAME} {REMEDY}", "note": ',
        json.dumps({"id": "bad-turn", "transcript": [{"speaker": "doctor", "text": NAME, "start": REMEDY}],
                    "note": note}),
    ]) + "\n")
    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join([
        json.dumps({"id": "ok", "reference": transcript, "hypothesis": f"{NAME} {REMEDY} sore throat"}),
        json.dumps({"id": "bad", "reference": [{"speaker": "doctor", "text": NAME, "end": REMEDY}],
                    "hypothesis": REMEDY}),
        json.dumps({"id": "terms", "reference": NAME, "hypothesis": REMEDY, "terms": [NAME, 3]}),
        f'{{"id": "broken", "reference": "{NAME}"',
    ]) + "\n")
    calls += [("judge", "--input", str(cases), "--output", str(tmp_path / "findings.jsonl"), "--db", str(db)),
              ("wer", "--input", str(pairs), "--output", str(tmp_path / "wer.jsonl")),
              ("compare", "a", "b", "--db", str(db), "--markdown", str(tmp_path / "cmp.md")),
              ("gate", "b", "--config", str(gate), "--baseline", "a", "--db", str(db),
               "--junit", str(tmp_path / "gate.xml"), "--markdown", str(tmp_path / "gate.md"))]
    for args in calls:
        res = _cli(*args)
        assert "Traceback" not in res.stderr, (args[0], res.stderr[-1500:])
        check(f"evalkit {args[0]} stderr", res.stderr)
        if args[0] in ("run", "runs", "compare", "gate"):
            check(f"evalkit {args[0]} stdout", res.stdout)
    judged = (tmp_path / "findings.jsonl").read_text()
    assert _has_canary(judged)  # the judge's output is data and carries the text; its errors do not
    for f in ("cmp.md", "gate.md", "gate.xml"):
        check(f, (tmp_path / f).read_text())

    logs = all_logs()
    assert len(logs) > 10, "nothing was logged: the capture is not working"
    for rec in logs:
        check("log record", rec)
    assert not leaks, leaks[:10]
