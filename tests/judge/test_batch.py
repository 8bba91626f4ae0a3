"""Batch mode (issue 20): ``evalkit judge --batch`` and ``judge: {batch: true}`` through a loopback
files + batches stub (:mod:`evalkit.testing.stub_batch`): same findings as live judging, resume after
a kill with no request paid twice, partial failure, expiry, the batch price, bad options."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.testing.stub_batch import StubBatch

TRANSCRIPT = "[doctor] any chest pain?\n[patient] no chest pain. i take metformin 500 mg twice a day.\n" \
             "[doctor] we will check your hba1c today."
NOTE = "SUBJECTIVE\n\nDenies chest pain. Takes metformin 500 mg twice daily.\n\nPLAN\n\nCheck HbA1c."
ROOT = Path(__file__).resolve().parents[2]


def write_cases(path: Path, n: int) -> Path:
    path.write_text("".join(json.dumps({"id": f"case-{i}", "transcript": TRANSCRIPT,
                                        "note": NOTE.replace("HbA1c", f"HbA1c ({i})")}) + "\n" for i in range(n)))
    return path


def _out(path: Path) -> list[dict]:
    return [json.loads(x) for x in path.read_text().splitlines()]


def judge_args(cases: Path, out: Path, db: Path, api_base: str, *extra: str, model: str = "openai/stub") -> list[str]:
    return ["judge", "-i", str(cases), "-o", str(out), "-j", model, "--api-base", api_base, "--db", str(db), *extra]


BATCH = ["--batch", "--batch-poll", "0.05"]


@pytest.fixture
def cases(tmp_path):
    return write_cases(tmp_path / "cases.jsonl", 6)


def _live_then_batch(cases, tmp_path, live, batched):
    """Judge ``cases`` live through ``live`` (to live.jsonl), then in batch mode through ``batched``
    (to b.jsonl); returns the batch run's CLI result."""
    r = CliRunner().invoke(app, judge_args(cases, tmp_path / "live.jsonl", tmp_path / "live.duckdb", live.api_base))
    assert r.exit_code == 0, r.output
    r = CliRunner().invoke(app, judge_args(cases, tmp_path / "b.jsonl", tmp_path / "b.duckdb", batched.api_base,
                                           *BATCH))
    assert r.exit_code == 0, r.output
    return r


def test_batch_gives_the_findings_of_live_judging_with_the_same_request_bodies(cases, tmp_path):
    with StubBatch(duration=0.2, step=0.05) as live, StubBatch(duration=0.2, step=0.05) as batched:
        r = _live_then_batch(cases, tmp_path, live, batched)
        flat = r.output.replace("\n", " ")
        assert "1 batch(es) (0 resumed), 6 request(s) submitted, 6 collected" in flat
        assert "no price known for the model" in flat  # openai/stub: tokens only, never a made-up $0
        assert _out(tmp_path / "b.jsonl") == _out(tmp_path / "live.jsonl")
        assert live.stats()["live_calls"] == 6 and live.stats()["batch_requests"] == 0
        s = batched.stats()
        assert (s["batch_requests"], s["live_calls"], s["duplicates"]) == (6, 0, 0)
        # a batch request carries the body a live call sends (the stub charges by body hash)
        assert set(batched.state.charged) == set(live.state.charged)
        # a re-run is all cache hits: nothing submitted, nothing paid
        r = CliRunner().invoke(app, judge_args(cases, tmp_path / "b2.jsonl", tmp_path / "b.duckdb",
                                               batched.api_base, *BATCH))
        assert r.exit_code == 0, r.output
        assert batched.stats() == s and "0 batch(es)" in r.output
        assert _out(tmp_path / "b2.jsonl") == _out(tmp_path / "live.jsonl")


