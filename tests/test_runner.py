"""The runner: resumable without duplicates, cached, failures recorded and the run goes on."""

from __future__ import annotations

import threading

import pytest

from evalkit.errors import InputError
from evalkit.run.runner import run_suite
from evalkit.schema import Note, NoteSection, NoteSentence
from evalkit.scribes import register
from evalkit.run.suite import FlagRule, Suite, load_suite
from tests.conftest import make_consultation

CALLS: dict[str, int] = {}
_lock = threading.Lock()


class CountingWriter:
    """A note writer that copies the first turn and counts its calls; fails on ids containing 'bad'."""

    name = "counting"
    version = "1"

    def write(self, turns, item):
        with _lock:
            CALLS[item.consultation.id] = CALLS.get(item.consultation.id, 0) + 1
        if "bad" in item.consultation.id:
            raise InputError(item.consultation.id, "transcript", "garbage from backend", "fix the backend")
        return Note(sections=[NoteSection(key="plan", title="PLAN", sentences=[
            NoteSentence(id="plan.0", text="Review in four weeks.", evidence=[9])])])


register("counting")(CountingWriter)


@pytest.fixture
def loaded(store):
    CALLS.clear()
    store.put_consultations([make_consultation(f"case-{i:02d}") for i in range(12)]
                            + [make_consultation("case-bad")])
    return store


def _suite(**kw) -> Suite:
    return Suite(name="t", dataset="unit", scribes=["counting"], metrics=[], concurrency=2,
                 flag_rules=[FlagRule(name="slow", metric="latency_s", op=">", value=100)], **kw)


def test_failed_case_recorded_and_run_goes_on(loaded):
    (rid,) = run_suite(_suite(), loaded, progress=False)
    sessions = loaded.run_sessions(rid)
    assert len(sessions) == 13
    bad = sessions[sessions.consultation_id == "case-bad"].iloc[0]
    assert bad.status == "failed"
    assert "garbage from backend" in bad.error and "fix:" in bad.error
    assert (sessions[sessions.consultation_id != "case-bad"].status == "ok").all()


def test_killed_run_resumes_without_duplicates(loaded):
    seen = []

    def interrupt(res):
        seen.append(res)
        if len(seen) == 9:
            raise KeyboardInterrupt  # as if the process were killed mid-run

    with pytest.raises(KeyboardInterrupt):
        run_suite(_suite(), loaded, progress=False, on_result=interrupt)
    rid = loaded.list_runs().run_id.iloc[0]
    assert 0 < len(loaded.done_sessions(rid)) < 13
    (rid2,) = run_suite(_suite(), loaded, progress=False)
    assert rid2 == rid
    sessions = loaded.run_sessions(rid)
    assert len(sessions) == 13 and sessions.session_id.is_unique
    scores = loaded.scores_frame([rid])
    assert scores.groupby(["session_id", "metric"]).size().max() == 1  # no duplicated score


def test_rerunning_finished_suite_makes_no_new_calls(loaded):
    run_suite(_suite(), loaded, progress=False)
    before = dict(CALLS)
    run_suite(_suite(), loaded, progress=False)  # same run: nothing to do
    assert CALLS == before
    run_suite(_suite(), loaded, progress=False, fresh=True)  # new run, outputs from the cache
    # every successful case came from the cache; only the failed one (never cached) is retried
    assert {k: v for k, v in CALLS.items() if k != "case-bad"} == {k: v for k, v in before.items() if k != "case-bad"}
    assert CALLS["case-bad"] == before["case-bad"] + 1
    assert len(loaded.list_runs()) == 2


def test_unknown_dataset_is_a_clear_error(store):
    with pytest.raises(InputError, match="no consultations"):
        run_suite(_suite(), store, progress=False)


def test_suite_errors_name_file_and_field(tmp_path):
    p = tmp_path / "s.yaml"
    p.write_text("name: x\nscribes: [reference]\nmetrics: [wer, bleu]\n")
    with pytest.raises(InputError) as e:
        load_suite(p)
    msg = str(e.value)
    assert str(p) in msg and "metrics" in msg and "bleu" in msg and "\n" not in msg
    p.write_text("name: x\ntemplate: NOPE\n")
    with pytest.raises(InputError, match="unknown template 'NOPE'"):
        load_suite(p)
    p.write_text("name: [unclosed\n")
    with pytest.raises(InputError, match="line"):
        load_suite(p)


