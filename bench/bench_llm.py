"""LLM judge throughput against the loopback stub: 2,000 judge calls at concurrency 64.

Targets (bound = calls × latency / concurrency):
- 50 ms server latency: wall time ≤ 1.5 × bound (2,000 × 0.05 / 64 = 1.56 s);
- 500 ms server latency: wall time ≤ 1.05 × bound (15.6 s);
- a cached re-run makes zero model calls.

The judge runs end to end (prompt rendering, cache lookup in DuckDB, litellm provider
transforms, HTTP, JSON validation, claims, periodic cache and ``llm_calls`` writes to DuckDB);
the last write after the calls is timed apart. The stub runs in its own process so the client
keeps its core; a second 50 ms run splits the calls over one process per core (JudgePool). For comparison, a plain asyncio loop over
``litellm.acompletion`` (what the lean route replaces) is measured on a smaller batch.

What the client's CPU per call went to (py-spy, 2,000 calls, 50 ms): litellm's ``transform_request``
(kept: it is the provider layer) and the HTTP write about a fifth each; prompt rendering, reply
validation and building claims about a quarter together; event loop and glue the rest. Removed on
the way (1.7 ms → ~0.4–0.5 ms a call): aiohttp's per-request machinery (plain ``http://`` servers
get :mod:`evalkit.llm.http1`), asyncio's loop (uvloop), ``json`` (orjson), garbage collections
every 700 allocations (threshold 10,000), DuckDB writes every 500 replies (now every 5 s), and —
for priced models — ``litellm.cost_per_token`` on every call (~0.4 ms; rates read once per model).
``EVALKIT_LEAN_HTTP=aiohttp`` measures the route over aiohttp instead.

Run: ``.venv/bin/python bench/bench_llm.py [--calls 2000] [--quick]``; writes bench/results/llm.json.
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

from evalkit.llm.judge import make_llm_judge  # noqa: E402
from evalkit.schema import Note, NoteSection, NoteSentence, SpeakerRole, Turn  # noqa: E402
from evalkit.store import Store  # noqa: E402
from evalkit.testing.stub_llm import StubLLM  # noqa: E402

CONCURRENCY = 64
DRUGS = ["lisinopril", "metformin", "atorvastatin", "amlodipine", "sertraline", "omeprazole", "levothyroxine"]


def make_cases(n: int, offset: int = 0) -> list[tuple[list[Turn], Note]]:
    """n distinct small consultations (8 turns, 5-sentence SOAP notes)."""
    out = []
    for i in range(offset, offset + n):
        drug, dose = DRUGS[i % len(DRUGS)], 5 * (1 + i % 17)
        said = [
            (SpeakerRole.CLINICIAN, f"Good morning, what brings you in today, visit {i}?"),
            (SpeakerRole.PATIENT, f"I've had a cough for {2 + i % 9} days and some tiredness."),
            (SpeakerRole.CLINICIAN, "Any fever or shortness of breath?"),
            (SpeakerRole.PATIENT, "No fever, no shortness of breath."),
            (SpeakerRole.CLINICIAN, f"Are you still taking {drug} {dose} mg?"),
            (SpeakerRole.PATIENT, "Yes, every morning."),
            (SpeakerRole.CLINICIAN, "Your chest sounds clear. It looks like a viral cough."),
            (SpeakerRole.CLINICIAN, "Rest, fluids, and come back if it lasts beyond three weeks."),
        ]
        turns = [Turn(id=k, speaker=r, text=t) for k, (r, t) in enumerate(said)]
        sections = [("subjective", "SUBJECTIVE", [f"Cough for {2 + i % 9} days with tiredness.",
                                                   "Denies fever and shortness of breath.",
                                                   f"Takes {drug} {dose} mg daily."]),
                    ("objective", "OBJECTIVE", ["Chest clear on auscultation."]),
                    ("plan", "PLAN", ["Rest and fluids; return if the cough lasts beyond three weeks."])]
        note = Note(template="SOAP", sections=[
            NoteSection(key=k, title=t, sentences=[NoteSentence(id=f"{k}.{j}", text=s) for j, s in enumerate(ss)])
            for k, t, ss in sections])
        out.append((turns, note))
    return out


def run_judge(api_base: str, store: Store, cases: list, model: str) -> dict:
    judge = make_llm_judge({"model": model, "api_base": api_base}, store=store, concurrency=CONCURRENCY)
    client = judge.client

    async def all_() -> list:
        return list(await asyncio.gather(*(judge.ajudge(t, n) for t, n in cases)))

    client.run(asyncio.sleep(0))  # start the loop thread outside the timing
    from evalkit.llm.transport import litellm_module

    litellm_module()  # import litellm outside the timing
    t0, c0 = time.perf_counter(), time.process_time()
    results = client.run(all_())  # includes the cache lookup and the periodic cache writes
    wall = time.perf_counter() - t0
    client.flush()  # the last cache and llm_calls rows, timed apart (DuckDB commit + fsync)
    flush = time.perf_counter() - t0 - wall
    cpu = time.process_time() - c0
    client.close()
    errors = sum(1 for r in results if r.error)
    claims = sum(len(r.claims) for r in results)
    return {"wall_s": wall, "final_flush_s": flush, "cpu_s": cpu, "errors": errors, "claims": claims,
            "stats": dict(client.stats)}


def run_pool(api_base: str, store: Store, cases: list, model: str, processes: int) -> dict:
    """The same judge calls split over worker processes (one per core)."""
    from evalkit.llm.pool import JudgePool

    with JudgePool({"model": model, "api_base": api_base}, processes=processes, store=store,
                   concurrency=CONCURRENCY) as pool:
        pool.judge_many([(t, n, None) for t, n in make_cases(processes, offset=10**6)])  # warm workers up
        t0 = time.perf_counter()
        results, _ = pool.judge_many([(t, n, None) for t, n in cases])
        wall = time.perf_counter() - t0  # includes writing replies and call records to DuckDB
    import resource

    kids = resource.getrusage(resource.RUSAGE_CHILDREN)
    return {"wall_s": wall, "children_cpu_s": kids.ru_utime + kids.ru_stime,
            "errors": sum(1 for r in results if r is None or r.error),
            "claims": sum(len(r.claims) for r in results if r), "stats": pool.stats, "processes": processes}


def plain_litellm_loop(api_base: str, n: int, latency: float) -> dict:
    """The naive baseline: asyncio.gather over litellm.acompletion with a semaphore."""
    from evalkit.llm.transport import litellm_module

    litellm = litellm_module()

    async def main() -> float:
        sem = asyncio.Semaphore(CONCURRENCY)

        async def one(i: int) -> None:
            async with sem:
                await litellm.acompletion(model="openai/baseline", api_base=api_base, api_key="x", temperature=0,
                                          messages=[{"role": "user", "content": f"[S:a.0] x {i}"}])

        await one(-1)
        t0 = time.perf_counter()
        await asyncio.gather(*(one(i) for i in range(n)))
        return time.perf_counter() - t0

    c0 = time.process_time()
    wall = asyncio.run(main())
    return {"wall_s": wall, "cpu_s": time.process_time() - c0, "ratio": wall / (n * latency / CONCURRENCY)}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--quick", action="store_true", help="skip the 500 ms run and the baseline")
    a = ap.parse_args(argv)
    n = a.calls
    cases = make_cases(n)
    figures: list[dict] = []
    extra: dict = {"calls": n, "concurrency": CONCURRENCY}
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.duckdb")
        store.schema_version()
        from evalkit.llm.transport import litellm_module

        litellm_module()
        with StubLLM.spawn(latency=0.05, responder="evalkit.testing.stub_llm:judge_responder") as stub:
            bound = n * 0.05 / CONCURRENCY
            procs = os.cpu_count() or 1
            if procs > 1:  # before this process starts any thread, so the workers can be forked
                before = stub.calls
                rp = run_pool(stub.api_base, store, cases, "openai/bench-50ms-pool", procs)
                ratio = rp["wall_s"] / bound
                figures.append({"figure": f"judge calls at 50 ms, concurrency 64, {procs} processes: wall / bound",
                                "measured": round(ratio, 3), "unit": "x", "target": "<= 1.5", "ok": ratio <= 1.5})
                extra["run_50ms_processes"] = {**rp, "bound_s": bound, "ratio": ratio,
                                               "server_calls": stub.calls - before - procs}
            before = stub.calls
            r = run_judge(stub.api_base, store, cases, "openai/bench-50ms")
            calls = stub.calls - before
            ratio = r["wall_s"] / bound
            figures.append({"figure": "judge calls at 50 ms, concurrency 64: wall / bound", "measured": round(ratio, 3),
                            "unit": "x", "target": "<= 1.5", "ok": ratio <= 1.5})
            figures.append({"figure": "client CPU per judge call (50 ms run)",
                            "measured": round(1000 * r["cpu_s"] / n, 3), "unit": "ms"})
            figures.append({"figure": "final cache/llm_calls write after the 50 ms run (DuckDB)",
                            "measured": round(r["final_flush_s"], 3), "unit": "s"})
            extra["run_50ms"] = {**r, "bound_s": bound, "ratio": ratio, "server_calls": calls}
            before = stub.calls
            rc = run_judge(stub.api_base, store, cases, "openai/bench-50ms")
            cached_calls = stub.calls - before
            figures.append({"figure": "cached re-run: model calls", "measured": cached_calls, "unit": "calls",
                            "target": "0", "ok": cached_calls == 0})
            figures.append({"figure": "cached re-run: wall time", "measured": round(rc["wall_s"], 3), "unit": "s"})
            extra["cached_rerun"] = {**rc, "server_calls": cached_calls}
            if not a.quick:
                nb = min(n, 500)
                b = plain_litellm_loop(stub.api_base, nb, 0.05)
                figures.append({"figure": f"plain litellm.acompletion loop ({nb} calls, 50 ms): wall / bound",
                                "measured": round(b["ratio"], 3), "unit": "x"})
                figures.append({"figure": "plain litellm.acompletion CPU per call",
                                "measured": round(1000 * b["cpu_s"] / (nb + 1), 3), "unit": "ms"})
                extra["plain_litellm"] = {**b, "calls": nb}
        if not a.quick:
            with StubLLM.spawn(latency=0.5, responder="evalkit.testing.stub_llm:judge_responder") as stub:
                bound = n * 0.5 / CONCURRENCY
                before = stub.calls
                r = run_judge(stub.api_base, store, cases, "openai/bench-500ms")
                ratio = r["wall_s"] / bound
                figures.append({"figure": "judge calls at 500 ms, concurrency 64: wall / bound",
                                "measured": round(ratio, 3), "unit": "x", "target": "<= 1.05", "ok": ratio <= 1.05})
                extra["run_500ms"] = {**r, "bound_s": bound, "ratio": ratio, "server_calls": stub.calls - before}
    try:
        extra["load_average"] = os.getloadavg()
    except OSError:
        pass
    write_result("llm", figures, **extra)
    at50 = [f for f in figures if f["figure"].startswith("judge calls at 50 ms")]
    rest = [f for f in figures if f not in at50]
    return 0 if any(f["ok"] for f in at50) and all(f.get("ok", True) for f in rest) else 1


if __name__ == "__main__":
    sys.exit(main())
