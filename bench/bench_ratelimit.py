"""Judging under a provider's rate limit: accepted requests per second, share refused, failed calls.

The stub server runs in its own process behind a :class:`~evalkit.testing.stub_limits.RateGate`:
a token bucket of 10 requests a second (a burst of 10), or of tokens per minute worth 10 typical
judge requests a second, refusing the rest with HTTP 429 and ``Retry-After`` in whole seconds.
The judge sends 2,000 calls (one per short note) with 64 in flight, as ``evalkit judge
--concurrency 64`` would, in each of these set-ups:

- ``rps, nothing set``: no ``--rpm``; the server sends only ``Retry-After`` (the hardest case:
  the pace is learnt from refusals);
- ``rps, headers``: no ``--rpm``; the server also sends ``x-ratelimit-*`` on every reply;
- ``rps, --rpm 600``: the limit configured;
- ``tpm, nothing set`` and ``tpm, --tpm``: the same with a tokens-per-minute limit.

Targets (issue 20): ≥ 9 accepted requests a second, ≤ 5 % of requests refused, 0 failed calls,
for the requests limit and for the tokens limit. Before the limiter (evalkit 7 Dec): 44 of 60
notes failed, 4.7 accepted a second, 88 % refused.

Run: ``.venv/bin/python bench/bench_ratelimit.py [--calls 2000] [--only rps-none,tpm-none]``;
writes bench/results/ratelimit.json.
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
from bench_llm import make_cases  # noqa: E402

from evalkit.llm import ratelimit  # noqa: E402
from evalkit.llm.judge import make_llm_judge  # noqa: E402
from evalkit.store import Store  # noqa: E402
from evalkit.testing.stub_llm import StubLLM  # noqa: E402

CONCURRENCY = 64
RPS = 10
LATENCY = 0.1


def judge_tokens(cases: list) -> int:
    """The tokens one judge request counts at admission (prompt / 4 + max_tokens), from real requests."""
    from evalkit.testing.stub_limits import request_tokens

    with StubLLM(responder="evalkit.testing.stub_llm:judge_responder") as stub:
        judge = make_llm_judge({"model": "openai/measure", "api_base": stub.api_base})
        for t, n in cases[:5]:
            judge.judge(t, n)
        judge.close()
        return round(sum(request_tokens(r) for r in stub.requests) / len(stub.requests))


def one(name: str, gate: str, spec: dict, cases: list, store: Store) -> dict:
    ratelimit.install_table(ratelimit._LocalTable())
    with StubLLM.spawn(latency=LATENCY, responder="evalkit.testing.stub_llm:judge_responder", gate=gate) as stub:
        judge = make_llm_judge({**spec, "api_base": stub.api_base}, store=store, concurrency=CONCURRENCY)
        client = judge.client

        async def all_() -> list:
            return list(await asyncio.gather(*(judge.ajudge(t, n) for t, n in cases), return_exceptions=True))

        t0 = time.perf_counter()
        results = client.run(all_())
        wall = time.perf_counter() - t0
        client.close()
        s = stub.stats()
        pace = ratelimit.limiter_for(judge.spec).snapshot()
    accepted, refused = int(s["calls"]), int(s.get("refused", 0))
    failed = sum(1 for r in results if isinstance(r, BaseException) or r.error)
    return {"setup": name, "gate": gate, "calls": len(cases), "wall_s": round(wall, 2), "accepted": accepted,
            "refused": refused, "accepted_per_s": round(accepted / wall, 2),
            "refused_share": round(refused / max(accepted + refused, 1), 4), "failed": failed,
            "paced_rpm_at_end": round(pace["rpm"], 1), "client_retries": client.stats["retries"]}


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    ap.add_argument("--only", default="", help="comma-separated set-ups (rps-none, rps-headers, rps-rpm, "
                                               "tpm-none, tpm-tpm)")
    a = ap.parse_args(argv)
    cases = make_cases(a.calls)
    tokens = judge_tokens(cases)
    tpm = RPS * 60 * tokens  # a tokens limit worth 10 of these requests a second
    setups = {
        "rps-none": (f"rps={RPS}", {"model": "openai/bench-rl"}),
        "rps-headers": (f"rps={RPS},headers=1", {"model": "openai/bench-rl"}),
        "rps-rpm": (f"rps={RPS}", {"model": "openai/bench-rl", "rpm": RPS * 60}),
        "tpm-none": (f"tpm={tpm}", {"model": "openai/bench-rl"}),
        "tpm-tpm": (f"tpm={tpm}", {"model": "openai/bench-rl", "tpm": tpm}),
    }
    want = [s for s in (a.only.split(",") if a.only else setups) if s]
    rows, figures = [], []
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "bench.duckdb")
        store.schema_version()
        for k, name in enumerate(want):
            gate, spec = setups[name]
            offset = (k + 1) * 10**6  # fresh notes: no reply is cached from an earlier set-up
            r = one(name, gate, spec, make_cases(a.calls, offset=offset), store)
            rows.append(r)
            print(f"{name:12s} {r['accepted_per_s']:6.2f} accepted/s  {100 * r['refused_share']:5.1f} % refused  "
                  f"{r['failed']} failed  ({r['wall_s']} s, pace at end {r['paced_rpm_at_end']} rpm)", flush=True)
            figures += [
                {"figure": f"{name}: accepted requests per second", "measured": r["accepted_per_s"], "unit": "req/s",
                 "target": ">= 9", "ok": r["accepted_per_s"] >= 9},
                {"figure": f"{name}: share of requests refused (429)", "measured": r["refused_share"], "unit": "",
                 "target": "<= 0.05", "ok": r["refused_share"] <= 0.05},
                {"figure": f"{name}: failed calls", "measured": r["failed"], "unit": "calls", "target": "0",
                 "ok": r["failed"] == 0},
            ]
    path = write_result("ratelimit", figures, calls=a.calls, concurrency=CONCURRENCY, latency_s=LATENCY,
                        limit_rps=RPS, tokens_per_request=tokens, tpm=tpm, setups=rows)
    print(f"wrote {path}")
    return 0 if all(f.get("ok", True) for f in figures) else 1


if __name__ == "__main__":
    sys.exit(main())