def test_db_in_a_missing_folder_is_one_clear_line(tmp_path):
    from typer.testing import CliRunner

    from evalkit.cli import app

    r = CliRunner().invoke(app, ["runs", "--db", str(tmp_path / "nowhere" / "x.duckdb")])
    assert r.exit_code == 2
    out = r.output.strip()
    assert "does not exist" in out and "fix:" in out and "Traceback" not in out and len(out.splitlines()) == 1


def test_damaged_stored_case_fails_alone_and_the_run_goes_on(loaded):
    import duckdb

    with duckdb.connect(str(loaded.path)) as con:  # as if a disk error or a bad manual edit broke one row
        con.execute("UPDATE consultations SET data = '{\"id\": \"case-03\", \"turns\": 7}' WHERE id = 'case-03'")
    (rid,) = run_suite(_suite(), loaded, progress=False)
    sessions = loaded.run_sessions(rid).set_index("consultation_id")
    assert len(sessions) == 13
    assert sessions.loc["case-03", "status"] == "failed"
    assert "case-03" in sessions.loc["case-03", "error"] and "fix:" in sessions.loc["case-03", "error"]
    assert (sessions.drop(index=["case-03", "case-bad"]).status == "ok").all()


def test_flush_every_from_the_environment(loaded, monkeypatch):
    from evalkit.store import Store

    writes = []
    real = Store.write_results

    def counting(self, run_id, results, cache=None):
        writes.append(len(results))
        return real(self, run_id, results, cache)

    monkeypatch.setattr(Store, "write_results", counting)
    monkeypatch.setenv("EVALKIT_FLUSH_EVERY", "5")
    run_suite(_suite(), loaded, progress=False)
    assert sum(writes) == 13 and max(writes) <= 5 and len(writes) >= 3
    monkeypatch.setenv("EVALKIT_FLUSH_EVERY", "lots")
    with pytest.raises(InputError, match="EVALKIT_FLUSH_EVERY"):
        run_suite(_suite(), loaded, progress=False, fresh=True)


@pytest.mark.parametrize("columns", ["80", "200"])  # one column per run, and one row per run
def test_runs_lists_a_run_without_a_label(loaded, monkeypatch, columns):
    import json

    from typer.testing import CliRunner

    from evalkit.cli import app

    (rid,) = run_suite(_suite(), loaded, progress=False)  # no label: NULL in the database
    run_suite(_suite(), loaded, progress=False, label="candidate")  # beside a labelled run, NULL reads back as NaN
    monkeypatch.setenv("COLUMNS", columns)
    r = CliRunner().invoke(app, ["runs", "--db", str(loaded.path)])
    assert r.exit_code == 0, r.output
    assert rid in r.output.replace("\n", "") or rid[:8] in r.output
    r = CliRunner().invoke(app, ["runs", "--db", str(loaded.path), "--json"])
    assert r.exit_code == 0 and {x["label"] for x in json.loads(r.output)} == {None, "candidate"}


def test_cases_stream_across_chunks_with_one_executor_call(loaded, monkeypatch):
    import evalkit.run.runner as runner

    monkeypatch.setattr(runner, "CHUNK", 4)  # 13 cases: 4 chunks, loaded as the executor asks for more
    calls = []

    class Recording(runner.LocalExecutor):
        def map_unordered(self, fn, items):
            calls.append(len(items))
            return super().map_unordered(fn, items)

    (rid,) = run_suite(_suite(), loaded, executor=Recording(2), progress=False)
    assert calls == [13]  # one stream, its size known up front (the Ray executor sizes its last batches by it)
    sessions = loaded.run_sessions(rid)
    assert len(sessions) == 13 and sessions.session_id.is_unique
    assert sum(CALLS.values()) == 13  # every case once
    # a fresh run of the same inputs takes every output from the cache, across all chunks
    CALLS.clear()
    (rid2,) = run_suite(_suite(), loaded, executor=Recording(2), progress=False, fresh=True)
    assert rid2 != rid and CALLS == {"case-bad": 1}  # failures are not cached: only the bad case runs again
    assert len(loaded.run_sessions(rid2)) == 13
