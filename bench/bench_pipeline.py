"""End-to-end offline pipeline speed as a multiple of real time (2 cores).

What a user runs, as whole processes: ``evalkit generate --n 4`` (seeded dialogues and notes from
the case cards, espeak-ng speech) then ``evalkit run`` of a suite with the ``whisper+rules``
pipeline (Whisper tiny.en ASR → rules note writer) scored with every metric group (WER,
adherence, the offline grounding judge) at concurrency 2. The figure is seconds of consultation
audio processed per second of wall time, start-up and model loading included: > 1 means faster
than the consultations took to happen.

Run: ``.venv/bin/python bench/bench_pipeline.py [--n 4]``; writes bench/results/pipeline.json.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import write_result  # noqa: E402

EVALKIT = Path(sys.executable).with_name("evalkit")


def _timed(args: list[str]) -> float:
    t0 = time.perf_counter()
    res = subprocess.run([str(EVALKIT), *args], capture_output=True, text=True, timeout=3600,
                         env={**os.environ, "COLUMNS": "200"})
    if res.returncode:
        print(res.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"evalkit {args[0]} exited {res.returncode}")
    return time.perf_counter() - t0


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--n", type=int, default=4)
    a = ap.parse_args(argv)
    from evalkit.store import Store

    with tempfile.TemporaryDirectory(prefix="evalkit-pipe-") as t:
        tmp = Path(t)
        db = tmp / "pipe.duckdb"
        t_gen = _timed(["generate", "--n", str(a.n), "--seed", "7", "--db", str(db), "--dataset", "pipe"])
        store = Store(db)
        cons = store.list_consultations("pipe")
        speech = sum(store.get_audio(c.id).duration for c in cons)
        suite = tmp / "suite.yaml"
        suite.write_text(json.dumps({"name": "pipeline", "dataset": "pipe", "scribes": ["whisper+rules"],
                                     "metrics": ["wer", "adherence", "hallucination"], "concurrency": 2}))
        t_run = _timed(["run", str(suite), "--db", str(db), "--json", str(tmp / "runs.json")])
        runs = json.loads((tmp / "runs.json").read_text())
        sessions, failed = runs[0]["sessions"], runs[0]["failed"]
        wer = runs[0].get("wer")
    total = t_gen + t_run
    multiple = speech / total
    figures = [
        {"figure": f"end-to-end offline pipeline, {a.n} consultations (TTS + ASR + note + scoring, whole processes)",
         "measured": round(multiple, 2), "unit": "x real time", "target": "> 1", "ok": multiple > 1},
        {"figure": "speech processed", "measured": round(speech, 1), "unit": "s"},
        {"figure": "evalkit generate (dialogues, notes, espeak-ng speech) wall time", "measured": round(t_gen, 1),
         "unit": "s"},
        {"figure": "evalkit run (Whisper tiny.en + rules + WER/adherence/grounding judge) wall time",
         "measured": round(t_run, 1), "unit": "s"},
        {"figure": "sessions scored / failed", "measured": f"{sessions} / {failed}", "unit": ""},
    ]
    extra = {"n": a.n, "speech_s": speech, "generate_s": t_gen, "run_s": t_run, "wer": wer, "cores": os.cpu_count()}
    try:
        extra["load_average"] = os.getloadavg()
    except OSError:
        pass
    write_result("pipeline", figures, **extra)
    return 0 if failed == 0 and sessions == a.n else 1


if __name__ == "__main__":
    raise SystemExit(main())
