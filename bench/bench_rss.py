"""Peak memory of a 10,000-session run (target < 1 GB).

The consultations are generated offline from the shipped case cards (no audio) straight into a
temporary database; then ``evalkit run`` runs a suite over all of them with the cheap
``reference`` scribe and every metric group (WER, adherence, the offline grounding judge), as
its own process. Its peak resident set size comes from ``resource.getrusage(RUSAGE_CHILDREN)``
after it exits (the only child this script starts); its RSS is also sampled every half second
from ``/proc`` so the result shows whether memory grows with the number of sessions.

Run: ``.venv/bin/python bench/bench_rss.py [--sessions 10000] [--metrics wer,adherence,hallucination]``;
writes bench/results/rss.json.
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

EVALKIT = Path(sys.executable).with_name("evalkit")
TARGET_MB = 1024


def _rss_mb(pid: int) -> float | None:
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        return None
    return None


def generate(db: Path, n: int, seed: int) -> float:
    """Generate n consultations into db; returns seconds."""
    from evalkit.store import Store
    from evalkit.synth import generate as gen, load_cards

    t0 = time.perf_counter()
    store = Store(db)
    cards = load_cards()
    batch = 1000
    for start in range(0, n, batch):
        items = gen(cards, min(batch, n - start), seed + start, None, dataset="rss")
        items = [c.model_copy(update={"id": f"rss-{start + i:05d}"}) for i, c in enumerate(items)]
        store.put_consultations(items)
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=10_000)
    ap.add_argument("--metrics", default="wer,adherence,hallucination")
    ap.add_argument("--concurrency", type=int, default=2)
    a = ap.parse_args(argv)
    tmp = Path(tempfile.mkdtemp(prefix="evalkit-rss-"))
    try:
        db = tmp / "rss.duckdb"
        gen_s = generate(db, a.sessions, 11)
        suite = tmp / "suite.yaml"
        metrics = [m.strip() for m in a.metrics.split(",") if m.strip()]
        suite.write_text(f"name: rss\ndataset: rss\nscribes: [reference]\nmetrics: [{', '.join(metrics)}]\n"
                         f"concurrency: {a.concurrency}\n")
        print(f"generated {a.sessions} consultations in {gen_s:.0f}s; running...", flush=True)
        t0 = time.perf_counter()
        proc = subprocess.Popen([str(EVALKIT), "run", str(suite), "--db", str(db), "--json", str(tmp / "runs.json")],
                                stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                                env={**os.environ, "COLUMNS": "120"})
        samples: list[tuple[float, float]] = []

        def sample() -> None:
            while proc.poll() is None:
                v = _rss_mb(proc.pid)
                if v is not None:
                    samples.append((round(time.perf_counter() - t0, 1), round(v, 1)))
                time.sleep(0.5)

        th = threading.Thread(target=sample, daemon=True)
        th.start()
        _, err = proc.communicate()
        wall = time.perf_counter() - t0
        th.join(2)
        if proc.returncode:
            print(err[-2000:], file=sys.stderr)
            raise SystemExit(f"evalkit run failed with exit {proc.returncode}")
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024  # KiB on Linux
        import json

        runs = json.loads((tmp / "runs.json").read_text())
        sessions = sum(r["sessions"] for r in runs)
        failed = sum(r["failed"] for r in runs)
        # memory at 10 % of the run vs at the end: does it grow with the number of sessions?
        early = next((v for t, v in samples if t >= wall * 0.1), None)
        late = max((v for _, v in samples), default=None)
        figures = [
            {"figure": f"peak RSS of a {a.sessions:,}-session run (reference scribe, {'+'.join(metrics)})",
             "measured": round(peak_mb), "unit": "MB", "target": f"< {TARGET_MB}", "ok": peak_mb < TARGET_MB},
            {"figure": "sessions written / failed", "measured": f"{sessions} / {failed}", "unit": ""},
            {"figure": "run wall time", "measured": round(wall, 1), "unit": "s"},
            {"figure": "sessions per second", "measured": round(sessions / wall, 1), "unit": "sessions/s"},
        ]
        extra = {"sessions": a.sessions, "metrics": metrics, "concurrency": a.concurrency,
                 "generate_s": round(gen_s, 1), "rss_at_10pct_mb": early, "rss_max_sampled_mb": late,
                 "rss_timeline_mb": samples[:: max(1, len(samples) // 60)],
                 "db_size_mb": round(db.stat().st_size / 2**20, 1)}
        try:
            extra["load_average"] = os.getloadavg()
        except OSError:
            pass
        write_result("rss", figures, **extra)
        return 0 if peak_mb < TARGET_MB and sessions == a.sessions else 1
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    raise SystemExit(main())
