"""Batch mode (issue 20): a 2,000-note ``evalkit judge --batch`` job through the loopback files +
batches stub (its own process), with the evalkit process killed between submit and completion.

Steps: start the stub (``evalkit.testing.stub_batch``, requests answered over ``--duration`` seconds);
run ``evalkit judge --batch`` in a subprocess and SIGKILL it as soon as the batch id is in the DuckDB
file and the stub has started answering; run the same command again, which resumes the batch and collects it. Figures: time to submit
(start → batch id stored), time to collect (the re-run's wall time, which includes waiting for the
provider), duplicate charges (requests the stub answered more than once: target 0), batches created
(target 1), and the batch cost over the live price of the same tokens (target 0.5).

    .venv/bin/python bench/bench_batch.py                 # 2,000 notes
    .venv/bin/python bench/bench_batch.py --notes 200 --duration 3
"""

from __future__ import annotations

import argparse
import json
import os
import signal
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
ROOT = HERE.parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(ROOT))
from _common import write_result  # noqa: E402

MODEL = "openai/gpt-4o-mini"  # a model litellm prices, live and batch
SECTIONS = ("SUBJECTIVE", "OBJECTIVE", "ASSESSMENT", "PLAN")
DRUGS = ("metformin", "lisinopril", "atorvastatin", "amlodipine", "sertraline", "omeprazole")


def write_cases(path: Path, n: int) -> None:
    with path.open("w") as f:
        for i in range(n):
            drug, dose = DRUGS[i % len(DRUGS)], 100 + i  # every note different: 2,000 distinct requests
            transcript = (f"[doctor] how have you been since the last visit?\n[patient] fine, i take {drug} {dose} mg "
                          f"every day.\n[doctor] any side effects?\n[patient] none at all.\n"
                          f"[doctor] we will recheck your labs in {1 + i % 12} weeks.")
            note = (f"SUBJECTIVE\n\nDoing well. Takes {drug} {dose} mg daily without side effects.\n\n"
                    f"PLAN\n\nRecheck labs in {1 + i % 12} weeks. Continue {drug}.")
            f.write(json.dumps({"id": f"note-{i}", "transcript": transcript, "note": note}) + "\n")


def judge_cmd(cases: Path, out: Path, db: Path, api_base: str, poll: float) -> list[str]:
    return [sys.executable, "-c", "from evalkit.cli import main; main()", "judge", "-i", str(cases), "-o", str(out),
            "-j", MODEL, "--api-base", api_base, "--db", str(db), "--batch", "--batch-poll", str(poll), "-q"]


