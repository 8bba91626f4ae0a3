"""The DuckDB store: schema, round trips, append-only annotations, locking between processes."""

from __future__ import annotations

import multiprocessing as mp

import pytest

from evalkit.schema import Annotation, Finding, Flag, Score, ScribeOutput
from evalkit.store import SCHEMA_VERSION, SessionResult, Store
from tests.conftest import make_consultation


def test_schema_created_and_versioned(store):
    assert store.schema_version() == SCHEMA_VERSION


def test_consultation_round_trip(store):
    c = make_consultation("rt-1")
    store.put_consultations([c])
    assert store.get_consultation("rt-1") == c
    store.put_consultations([c])  # replace, not duplicate
    assert [x.id for x in store.list_consultations("unit")] == ["rt-1"]


def test_write_results_is_idempotent_per_session(store):
    c = make_consultation("w-1")
    store.put_consultations([c])
    rid = store.create_run(run_id="r1", scribe="x", dataset="unit")
    out = ScribeOutput(consultation_id="w-1", transcript=c.turns, note=c.reference_note, backend="x")
    res = SessionResult("r1:w-1", "w-1", "x", output=out,
                        scores=[Score(session_id="r1:w-1", metric="wer", value=0.1)],
                        findings=[Finding(kind="claim", id="a#0", text="t", verdict="unsupported")],
                        flags=[Flag(session_id="r1:w-1", rule="high_wer", reason="wer 0.1 > 0")])
    store.write_results(rid, [res])
    store.write_results(rid, [res])
    assert store.done_sessions("r1") == {"w-1"}
    assert len(store.scores_frame(["r1"])) == 1
    detail = store.session_detail("r1:w-1")
    assert detail["scores"]["wer"]["value"] == pytest.approx(0.1)
    assert detail["findings"][0].verdict == "unsupported"
    assert detail["flags"][0]["rule"] == "high_wer"


def test_annotations_are_appended_never_overwritten(store):
    a1 = Annotation(session_id="s", reviewer="ana", kind="comment", payload={"text": "first"})
    a2 = Annotation(session_id="s", reviewer="ana", kind="comment", payload={"text": "second"})
    store.add_annotation(a1)
    store.add_annotation(a2)
    got = store.annotations("s")
    assert [a.payload["text"] for a in got] == ["first", "second"]


def test_resolve_run_by_label_and_latest(store):
    store.create_run(run_id="aaa", label="baseline")
    store.create_run(run_id="bbb", label="candidate")
    assert store.resolve_run("baseline") == "aaa"
    assert store.resolve_run("latest") == "bbb"
    with pytest.raises(KeyError):
        store.resolve_run("nope")


def _annotate_many(path: str, who: str, n: int) -> None:
    s = Store(path, busy_timeout=60)
    for i in range(n):
        s.add_annotation(Annotation(session_id="shared", reviewer=who, kind="comment", payload={"i": i}))


def test_two_writer_processes_lose_no_annotation(tmp_path):
    path = str(tmp_path / "conc.duckdb")
    Store(path).schema_version()
    ctx = mp.get_context("spawn")
    procs = [ctx.Process(target=_annotate_many, args=(path, who, 25)) for who in ("ana", "ben")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(120)
        assert p.exitcode == 0
    got = Store(path).annotations("shared")
    assert len(got) == 50
    for who in ("ana", "ben"):
        assert sorted(a.payload["i"] for a in got if a.reviewer == who) == list(range(25))


def _try_open(path, q):
    import duckdb

    try:
        duckdb.connect(path).close()
        q.put("opened")
    except Exception as e:  # noqa: BLE001
        q.put(type(e).__name__)


def test_holding_keeps_one_connection_and_releases_it(store, monkeypatch):
    import duckdb

    store.put_consultations([make_consultation("h-0")])
    opens = []
    real = duckdb.connect
    monkeypatch.setattr(duckdb, "connect", lambda *a, **k: (opens.append(a), real(*a, **k))[1])
    ctx = mp.get_context("spawn")
    q = ctx.Queue()
    with store.holding():
        with store.holding():  # nested: a no-op
            store.put_consultations([make_consultation("h-1")])
        with pytest.raises(RuntimeError):
            with store.connect() as con:  # a failing call inside rolls back alone
                con.execute("DELETE FROM consultations")
                raise RuntimeError("boom")
        assert sorted(store.consultation_ids("unit")) == ["h-0", "h-1"]
        p = ctx.Process(target=_try_open, args=(str(store.path), q))
        p.start()
        p.join(60)
        assert q.get(timeout=5) != "opened"  # the file is held against other processes meanwhile
    assert len(opens) == 1  # three calls, one open
    p = ctx.Process(target=_try_open, args=(str(store.path), q))
    p.start()
    p.join(60)
    assert q.get(timeout=5) == "opened"  # released on exit


def test_a_version_1_database_is_migrated_in_place(tmp_path):
    """Schema 3 (issue 18): login_attempts, a severity on each flag (filled from the default rules for
    flags written before), session_severity (filled from the scores); the data already there is kept."""
    import duckdb

    path = tmp_path / "v1.duckdb"
    con = duckdb.connect(str(path))
    con.execute("CREATE TABLE meta (key VARCHAR PRIMARY KEY, value VARCHAR)")
    con.execute("INSERT INTO meta VALUES ('schema_version', '1')")
    # the tables the migration reads, as version 1 made them
    con.execute("""CREATE TABLE sessions (session_id VARCHAR PRIMARY KEY, run_id VARCHAR, consultation_id VARCHAR,
                   scribe VARCHAR, backend_version VARCHAR, status VARCHAR, error VARCHAR, output VARCHAR,
                   input_hash VARCHAR, latency_s DOUBLE, cost_usd DOUBLE, created_at TIMESTAMPTZ)""")
    con.execute("""CREATE TABLE scores (run_id VARCHAR, session_id VARCHAR, metric VARCHAR, value DOUBLE,
                   detail VARCHAR, created_at TIMESTAMPTZ)""")
    con.execute("""CREATE TABLE flags (run_id VARCHAR, session_id VARCHAR, rule VARCHAR, reason VARCHAR,
                   created_at TIMESTAMPTZ)""")
    con.execute("INSERT INTO sessions (session_id, run_id, consultation_id, scribe, status) VALUES "
                "('r:a', 'r', 'a', 'x', 'ok'), ('r:b', 'r', 'b', 'x', 'ok'), ('r:c', 'r', 'c', 'x', 'ok')")
    con.execute("INSERT INTO flags VALUES ('r', 'r:a', 'major_omission', 'omits', now()), "
                "('r', 'r:a', 'high_wer', 'wer', now()), ('r', 'r:b', 'major_hallucination', 'invents', now()), "
                "('r', 'r:c', 'major_hallucination', 'invents', now())")
    con.execute("INSERT INTO scores VALUES ('r', 'r:b', 'major_hallucinations', 1, '{}', now()), "
                "('r', 'r:c', 'major_hallucinations', 3, '{}', now())")
    con.close()
    store = Store(path)
    assert store.schema_version() == SCHEMA_VERSION == 4
    assert store.batches_open() == []  # schema 4 (issue 20): the llm_batches table
    rows, counts = store.review_queue()
    assert rows["session_id"].tolist() == ["r:c", "r:b", "r:a"] and counts["flagged"] == 3
    assert rows["severity"].tolist() == ["high", "high", "medium"]
    assert store.login_attempts().empty
