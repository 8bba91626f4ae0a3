"""Kill -9 an ``evalkit run`` at 20 seeded random points, resume each time: nothing lost, nothing twice.

The suite is first run to completion in-process on a copy of the database (the reference).
Then ``evalkit run`` is started as a subprocess and SIGKILLed twenty times, each time resuming
the same run, at points drawn from a seeded generator: a quarter of them during start-up
(before anything is written), the rest a random fraction of a second after the run's first
write burst — while later cases are being computed, or in the middle of the next DuckDB write.
Kill points are placed by watching the database file rather than by wall-clock guesses, so they
land mid-run however busy the machine is. A final run finishes the work. Every consultation must
then have exactly one session, every session exactly one score per metric, and the scores,
findings and flags must equal the uninterrupted reference.
"""

from __future__ import annotations

import os
import random
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from evalkit.run.runner import run_id_for, run_suite
from evalkit.store import Store
from evalkit.run.suite import load_suite
from evalkit.synth import generate, load_cards

EVALKIT = Path(sys.executable).with_name("evalkit")
N_CASES = 2000  # enough work that twenty resumes, each writing 64-result batches, never finish it
FLUSH_EVERY = "64"  # results per write in the killed runs (the default, 256, would finish the work in ~8 resumes)
KILLS = 20
SEED = 20240610

SUITE = """name: kill-resume
dataset: kill
scribes: [reference]
metrics: [wer, adherence, hallucination]
concurrency: 2
"""


def _evalkit_run(suite: Path, db: Path) -> subprocess.Popen:
    return subprocess.Popen([str(EVALKIT), "run", str(suite), "--db", str(db)], stdout=subprocess.DEVNULL,
                            stderr=subprocess.PIPE, start_new_session=True, env={**os.environ, "COLUMNS": "200", "EVALKIT_FLUSH_EVERY": FLUSH_EVERY})


class FileWatch:
    """Notices bursts of writes to a DuckDB file (the file or its WAL changing)."""

    def __init__(self, path: Path):
        self.paths = (path, path.with_name(path.name + ".wal"))
        self.last = self._state()
        self.last_change: float | None = None
        self.bursts = 0

    def _state(self) -> list:
        out = []
        for p in self.paths:
            try:
                st = p.stat()
                out.append((st.st_mtime_ns, st.st_size))
            except FileNotFoundError:
                out.append(None)
        return out

    def poll(self) -> bool:
        """True when a new burst of writes started since the last poll."""
        now, state = time.monotonic(), self._state()
        if state == self.last:
            return False
        self.last = state
        new = self.last_change is None or now - self.last_change > 0.25
        self.last_change = now
        self.bursts += new
        return new


def _num(v) -> str:
    v = float(v) if v is not None else float("nan")
    return "nan" if v != v else f"{v:.9g}"


def _snapshot(store: Store, rid: str) -> dict:
    """Everything a run wrote, keyed by consultation, without timings (they differ run to run)."""
    scores = store.scores_frame([rid])
    scores = scores[scores.metric != "latency_s"]
    tables = store.export_tables(rid, include_output=False)
    cons = lambda sid: sid.split(":", 1)[1]  # noqa: E731
    return {
        "scores": sorted((r.consultation_id, r.metric, _num(r.value)) for r in scores.itertuples()),
        "findings": sorted((cons(r.session_id), r.kind, str(r.finding_id), str(r.verdict))
                           for r in tables["findings"].itertuples()),
        "flags": sorted((cons(r.session_id), r.rule) for r in tables["flags"].itertuples()),
    }


def _kill_at(proc: subprocess.Popen, db: Path, rng: random.Random, t_startup: float) -> tuple[str, float]:
    """Kill ``proc`` at a seeded random point; returns (where, seconds after start)."""
    t0 = time.monotonic()
    if rng.random() < 0.25:  # during start-up: imports, opening the store, loading the judge
        where, deadline = "start-up", t0 + rng.uniform(0.2, 0.9) * t_startup
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.005)
    else:  # a random moment after the first write burst of this resume
        where, watch, after = "mid-run", FileWatch(db), rng.uniform(0.0, 0.3)
        give_up = t0 + 300
        while proc.poll() is None and time.monotonic() < give_up:
            if watch.poll() and watch.bursts >= 2:  # burst 1 marks the run running; 2 writes sessions
                break
            time.sleep(0.003)
        deadline = time.monotonic() + after
        while time.monotonic() < deadline and proc.poll() is None:
            time.sleep(0.003)
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGKILL)
    return where, time.monotonic() - t0


@pytest.mark.slow
def test_kill_9_at_random_points_then_resume_loses_and_duplicates_nothing(tmp_path):
    db = tmp_path / "kill.duckdb"
    cons = generate(load_cards(), N_CASES, 5, None, dataset="kill")
    Store(db).put_consultations(cons)
    suite_path = tmp_path / "suite.yaml"
    suite_path.write_text(SUITE)
    suite = load_suite(suite_path)
    rid = run_id_for(suite, "reference", None)

    ref_db = tmp_path / "ref.duckdb"  # the reference: the same run, uninterrupted, on a copy
    shutil.copy(db, ref_db)
    ref_store = Store(ref_db)
    assert run_suite(suite, ref_store, progress=False) == [rid]
    expected = _snapshot(ref_store, rid)
    assert len(ref_store.run_sessions(rid)) == N_CASES and expected["scores"]

    rng = random.Random(SEED)
    t_startup, done_before, landed_mid_run, log = 3.0, 0, 0, []
    for k in range(KILLS):
        proc = _evalkit_run(suite_path, db)
        where, after = _kill_at(proc, db, rng, t_startup)
        rc = proc.wait(60)
        err = proc.stderr.read().decode(errors="replace")
        killed = rc == -signal.SIGKILL
        assert killed or rc == 0, f"run {k} failed on its own (exit {rc}): {err[-500:]}"
        assert "Traceback" not in err, err[-2000:]
        done = len(Store(db).done_sessions(rid))
        assert done >= done_before, "a resumed run lost sessions"
        if killed and done_before < done < N_CASES:
            landed_mid_run += 1
        if where == "mid-run":
            t_startup = 0.5 * t_startup + 0.5 * after  # follow the machine's speed for start-up kills
        log.append((where, round(after, 2), killed, done))
        done_before = done

    final = _evalkit_run(suite_path, db)
    assert final.wait(600) == 0, final.stderr.read().decode()[-2000:]

    store = Store(db)
    runs = store.list_runs()
    assert list(runs.run_id) == [rid], runs
    sessions = store.run_sessions(rid)
    assert len(sessions) == N_CASES and sessions.session_id.is_unique, log
    assert sorted(sessions.consultation_id) == sorted(c.id for c in cons)
    assert (sessions.status == "ok").all(), sessions[sessions.status != "ok"].error.tolist()
    scores = store.scores_frame([rid])
    per = scores.groupby(["session_id", "metric"]).size()
    assert per.max() == 1, per[per > 1]  # every session scored exactly once
    assert _snapshot(store, rid) == expected  # nothing lost, nothing changed by the kills
    print(f"kills (where, seconds, killed, sessions stored): {log}")
    assert sum(1 for w, _, killed, _ in log if killed) >= 15, log
    assert landed_mid_run >= 8, f"too few kills landed mid-run to test anything: {log}"
