"""A CLI run writes while two reviewer processes annotate the same DuckDB file.

DuckDB lets one process at a time hold a file for writing, so the three processes take turns:
each store call waits and retries ("database busy, retrying") instead of failing. Checked:
the run finishes with every session, no annotation is lost or duplicated, nobody crashes, the
busy path is visible as a clear message — and a database that stays busy ends in one clear
line, not a traceback.
"""

from __future__ import annotations

import json
import multiprocessing as mp
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalkit.run.runner import run_suite
from evalkit.store import Store
from evalkit.run.suite import Suite
from evalkit.synth import generate, load_cards

EVALKIT = Path(sys.executable).with_name("evalkit")
MIN_NOTES = 25

HOLD = """
import duckdb, sys, time
con = duckdb.connect(sys.argv[1])
con.execute("BEGIN TRANSACTION")
con.execute("CREATE TABLE IF NOT EXISTS _hold (x INTEGER)")
print("locked", flush=True)
time.sleep(float(sys.argv[2]))
con.execute("COMMIT")
con.close()
"""


def _reviewer(db: str, name: str, sessions: list[str], stop: str, out: str) -> None:
    """Annotate sessions in turn until told to stop (and at least MIN_NOTES); report what was saved."""
    from evalkit.review import queue as review
    from evalkit.review.auth import User

    busy: list[str] = []
    store = Store(db, busy_timeout=120, on_busy=busy.append)
    user = User(name, "clinician")
    saved = []
    i = 0
    while i < MIN_NOTES or not os.path.exists(stop):
        sid = sessions[i % len(sessions)]
        review.comment(store, user, sid, f"note {i} from {name}")
        saved.append(i)
        if i == 0:
            Path(out + ".ready").touch()  # writing already: the run starts now, so the processes overlap
        i += 1
        time.sleep(0.02)
    Path(out).write_text(json.dumps({"saved": saved, "busy": busy}))


def _cases(db: Path, n: int) -> None:
    Store(db).put_consultations(generate(load_cards(), n, 3, None, dataset="cw"))


@pytest.mark.slow
def test_cli_run_and_two_reviewers_share_the_database(tmp_path):
    db = tmp_path / "shared.duckdb"
    _cases(db, 80)
    suite = Suite(name="cw", dataset="cw", scribes=["reference"], metrics=["wer", "adherence", "hallucination"])
    (base,) = run_suite(suite, Store(db), label="baseline", progress=False)
    sessions = list(Store(db).run_sessions(base).session_id)
    suite_path = tmp_path / "suite.yaml"
    suite_path.write_text("name: cw\ndataset: cw\nscribes: [reference]\nmetrics: [wer, adherence, hallucination]\n")

    stop = tmp_path / "stop"
    ctx = mp.get_context("spawn")
    outs = {who: tmp_path / f"{who}.json" for who in ("dr.ada", "dr.bob")}
    reviewers = [ctx.Process(target=_reviewer, args=(str(db), who, sessions, str(stop), str(out)))
                 for who, out in outs.items()]
    for p in reviewers:
        p.start()
    deadline = time.monotonic() + 120  # spawned reviewers import evalkit first; a cached run is over in a second
    while not all(Path(f"{out}.ready").exists() for out in outs.values()) and time.monotonic() < deadline:
        time.sleep(0.05)
    # a transaction every 4 sessions: the run takes the lock as often as a long run does
    run = subprocess.run([str(EVALKIT), "run", str(suite_path), "--db", str(db), "--label", "candidate"],
                         capture_output=True, text=True, timeout=900,
                         env={**os.environ, "COLUMNS": "200", "EVALKIT_FLUSH_EVERY": "4"})
    stop.touch()
    for p in reviewers:
        p.join(300)
        assert p.exitcode == 0, f"reviewer process crashed (exit {p.exitcode})"
    assert run.returncode == 0, run.stderr[-2000:]
    assert "Traceback" not in run.stderr

    store = Store(db)
    cand = store.resolve_run("candidate")
    s = store.run_sessions(cand)
    assert len(s) == 80 and s.session_id.is_unique and (s.status == "ok").all()

    notes = [a for a in store.annotations() if a.kind == "comment"]
    busy = [line for line in run.stderr.splitlines() if "busy" in line]
    for who, out in outs.items():
        report = json.loads(out.read_text())
        mine = sorted(int(a.payload["text"].split()[1]) for a in notes if a.reviewer == who)
        assert mine == report["saved"] and len(mine) >= MIN_NOTES  # every saved note is there, once
        busy += report["busy"]
    # the processes did collide, and said so in one clear line each time
    assert busy, "no process ever waited for the lock: the test did not exercise contention"
    assert all("database busy, retrying" in b and "\n" not in b for b in busy), busy[:3]


def test_a_held_lock_makes_the_cli_wait_then_succeed(tmp_path):
    db = tmp_path / "held.duckdb"
    _cases(db, 4)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db), "4"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        res = subprocess.run([str(EVALKIT), "runs", "--db", str(db), "--json"], capture_output=True, text=True,
                             timeout=300)
    finally:
        holder.wait(60)
    assert res.returncode == 0, res.stderr
    assert "database busy, retrying" in res.stderr and "Traceback" not in res.stderr
    assert json.loads(res.stdout) == []


def test_a_database_that_stays_busy_is_one_clear_error(tmp_path):
    db = tmp_path / "stuck.duckdb"
    _cases(db, 2)
    holder = subprocess.Popen([sys.executable, "-c", HOLD, str(db), "15"], stdout=subprocess.PIPE, text=True)
    try:
        assert holder.stdout.readline().strip() == "locked"
        res = subprocess.run([str(EVALKIT), "runs", "--db", str(db)], capture_output=True, text=True, timeout=300,
                             env={**os.environ, "EVALKIT_BUSY_TIMEOUT": "1"})
    finally:
        holder.kill()
        holder.wait(30)
    assert res.returncode == 2, (res.returncode, res.stderr)
    errors = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert len(errors) == 1 and str(db) in errors[0] and "fix:" in errors[0], res.stderr
    assert "Traceback" not in res.stderr
    assert Store(db).list_consultations("cw")  # nothing was damaged
