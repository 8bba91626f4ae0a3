"""Two writer processes on one DuckDB file lose no annotation; the app says "busy" instead of crashing."""

from __future__ import annotations

import multiprocessing as mp
import subprocess
import sys
import time

import pytest
from streamlit.testing.v1 import AppTest

from evalkit.schema import Annotation
from evalkit.store import Store

from .apptest_util import open_app

N = 12


def _writer(db: str, who: str, n: int) -> None:
    store = Store(db, busy_timeout=120)
    for i in range(n):
        store.add_annotation(Annotation(session_id="r:c", reviewer=who, kind="comment", payload={"i": i}),
                             run_id="r")


@pytest.mark.slow
def test_two_writer_processes_lose_no_annotation(tmp_path):
    db = str(tmp_path / "c.duckdb")
    Store(db).schema_version()  # create the file first
    ctx = mp.get_context("fork")  # spawn re-imports evalkit in each child: slow on a busy machine
    procs = [ctx.Process(target=_writer, args=(db, who, N)) for who in ("dr.ada", "dr.bob")]
    for p in procs:
        p.start()
    for p in procs:
        p.join(180)
        assert p.exitcode == 0
    notes = Store(db).annotations(session_id="r:c")
    assert len(notes) == 2 * N
    for who in ("dr.ada", "dr.bob"):
        assert sorted(a.payload["i"] for a in notes if a.reviewer == who) == list(range(N))


HOLD = """
import duckdb, sys, time
for _ in range(300):  # like a CLI run's Store: wait while the app keeps the file open (keep_open)
    try:
        con = duckdb.connect(sys.argv[1])
        break
    except duckdb.Error:
        time.sleep(0.1)
con.execute("BEGIN TRANSACTION")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.execute("COMMIT")
con.close()
"""


def _hold_lock(db, seconds: float) -> subprocess.Popen:
    p = subprocess.Popen([sys.executable, "-c", HOLD, str(db), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert p.stdout.readline().strip() == "locked"
    return p


def _logged_in(db, monkeypatch) -> AppTest:
    monkeypatch.setenv("EVALKIT_DB", str(db))
    at = open_app("dr.ada")
    assert [t.value for t in at.title] == ["Review queue"]
    return at


def test_app_shows_busy_while_a_run_writes_then_recovers(demo, monkeypatch):
    at = _logged_in(demo["db"], monkeypatch)
    holder = _hold_lock(demo["db"], 2.5)
    try:
        t0 = time.monotonic()
        at.run()
        waited = time.monotonic() - t0
    finally:
        holder.wait(30)
    assert not at.exception
    assert any("database is busy" in t.value for t in at.toast)
    assert [t.value for t in at.title] == ["Review queue"] and waited > 1.0


def test_app_reports_a_database_that_stays_busy(demo, monkeypatch):
    monkeypatch.setenv("EVALKIT_APP_BUSY_TIMEOUT", "1")
    at = _logged_in(demo["db"], monkeypatch)
    holder = _hold_lock(demo["db"], 6)
    try:
        at.run()
    finally:
        holder.wait(30)
    assert not at.exception
    assert any("stayed busy" in e.value for e in at.error)
