"""Cached re-run: 1,000 sessions scored again with zero model calls.

1,000 generated consultations are run through a suite whose scribe (``llm``) and judge are both
models behind the loopback stub (``evalkit.testing.stub_llm``, 50 ms per reply, its own process),
plus WER and template adherence: 2,000 model calls the first time. Then:

- the same command again: the run is complete, so it resumes with nothing to do;
- ``--fresh``: a new run of all 1,000 sessions — scribe outputs come from the output cache and
  judge replies from the reply cache, so every session is scored again with no model call.

The stub counts the calls each ``evalkit run`` process (timed whole) makes.

Run: ``.venv/bin/python bench/bench_cached_rerun.py [--sessions 1000]``; writes
bench/results/cached_rerun.json.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import write_result  # noqa: E402

EVALKIT = Path(sys.executable).with_name("evalkit")
LATENCY = 0.05

_KEYS = re.compile(r"Section keys: (.*?)\.?\s*$", re.M)
_TURN = re.compile(r"^\s*\[T(\d+)\b", re.M)


def responder(req: dict) -> dict:
    """Stub replies for both models: a note in the asked sections (scribe), or judge verdicts."""
    from evalkit.testing.stub_llm import judge_responder

    text = "\n".join(str(m.get("content") or "") for m in req.get("messages", []) if m.get("role") == "user")
    m = _KEYS.search(text)
    if not m:
        return judge_responder(req)
    turns = [int(t) for t in _TURN.findall(text)] or [0]
    keys = [k.strip() for k in m.group(1).split(",") if k.strip()]
    return {"sections": [{"key": k, "sentences": [{"text": f"Discussed in clinic ({k}).", "evidence": turns[:1]}]}
                         for k in keys]}


def _run(args: list[str]) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    res = subprocess.run([str(EVALKIT), "run", *args], capture_output=True, text=True, timeout=7200,
                         env={**os.environ, "COLUMNS": "200"})
    wall = time.perf_counter() - t0
    if res.returncode:
        print(res.stderr[-3000:], file=sys.stderr)
        raise SystemExit(f"evalkit run exited {res.returncode}")
    return wall, res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--sessions", type=int, default=1000)
    a = ap.parse_args(argv)
    n = a.sessions
    from evalkit.store import Store
    from evalkit.synth import generate, load_cards
    from evalkit.testing.stub_llm import StubLLM

    os.environ["PYTHONPATH"] = str(HERE) + os.pathsep + os.environ.get("PYTHONPATH", "")  # the stub imports us
    with tempfile.TemporaryDirectory(prefix="evalkit-cache-") as t:
        tmp = Path(t)
        db = tmp / "cache.duckdb"
        Store(db).put_consultations(generate(load_cards(), n, 21, None, dataset="cached"))
        with StubLLM.spawn(latency=LATENCY, responder="bench_cached_rerun:responder") as stub:
            suite = tmp / "suite.yaml"
            suite.write_text(json.dumps({
                "name": "cached-rerun", "dataset": "cached", "scribes": ["llm"], "concurrency": 32,
                "scribe_options": {"llm": {"model": "openai/bench-scribe", "api_base": stub.api_base,
                                           "concurrency": 32}},
                "judge": {"model": "openai/bench-judge", "api_base": stub.api_base},
                "metrics": ["wer", "adherence", "hallucination"]}))
            runs = []
            for what, extra in (("first run", []), ("same command again (resume: nothing left)", []),
                                ("fresh re-run of every session (caches)", ["--fresh"])):
                before = stub.calls
                wall, res = _run([str(suite), "--db", str(db), "--json", str(tmp / "runs.json"), *extra])
                recs = json.loads((tmp / "runs.json").read_text())
                runs.append({"what": what, "wall_s": round(wall, 2), "calls": stub.calls - before,
                             "sessions": sum(r["sessions"] for r in recs), "failed": sum(r["failed"] for r in recs)})
                print(runs[-1], flush=True)
    first, again, fresh = runs
    figures = [
        {"figure": f"cached re-run of {n:,} sessions (--fresh): model calls", "measured": fresh["calls"],
         "unit": "calls", "target": "0", "ok": fresh["calls"] == 0},
        {"figure": f"cached re-run of {n:,} sessions (--fresh): wall time", "measured": fresh["wall_s"], "unit": "s"},
        {"figure": "resume of a finished run: model calls / wall time", "measured": f"{again['calls']} / "
         f"{again['wall_s']} s", "unit": "", "ok": again["calls"] == 0},
        {"figure": f"first run of {n:,} sessions (llm scribe + llm judge): model calls / wall time",
         "measured": f"{first['calls']} / {first['wall_s']} s", "unit": ""},
    ]
    extra = {"sessions": n, "stub_latency_s": LATENCY, "runs": runs}
    try:
        extra["load_average"] = os.getloadavg()
    except OSError:
        pass
    write_result("cached_rerun", figures, **extra)
    ok = fresh["calls"] == 0 and again["calls"] == 0 and fresh["sessions"] == n and fresh["failed"] == 0
    return 0 if ok else 1


if __name__ == "__main__":
    raise SystemExit(main())