def _watch(api_base: str, batch_id: str, done_at: list[float]) -> None:
    """Note when the stub finishes the batch (polled every 0.1 s)."""
    import urllib.request

    while True:
        with urllib.request.urlopen(f"{api_base}/batches/{batch_id}", timeout=10) as r:
            if json.loads(r.read())["status"] in ("completed", "failed", "expired", "cancelled"):
                done_at.append(time.perf_counter())
                return
        time.sleep(0.1)


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    p.add_argument("--notes", type=int, default=2000)
    p.add_argument("--duration", type=float, default=20.0, help="seconds the stub spends answering the batch")
    p.add_argument("--poll", type=float, default=1.0)
    a = p.parse_args()

    from evalkit.llm.spec import ModelSpec
    from evalkit.llm.transport import price
    from evalkit.store import Store
    from evalkit.testing.stub_batch import StubBatch

    env = {**os.environ}
    tmp = Path(tempfile.mkdtemp(prefix="bench_batch_"))
    cases, out, db = tmp / "cases.jsonl", tmp / "out.jsonl", tmp / "batch.duckdb"
    write_cases(cases, a.notes)
    stub = StubBatch.spawn(duration=a.duration, step=0.5)
    try:
        t0 = time.perf_counter()
        proc = subprocess.Popen(judge_cmd(cases, out, db, stub.api_base, a.poll), cwd=ROOT, env=env,
                                stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
        submitted = None
        while time.perf_counter() - t0 < 600:
            if proc.poll() is not None:
                raise SystemExit(f"error: evalkit judge --batch exited ({proc.returncode}) before it was killed")
            if stub.stats()["batches"] and db.exists():
                rows = Store(db, busy_timeout=60).batches()
                if rows and rows[0]["batch_id"]:
                    submitted = time.perf_counter() - t0
                    break
            time.sleep(0.1)
        if submitted is None:
            raise SystemExit("error: no batch was submitted within 600 s")
        while stub.stats()["batch_requests"] == 0 and proc.poll() is None:  # kill it mid-batch
            time.sleep(0.05)
        proc.send_signal(signal.SIGKILL)
        proc.wait(30)
        [row] = Store(db).batches()
        state_at_kill = row["state"]
        at_kill = stub.stats()
        done_at: list[float] = []
        watcher = threading.Thread(target=_watch, args=(stub.api_base, row["batch_id"], done_at), daemon=True)
        watcher.start()
        t1 = time.perf_counter()
        rerun = subprocess.run(judge_cmd(cases, out, db, stub.api_base, a.poll), cwd=ROOT, env=env,
                               capture_output=True, text=True)
        t2 = time.perf_counter()
        collect = t2 - t1
        after_provider = t2 - done_at[0] if done_at else None
        if rerun.returncode != 0:
            raise SystemExit(f"error: the resumed run failed ({rerun.returncode}): {rerun.stderr.strip()[-500:]}")
        stats = stub.stats()
    finally:
        stub.stop()
    lines = [json.loads(x) for x in out.read_text().splitlines()]
    judged = sum(1 for x in lines if not x.get("error"))
    spec = ModelSpec(model=MODEL)
    with Store(db).connect() as con:
        rows = con.execute("SELECT prompt_tokens, completion_tokens, cost_usd FROM llm_calls "
                           "WHERE NOT cached AND error IS NULL").fetchall()
    batch_cost = sum(r[2] for r in rows)
    live_cost = sum(price(spec, None, r[0], r[1]) for r in rows)
    ratio = round(batch_cost / live_cost, 6) if live_cost else None
    dup = stats["duplicates"] + stats["custom_id_duplicates"]
    figures = [
        {"figure": f"time to submit {a.notes} notes (start → batch id in the DuckDB file)", "measured": round(submitted, 2),
         "unit": "s"},
        {"figure": f"time to collect after the kill (re-run wall time; the stub answers over {a.duration:g} s)",
         "measured": round(collect, 2), "unit": "s"},
        {"figure": "of which after the provider finished (download, parse, cache, final pass)",
         "measured": round(after_provider, 2) if after_provider is not None else None, "unit": "s"},
        {"figure": "notes judged after resume", "measured": judged, "unit": "notes", "target": a.notes,
         "ok": judged == a.notes},
        {"figure": "duplicate charges (requests answered more than once)", "measured": dup, "unit": "requests",
         "target": 0, "ok": dup == 0},
        {"figure": "batches created", "measured": stats["batches"], "unit": "batches", "target": 1,
         "ok": stats["batches"] == 1},
        {"figure": "live calls", "measured": stats["live_calls"], "unit": "calls", "target": 0,
         "ok": stats["live_calls"] == 0},
        {"figure": "cost at the batch price / live price of the same tokens", "measured": ratio, "unit": "ratio",
         "target": 0.5, "ok": ratio == 0.5},
    ]
    write_result("batch", figures, notes=a.notes, duration_s=a.duration, poll_s=a.poll, model=MODEL,
                 state_at_kill=state_at_kill, answered_at_kill=at_kill["batch_requests"], stub=stats,
                 batch_cost_usd=batch_cost, live_price_usd=live_cost)


if __name__ == "__main__":
    main()