def test_resume_after_the_process_is_killed_between_submit_and_completion(cases, tmp_path):
    from evalkit.store import Store

    out, db = tmp_path / "out.jsonl", tmp_path / "j.duckdb"
    with StubBatch(duration=3.0, step=0.2) as stub:
        env = {**os.environ, "EVALKIT_PURE": "1"}
        proc = subprocess.Popen([sys.executable, "-c", "from evalkit.cli import main; main()", *judge_args(cases, out, db, stub.api_base,
                                                                                   *BATCH, "-q")],
                                cwd=ROOT, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
        try:
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                assert proc.poll() is None, proc.stderr.read().decode() if proc.stderr else ""
                if stub.stats()["batches"] and db.exists():
                    rows = Store(db, busy_timeout=30).batches()
                    if rows and rows[0]["batch_id"]:
                        break
                time.sleep(0.1)
            else:
                pytest.fail("the batch never reached the store")
            proc.send_signal(signal.SIGKILL)
            proc.wait(10)
        finally:
            if proc.poll() is None:
                proc.kill()
        [row] = Store(db).batches()
        assert row["state"] not in ("completed", "expired") and row["collected_at"] is None
        assert not out.exists() or _out(out) == []  # killed before anything was written
        r = CliRunner().invoke(app, judge_args(cases, out, db, stub.api_base, *BATCH))
        assert r.exit_code == 0, r.output
        assert "1 batch(es) (1 resumed), 0 request(s) submitted, 6 collected" in r.output.replace("\n", " ")
        s = stub.stats()
        assert (s["batches"], s["batch_requests"], s["live_calls"]) == (1, 6, 0)
        assert s["duplicates"] == 0 and s["custom_id_duplicates"] == 0
    assert [x["id"] for x in _out(out)] == [f"case-{i}" for i in range(6)]
    assert not any(x.get("error") for x in _out(out))
    [row] = Store(db).batches()
    assert row["state"] == "completed" and row["collected_at"] is not None
    assert Store(db).llm_call_summary()["calls"] == 6  # one llm_calls row per request, not two


def test_resume_finds_a_batch_created_before_its_id_was_stored(cases, tmp_path):
    """A kill between the provider creating the batch and evalkit storing its id: the batch is found by
    the submission id sent as metadata, and collected — not submitted again."""
    from evalkit.llm.batch import BatchOptions, run_batched
    from evalkit.llm.judge import make_llm_judge
    from evalkit.llm.litellm_import import litellm_module
    from evalkit.store import Store

    from evalkit.cli.judge import _judge_llm, read_cases

    store = Store(tmp_path / "j.duckdb")
    rows = [rec for _, rec, _ in read_cases(cases)]
    with StubBatch(duration=0.2, step=0.05) as stub:
        j = make_llm_judge({"model": "openai/stub", "api_base": stub.api_base}, store=store)
        work = lambda: _judge_llm(j, rows, False)  # noqa: E731
        try:
            # a first process: everything up to the provider's answer to "create batch", then killed
            from evalkit.llm import batch as batch_mod

            col = batch_mod._Collector()
            j.client.defer = col
            work()
            j.client.defer = None
            b = batch_mod._Batches(j.client, j.spec, BatchOptions(poll=0.05, progress=False), batch_mod.BatchReport())
            reqs = list(col.requests.values())
            store.batch_add("evalkit-lost", j.spec.model, j.spec.api_base, {d.key: d.purpose for d in reqs})
            lt = litellm_module()

            async def create() -> None:
                f = await lt.acreate_file(file=("x.jsonl", b._lines(reqs), "application/jsonl"), purpose="batch",
                                          **b.kw)
                await lt.acreate_batch(completion_window="24h", endpoint="/v1/chat/completions", input_file_id=f.id,
                                       metadata={"evalkit_submission": "evalkit-lost"}, **b.kw)

            j.client.run(create())
            (lines, _), report = run_batched(j.client, work, BatchOptions(poll=0.05, progress=False))
        finally:
            j.client.close()
        assert (report.resumed, report.submitted, report.collected) == (1, 0, 6)
        assert stub.stats()["batches"] == 1 and stub.stats()["duplicates"] == 0
    assert not any(x.get("error") for x in lines) and len(lines) == 6


def test_partly_failed_batch_is_finished_live_and_recorded(cases, tmp_path):
    from evalkit.store import Store

    out, db = tmp_path / "out.jsonl", tmp_path / "j.duckdb"
    with StubBatch(duration=0.2, step=0.05, fail_every=3) as stub:
        r = CliRunner().invoke(app, judge_args(cases, out, db, stub.api_base, *BATCH))
        assert r.exit_code == 0, r.output
        flat = r.output.replace("\n", " ")
        assert "6 request(s) submitted, 4 collected, 2 failed or expired, 2 made live afterwards" in flat
        s = stub.stats()
        assert (s["batch_requests"], s["failed"], s["live_calls"], s["duplicates"]) == (4, 2, 2, 0)
    assert [x["id"] for x in _out(out)] == [f"case-{i}" for i in range(6)]
    assert not any(x.get("error") for x in _out(out))
    [row] = Store(db).batches()
    assert row["state"] == "completed" and len(row["failed_keys"]) == 2
    with Store(db).connect() as con:
        errors = [e for (e,) in con.execute("SELECT error FROM llm_calls WHERE error IS NOT NULL").fetchall()]
    assert errors == ["openai/stub: batch request HTTP 500"] * 2


def test_partly_failed_batch_with_leftovers_skipped_names_them_and_a_rerun_resubmits(cases, tmp_path):
    out, db = tmp_path / "out.jsonl", tmp_path / "j.duckdb"
    with StubBatch(duration=0.2, step=0.05, fail_every=3) as stub:
        r = CliRunner().invoke(app, judge_args(cases, out, db, stub.api_base, *BATCH, "--batch-leftovers", "skip"))
        assert r.exit_code == 1, r.output
        errs = [x for x in _out(out) if x.get("error")]
        assert [x["id"] for x in errs] == ["case-2", "case-5"]
        assert all("--batch-leftovers skip" in x["error"] for x in errs)
        assert stub.stats()["live_calls"] == 0
        stub.state.fail_every = 0
        r = CliRunner().invoke(app, judge_args(cases, out, db, stub.api_base, *BATCH, "--batch-leftovers", "skip"))
        assert r.exit_code == 0, r.output
        assert "2 request(s) submitted, 2 collected" in r.output.replace("\n", " ")
        s = stub.stats()
        assert (s["batches"], s["batch_requests"], s["live_calls"], s["duplicates"]) == (2, 6, 0, 0)
    assert not any(x.get("error") for x in _out(out))


def test_expired_batch_keeps_what_came_back_and_finishes_live(cases, tmp_path):
    from evalkit.store import Store

    out, db = tmp_path / "out.jsonl", tmp_path / "j.duckdb"
    with StubBatch(duration=0.2, step=0.05, expire=True) as stub:
        r = CliRunner().invoke(app, judge_args(cases, out, db, stub.api_base, *BATCH))
        assert r.exit_code == 0, r.output
        assert "3 collected, 3 failed or expired, 3 made live afterwards" in r.output.replace("\n", " ")
        s = stub.stats()
        assert (s["batch_requests"], s["live_calls"], s["duplicates"]) == (3, 3, 0)
    [row] = Store(db).batches()
    assert row["state"] == "expired" and len(row["failed_keys"]) == 3
    assert not any(x.get("error") for x in _out(out)) and len(_out(out)) == 6


def test_cost_is_recorded_at_half_the_live_price(cases, tmp_path):
    """litellm's batch rates for a model that has them (gpt-4o-mini: half its live rates)."""
    from evalkit.llm.spec import ModelSpec
    from evalkit.llm.transport import price
    from evalkit.store import Store

    with StubBatch(duration=0.2, step=0.05) as stub:
        for name, extra in (("live", ()), ("batch", BATCH)):
            r = CliRunner().invoke(app, judge_args(cases, tmp_path / f"{name}.jsonl", tmp_path / f"{name}.duckdb",
                                                   stub.api_base, *extra, model="openai/gpt-4o-mini"))
            assert r.exit_code == 0, r.output
            if name == "batch":
                assert f"${Store(tmp_path / 'batch.duckdb').llm_call_summary()['cost_usd']:.4f} at the batch price" \
                    in r.output.replace("\n", " ")
    live, batch = (Store(tmp_path / f"{n}.duckdb").llm_call_summary() for n in ("live", "batch"))
    assert live["calls"] == batch["calls"] == 6
    assert (live["prompt_tokens"], live["completion_tokens"]) == (batch["prompt_tokens"], batch["completion_tokens"])
    assert live["cost_usd"] > 0
    assert batch["cost_usd"] == pytest.approx(live["cost_usd"] / 2, rel=1e-9)
    spec = ModelSpec(model="openai/gpt-4o-mini")
    assert live["cost_usd"] == pytest.approx(price(spec, None, live["prompt_tokens"], live["completion_tokens"]))


def test_batch_price_without_litellm_batch_rates_is_half_the_spec_price():
    from evalkit.llm.batch import batch_price
    from evalkit.llm.spec import ModelSpec

    spec = ModelSpec(model="openai/private", input_cost_per_token=2e-6, output_cost_per_token=8e-6)
    assert batch_price(spec, 1000, 100) == pytest.approx((1000 * 2e-6 + 100 * 8e-6) / 2)
    assert batch_price(ModelSpec(model="openai/unknown-private-model"), 1000, 100) is None


def test_suite_judge_in_batch_mode_stores_the_findings_of_live_judging(store, tmp_path):
    from evalkit.run.runner import run_suite
    from evalkit.run.suite import Suite
    from evalkit.store import Store
    from evalkit.synth import generate, load_cards

    cons = generate(load_cards(), 3, seed=5, dataset="b")
    found, stubs = {}, {"live": StubBatch(duration=0.2, step=0.05), "batch": StubBatch(duration=0.2, step=0.05)}
    with stubs["live"], stubs["batch"]:
        for mode, stub in stubs.items():
            st = Store(tmp_path / f"{mode}.duckdb")
            st.put_consultations(cons)
            judge = {"model": "openai/stub", "api_base": stub.api_base}
            if mode == "batch":
                judge.update(batch=True, batch_poll=0.05)
            suite = Suite(name="b", dataset="b", scribes=["reference"], metrics=["hallucination"], judge=judge)
            [rid] = run_suite(suite, st, progress=False)
            sessions = st.run_sessions(rid)
            assert list(sessions["status"]) == ["ok"] * 3, sessions["error"].tolist()
            found[mode] = sorted((d.session_id.split(":")[-1], f.kind, f.sentence_id, f.verdict)
                                 for sid in sessions["session_id"]
                                 for d in [_Detail(sid, st.session_detail(sid))] for f in d.findings)
            if mode == "batch":
                [row] = st.batches()
                assert row["state"] == "completed" and row["run_id"] == rid
        live, batch = stubs["live"].stats(), stubs["batch"].stats()
        assert live["live_calls"] == batch["batch_requests"] > 0 and batch["live_calls"] == 0
        assert batch["duplicates"] == 0 and set(stubs["live"].state.charged) == set(stubs["batch"].state.charged)
    assert found["batch"] == found["live"] and found["live"]


class _Detail:
    def __init__(self, sid: str, detail: dict):
        self.session_id, self.findings = sid, detail["findings"]


@pytest.mark.parametrize("extra, message", [
    (["--batch-leftovers", "later"], "--batch-leftovers: 'later' is not a choice — fix: use live or skip"),
    (["--batch-poll", "0"], "--batch-poll: 0.0 is not a positive number of seconds"),
    (["--max-cost", "1"], "--batch: --max-cost and --max-calls limit live calls, not batches"),
    (["--processes", "2"], "--batch: runs in one process"),
])
def test_bad_batch_option_is_one_line(cases, tmp_path, extra, message):
    r = CliRunner().invoke(app, judge_args(cases, tmp_path / "o.jsonl", tmp_path / "j.duckdb",
                                           "http://127.0.0.1:9/v1", "--batch", *extra))
    assert r.exit_code == 2
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and message in lines[0], r.output


def test_batch_without_llm_judge_and_bad_suite_option_are_one_line(cases, tmp_path):
    from evalkit.errors import InputError
    from evalkit.llm.judge import make_llm_judge

    r = CliRunner().invoke(app, ["judge", "-i", str(cases), "-o", str(tmp_path / "o.jsonl"), "--batch"])
    assert r.exit_code == 2 and "--batch: needs an LLM judge — fix: add --judge MODEL" in r.output
    with pytest.raises(InputError, match="judge: batch_leftovers: 'later' is not a choice"):
        make_llm_judge({"model": "openai/x", "batch": True, "batch_leftovers": "later"})
    with pytest.raises(InputError, match="judge: batch: expected true or false"):
        make_llm_judge({"model": "openai/x", "batch": "yes"})


def test_unreachable_batch_server_is_one_line_and_leaves_nothing_half_done(cases, tmp_path):
    from evalkit.store import Store

    db = tmp_path / "j.duckdb"
    r = CliRunner().invoke(app, judge_args(cases, tmp_path / "o.jsonl", db, "http://127.0.0.1:9/v1", *BATCH))
    assert r.exit_code == 2, r.output
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and lines[0].startswith("error: --batch: openai/stub: connection error — fix: ") and "re-run the same command" in lines[0]
    [row] = Store(db).batches()  # recorded before the upload; a re-run finds no batch and submits
    assert row["batch_id"] is None and row["state"] == "submitting"


def test_evalkit_run_in_batch_mode_and_its_errors_are_one_line(tmp_path):
    """``evalkit run`` with ``judge: {batch: true}``: judged through the batch stub, the same command again
    is all cache hits; an unreachable batch server and ``--executor ray`` are one-line errors."""
    from evalkit.store import Store
    from evalkit.synth import generate, load_cards

    db = tmp_path / "r.duckdb"
    Store(db).put_consultations(generate(load_cards(), 2, seed=3, dataset="bm"))
    suite = tmp_path / "suite.yaml"

    def write(api_base: str) -> list[str]:
        suite.write_text(json.dumps({"name": "bm", "dataset": "bm", "scribes": ["reference"],
                                     "metrics": ["hallucination"],
                                     "judge": {"model": "openai/stub", "api_base": api_base, "batch": True,
                                               "batch_poll": 0.05}}))
        return ["run", str(suite), "--db", str(db)]

    r = CliRunner().invoke(app, write("http://127.0.0.1:9/v1"))
    assert r.exit_code == 2, r.output
    lines = [x for x in r.output.splitlines() if x.strip()]
    assert len(lines) == 1 and "judge.batch: openai/stub: connection error — fix:" in lines[0], r.output
    with StubBatch(duration=0.2, step=0.05) as stub:
        base = write(stub.api_base)
        r = CliRunner().invoke(app, base + ["--fresh"])
        assert r.exit_code == 0, r.output
        [run] = [x for x in Store(db).list_runs().itertuples() if x.sessions]
        assert run.status == "finished" and run.sessions == 2 and run.failed == 0
        s = stub.stats()
        assert s["batches"] == 1 and s["live_calls"] == 0 and s["batch_requests"] > 0
        r = CliRunner().invoke(app, base + ["--fresh"])
        assert r.exit_code == 0, r.output
        assert stub.stats() == s  # nothing submitted or paid again
        r = CliRunner().invoke(app, base + ["--executor", "ray"])
        assert r.exit_code == 2 and "judge.batch: batch mode judges in the process" in r.output
        r = CliRunner().invoke(app, base + ["--max-cost", "1"])
        assert r.exit_code == 2 and "judge.batch: --max-cost and --max-calls limit live calls" in r.output


def test_a_jury_sends_one_batch_per_model_waited_for_together(cases, tmp_path):
    out, db = tmp_path / "out.jsonl", tmp_path / "j.duckdb"
    with StubBatch(duration=2.5, step=0.05) as stub:
        args = ["judge", "-i", str(cases), "-o", str(out), "-j", "openai/a", "-j", "openai/b", "--api-base",
                stub.api_base, "--db", str(db), *BATCH]
        r = CliRunner().invoke(app, args)
        assert r.exit_code == 0, r.output
        assert "2 batch(es) (0 resumed), 12 request(s) submitted, 12 collected" in r.output.replace("\n", " ")
        s = stub.stats()
        assert (s["batches"], s["batch_requests"], s["live_calls"], s["duplicates"]) == (2, 12, 0, 0)
        starts = sorted(b["created_at"] for b in stub.state.batches.values())
        assert starts[1] - starts[0] <= 1  # both submitted before either was waited for (each takes 2.6 s)
    rows = _out(out)
    assert len(rows) == 6 and not any(x.get("error") for x in rows) and all("jury" in x for x in rows)


def _first_answer_unusable(req: dict):
    """Judge replies that are not JSON the first time, valid once evalkit asks for a repair."""
    from evalkit.testing.responders import judge_responder
    from evalkit.testing.stub_replies import malformed

    if any(m.get("role") == "assistant" for m in req.get("messages", [])):
        return judge_responder(req)
    return malformed()


def test_follow_up_requests_go_in_the_next_round_and_match_live(cases, tmp_path):
    """A repair after an unusable reply is only known once the reply is in: round 2 batches the repairs."""
    with StubBatch(duration=0.2, step=0.05, responder=_first_answer_unusable) as live, \
            StubBatch(duration=0.2, step=0.05, responder=_first_answer_unusable) as batched:
        r = _live_then_batch(cases, tmp_path, live, batched)
        assert "2 batch(es) (0 resumed), 12 request(s) submitted, 12 collected" in r.output.replace("\n", " ")
        assert live.stats()["live_calls"] == 12
        s = batched.stats()
        assert (s["batches"], s["batch_requests"], s["live_calls"], s["duplicates"]) == (2, 12, 0, 0)
        assert set(batched.state.charged) == set(live.state.charged)
    assert _out(tmp_path / "b.jsonl") == _out(tmp_path / "live.jsonl")
    assert not any(x.get("error") for x in _out(tmp_path / "b.jsonl"))


def test_a_batch_cancelled_at_the_provider_is_collected_and_finished_live(cases, tmp_path):
    import threading
    import urllib.request

    from evalkit.store import Store

    out, db = tmp_path / "out.jsonl", tmp_path / "j.duckdb"
    with StubBatch(duration=2.0, step=0.05) as stub:
        def cancel_when_started() -> None:
            while True:
                started = [b for b in list(stub.state.batches.values()) if b["request_counts"]["completed"]]
                if started:
                    req = urllib.request.Request(f"{stub.api_base}/batches/{started[0]['id']}/cancel", method="POST")
                    urllib.request.urlopen(req, timeout=5).read()
                    return
                time.sleep(0.02)

        t = threading.Thread(target=cancel_when_started, daemon=True)
        t.start()
        r = CliRunner().invoke(app, judge_args(cases, out, db, stub.api_base, *BATCH))
        t.join(5)
        assert r.exit_code == 0, r.output
        s = stub.stats()
        assert 0 < s["batch_requests"] < 6 and s["batch_requests"] + s["live_calls"] == 6 and s["duplicates"] == 0
    [row] = Store(db).batches()
    assert row["state"] == "cancelled" and len(row["failed_keys"]) == s["live_calls"]
    assert not any(x.get("error") for x in _out(out)) and len(_out(out)) == 6
