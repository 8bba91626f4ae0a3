"""Benchmark: `compare` on two runs of 10,000 cases × 10 metrics, on one core.

Writes both runs straight into a temporary store (no scribes), then times ``compare_runs``
(loading from DuckDB + paired bootstrap with 10,000 resamples + McNemar + breakdowns + worst
cases) and, separately, the gate on the same runs. Target: compare under 3 s on one core. On a
shared machine wall time includes waiting for the core, so CPU time is reported too, with the
load average.
Writes bench/results/compare.json.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import sys  # noqa: E402
import tempfile  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import write_result  # noqa: E402

from evalkit.schema import Case, Consultation, Note  # noqa: E402
from evalkit.store import Store  # noqa: E402

N_CASES = 10_000
METRICS = ["wer", "cer", "medical_wer", "wer_clinician", "wer_patient", "adherence", "hallucination_rate",
           "omission_rate", "major_hallucinations", "latency_s"]
SPECIALTIES = ["cardiology", "dermatology", "orthopedics", "psychiatry", "general"]


def _fill(store: Store, run_id: str, scribe: str, values: dict[str, np.ndarray], ids: list[str]) -> None:
    """Bulk-insert one run: sessions and scores (the way write_results does, minus pydantic)."""
    store.create_run(run_id=run_id, label=run_id, suite_name="bench", dataset="bench", scribe=scribe)
    now = pd.Timestamp.now(tz="UTC")
    sids = [f"{run_id}:{c}" for c in ids]
    sessions = pd.DataFrame({"session_id": sids, "run_id": run_id, "consultation_id": ids, "scribe": scribe,
                             "backend_version": "1", "status": "ok", "error": None, "output": None,
                             "input_hash": "", "latency_s": values["latency_s"], "cost_usd": None, "created_at": now})
    scores = pd.concat([pd.DataFrame({"run_id": run_id, "session_id": sids, "metric": m, "value": values[m],
                                      "detail": "{}", "created_at": now}) for m in METRICS], ignore_index=True)
    with store.connect() as con:
        store._insert_df(con, "sessions", sessions)
        store._insert_df(con, "scores", scores)
    store.finish_run(run_id)


def build(path: Path) -> Store:
    store = Store(path)
    ids = [f"case-{i:05d}" for i in range(N_CASES)]
    store.put_consultations([Consultation(id=c, case=Case(id=c, specialty=SPECIALTIES[i % 5], chief_complaint="x"),
                                          turns=[], reference_note=Note(), template=("SOAP", "BIRP")[i % 2],
                                          dataset="bench") for i, c in enumerate(ids)])
    rng = np.random.default_rng(7)
    a = {m: rng.uniform(0, 0.4, N_CASES) for m in METRICS}
    a["adherence"] = rng.uniform(0.6, 1.0, N_CASES)
    a["major_hallucinations"] = rng.poisson(0.1, N_CASES).astype(float)
    a["latency_s"] = rng.gamma(4.0, 2.0, N_CASES)
    b = {m: v + rng.normal(0, 0.02, N_CASES) for m, v in a.items()}
    b["wer"] = a["wer"] + 0.01 + rng.normal(0, 0.02, N_CASES)  # a real regression
    b["major_hallucinations"] = rng.poisson(0.12, N_CASES).astype(float)
    _fill(store, "base", "old", a, ids)
    _fill(store, "cand", "new", b, ids)
    return store


def main() -> None:
    try:
        os.sched_setaffinity(0, {sorted(os.sched_getaffinity(0))[0]})  # one core, DuckDB included
        cores = 1
    except (AttributeError, OSError):
        cores = os.cpu_count()
    from evalkit.compare.runs import compare_runs
    from evalkit.compare.report import to_markdown
    from evalkit.compare.gate import run_gate

    with tempfile.TemporaryDirectory() as d:
        t0 = time.perf_counter()
        store = build(Path(d) / "bench.duckdb")
        setup_s = time.perf_counter() - t0
        compare_runs(store, "base", "cand", n_resamples=1000)  # warm imports and the file cache
        times, cpu = [], []
        for _ in range(5):
            t, c = time.perf_counter(), time.process_time()
            res = compare_runs(store, "base", "cand")
            times.append(time.perf_counter() - t)
            cpu.append(time.process_time() - c)
        md = to_markdown(res)
        gate_file = Path(d) / "gate.yaml"
        gate_file.write_text("checks:\n  - {name: wer ceiling, check: wer <= 0.3}\n"
                             "  - {name: wer no regression, check: wer no significant regression}\n")
        t = time.perf_counter()
        report = run_gate(store, "cand", gate_file, baseline="base")
        gate_s = time.perf_counter() - t
    best = min(times)
    figures = [
        {"figure": "compare 10,000 cases x 10 metrics, 10,000 resamples, 1 core (best of 5)", "measured": round(best, 2),
         "unit": "s", "target": "< 3", "ok": best < 3.0},
        {"figure": "compare, median of 5", "measured": round(sorted(times)[2], 2), "unit": "s"},
        {"figure": "compare CPU time (best of 5; wall time on an idle core)", "measured": round(min(cpu), 2),
         "unit": "s", "target": "< 3", "ok": min(cpu) < 3.0},
        {"figure": "gate (2 checks incl. paired comparison)", "measured": round(gate_s, 2), "unit": "s"},
        {"figure": "metrics compared (incl. derived)", "measured": len(res.metrics), "unit": ""},
        {"figure": "store setup (two runs written)", "measured": round(setup_s, 1), "unit": "s"},
    ]
    write_result("compare", figures, cores=cores, load_average=os.getloadavg(), cases=N_CASES, resamples=10_000,
                 regressions=[m.metric for m in res.regressions], gate_passed=report.passed,
                 markdown_chars=len(md))


if __name__ == "__main__":
    main()
