"""Ray executor speed-up over the local (thread) executor on a CPU-bound suite.

Suite: the ``rules`` scribe on the 87 ACI-Bench dialogues (train + valid) repeated 30× (2,610
cases; ``--repeat 10`` for 870, where the run's serial start and end weigh ~3× more), scored for WER, adherence and hallucination/omission with the offline grounding judge —
pure-Python work that holds the GIL, so threads share one core while Ray workers use both.
Both executors use concurrency 2 and write the same DuckDB file through the one driver process.
Scribe outputs are cached by a warm-up run first, so both timed runs do identical work.
Each figure is the best of 3 full runs, interleaved local/Ray (the machine is shared; the load average is recorded: with
CFS autogroup a loaded machine gives all Ray workers one session's share of the CPU, so run this
on an idle machine to measure the speed-up).

Run: ``.venv/bin/python bench/bench_ray.py`` → bench/results/ray.json.
Target: >= 1.8× with 2 workers on 2 cores.
"""

from __future__ import annotations

import functools
import os
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import write_result  # noqa: E402

ACI = HERE.parent / "datasets" / "aci-bench"
TARGET = 1.8
REPEAT = 30


def _autogroup() -> str | None:
    try:
        return Path("/proc/sys/kernel/sched_autogroup_enabled").read_text().strip()
    except OSError:
        return None


def main() -> int:
    import argparse

    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--repeat", type=int, default=REPEAT, help=f"times the 87 dialogues are repeated (default {REPEAT})")
    ap.add_argument("--rounds", type=int, default=3, help="interleaved timed rounds, best of each (default 3)")
    ap.add_argument("--batch-size", type=int, default=0,
                    help="cases per Ray task (default 0: sized from the measured time per case, as evalkit run)")
    args = ap.parse_args()
    from evalkit.executors.ray_executor import RayExecutor
    from evalkit.importers import load_aci_bench
    from evalkit.run.runner import LocalExecutor, process_case, run_suite
    from evalkit.store import Store
    from evalkit.run.suite import Suite

    base = load_aci_bench(ACI / "train.csv", ACI / "train_metadata.csv", dataset="bench") + \
        load_aci_bench(ACI / "valid.csv", ACI / "valid_metadata.csv", dataset="bench")
    items = [c.model_copy(update={"id": f"{c.id}-r{r}", "case": c.case.model_copy(update={"id": f"{c.id}-r{r}"})})
             for r in range(args.repeat) for c in base]
    tmp = Path(tempfile.mkdtemp(prefix="bench-ray-"))
    store = Store(tmp / "bench.duckdb")
    store.put_consultations(items)
    suite = Suite(name="bench-ray", dataset="bench", scribes=["rules"], metrics=["wer", "adherence", "hallucination"],
                  concurrency=2)
    n = len(items)

    from evalkit.scribes import get_scribe

    get_scribe("rules")  # load the registry once, before threads use it
    run_suite(suite, store, fresh=True, executor="local", progress=False)  # warm caches (scribe outputs, models)
    t0 = time.perf_counter()
    ray_ex = RayExecutor(concurrency=2, batch_size=args.batch_size or None)
    ray_ex._ray()
    ray_start_s = time.perf_counter() - t0
    run_suite(suite, store, fresh=True, executor=ray_ex, progress=False, limit=8)  # warm the workers

    driver_cpu: dict[str, float] = {}

    def timed(executors: dict, rounds: int) -> dict[str, float]:
        """Best wall time of each executor over ``rounds`` rounds, the executors interleaved in each
        round: a slow minute on this shared machine then costs every executor alike."""
        best = {name: float("inf") for name in executors}
        for _ in range(rounds):
            for name, executor in executors.items():
                t, c = time.perf_counter(), time.process_time()
                (rid,) = run_suite(suite, store, fresh=True, executor=executor, progress=False)
                wall = time.perf_counter() - t
                if wall < best[name]:
                    best[name], driver_cpu[name] = wall, time.process_time() - c
                sess = store.run_sessions(rid)
                assert len(sess) == n and (sess["status"] == "ok").all(), "bench run had failed cases"
        return best

    def compute_only(executor) -> float:  # the executors alone, no DuckDB writer in the loop
        fn = functools.partial(process_case, audio=None, scribe_spec="rules", suite=suite, root=str(tmp), run_id="compute")
        best = float("inf")
        for _ in range(2):
            t = time.perf_counter()
            res = list(executor.map_unordered(fn, items))
            best = min(best, time.perf_counter() - t)
            assert len(res) == n
        return best

    walls = timed({"local": "local", "local1": LocalExecutor(1), "ray": ray_ex}, args.rounds)
    local_s, local1_s, ray_s = walls["local"], walls["local1"], walls["ray"]
    local_c = compute_only(LocalExecutor(2))
    ray_c = compute_only(ray_ex)
    ray_ex.close()
    speedup = local_s / ray_s
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    write_result("ray", [
        {"figure": "speed-up of Ray (2 workers) over local threads (2)", "measured": round(speedup, 2), "unit": "×",
         "target": f">= {TARGET}", "ok": speedup >= TARGET},
        {"figure": "local executor, full run", "measured": round(n / local_s, 1), "unit": "sessions/s"},
        {"figure": "local executor with 1 thread, full run (no GIL contention)", "measured": round(n / local1_s, 1),
         "unit": "sessions/s"},
        {"figure": "speed-up of Ray (2 workers) over local with 1 thread", "measured": round(local1_s / ray_s, 2),
         "unit": "×"},
        {"figure": "ray executor, full run", "measured": round(n / ray_s, 1), "unit": "sessions/s"},
        {"figure": "speed-up, executors alone (no DuckDB writes)", "measured": round(local_c / ray_c, 2),
         "unit": "×"},
        {"figure": "driver CPU per session, Ray run (receiving results, writing DuckDB)",
         "measured": round(driver_cpu["ray"] / n * 1000, 2), "unit": "ms"},
        {"figure": "CPU per session, local run (computing and writing)",
         "measured": round(driver_cpu["local"] / n * 1000, 2), "unit": "ms"},
        {"figure": "cases per Ray task (last run: smallest–largest)",
         "measured": f"{min(ray_ex.task_sizes)}–{max(ray_ex.task_sizes)}", "unit": "cases"},
        {"figure": "local Ray start-up (not in the timed runs)", "measured": round(ray_start_s, 1), "unit": "s"},
    ], sessions=n, repeat=args.repeat, rounds=args.rounds, batch_size=args.batch_size or "auto", local_s=round(local_s, 2), ray_s=round(ray_s, 2),
       compute_local_s=round(local_c, 2), compute_ray_s=round(ray_c, 2), load_avg_1m=load,
       note="2 shared cores. Linux CFS autogroup (kernel.sched_autogroup_enabled=1) shares the CPU "
            "between sessions, and every Ray worker lives in the raylet's session: when other sessions "
            "keep the cores busy (1-minute load average well above 2), Ray's workers together get no "
            "more CPU than the local run's one process, so the speed-up is only measurable on an idle "
            "machine", autogroup=_autogroup())
    return 0


if __name__ == "__main__":
    sys.exit(main())
