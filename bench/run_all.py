"""Run every benchmark in bench/ (bench_*.py), then write bench/results/README.md.

Each script writes bench/results/<name>.json; this collects their figures into one Markdown table
(figure, target, measured, machine). A script that fails is reported and the others still run.

Usage::

    .venv/bin/python bench/run_all.py              # every benchmark, full sizes (make bench)
    .venv/bin/python bench/run_all.py --quick      # smaller sizes, same code paths → bench/results/quick/
    .venv/bin/python bench/run_all.py rss llm      # only these (names with or without ``bench_``)
    .venv/bin/python bench/run_all.py --list       # what would run, with its arguments
    .venv/bin/python bench/run_all.py --readme     # only rebuild README.md from the result files

``--quick`` writes to bench/results/quick/ (ignored by git) so a smoke run never replaces the
figures of record. The first promptfoo run installs Node 22 and promptfoo with npm into
bench/.node (about 2 GB, a few minutes); later runs reuse it.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
import _common  # noqa: E402

#: name → (arguments of the full run, arguments of the quick run, what it measures)
BENCHES: dict[str, tuple[list[str], list[str], str]] = {
    "bench_llm": ([], ["--calls", "200", "--quick"], "judge/scribe runner overhead vs the latency bound"),
    "bench_promptfoo": ([], ["--calls", "200"], "evalkit vs promptfoo, same workload, same stub"),
    "bench_cached_rerun": ([], ["--sessions", "50"], "cached re-run: model calls and wall time"),
    "bench_scoring": ([], [], "offline scoring throughput vs jiwer, one core"),
    "bench_judge_offline": (["--quality"], [], "offline grounding judge speed (and accuracy)"),
    "bench_realnotes": ([], ["--quick"], "the offline judge on labelled real notes (ACI-Bench test1, 6 systems)"),
    "bench_long_transcript": ([], ["--quick"], "the offline judge on 1-8 MB transcripts: time and peak memory"),
    "bench_pipeline": ([], ["--n", "1"], "end-to-end offline pipeline vs real time"),
    "bench_app": ([], ["--sessions", "2000", "--no-browser"], "dashboard and queue queries p50/p95"),
    "bench_compare": ([], [], "compare/gate on 10,000 paired cases"),
    "bench_rss": ([], ["--sessions", "300"], "peak RSS of a large run"),
    "bench_scribes": ([], ["--no-asr"], "built-in scribes: rules speed, ASR real-time factor"),
    "bench_speech": ([], ["--no-sweep", "--vocab-cases", "1"], "speech synthesis, channels, Whisper RTF/WER"),
    "bench_streaming": ([], ["--n", "2", "--no-batch"], "streaming whisper: RTF, latency, stability at two windows"),
    "bench_synth": ([], ["4"], "synthetic consultations: generation and TTS speed"),
    "bench_ray": ([], [], "Ray executor speed-up over threads"),
    "bench_hostile": ([], [], "hostile inputs (issue 18): peak RSS and time, each in a watched subprocess"),
    "bench_batch": ([], ["--notes", "200", "--duration", "3"], "batch mode (issue 20): 2,000 notes through the "
                   "files+batches stub, killed between submit and completion, resumed: duplicates, batch price"),
    "bench_ratelimit": ([], ["--calls", "300", "--only", "rps-none,tpm-none"], "judging under a provider rate limit: accepted/s, refused, failed"),
}
QUICK_DIR = _common.RESULTS / "quick"
RUNS_FILE = "_run_all.json"  # per-benchmark exit code and wall time of the last run_all


def _scripts(only: list[str]) -> list[str]:
    found = sorted(p.stem for p in HERE.glob("bench_*.py"))
    order = [n for n in BENCHES if n in found] + [n for n in found if n not in BENCHES]
    if not only:
        return order
    want = {n if n.startswith("bench_") else f"bench_{n}" for n in only}
    unknown = want - set(found)
    if unknown:
        raise SystemExit(f"error: no such benchmark: {', '.join(sorted(unknown))} — fix: one of "
                         + ", ".join(n.removeprefix("bench_") for n in found))
    return [n for n in order if n in want]


def _fmt(v) -> str:
    if isinstance(v, float):
        return f"{v:g}"
    return str(v)


def _rows(data: dict) -> list[tuple[str, str, str, str]]:
    """(figure, target, measured, verdict) for each figure of one result file."""
    if isinstance(data.get("figures"), list):
        out = []
        for f in data["figures"]:
            ok = f.get("ok")
            verdict = "✅" if ok is True else "❌" if ok is False else ""
            tgt = f.get("target")
            out.append((str(f.get("figure")), "" if tgt is None else str(tgt),
                        f"{_fmt(f.get('measured'))} {f.get('unit') or ''}".strip(), verdict))
        return out
    return [(k, "", _fmt(v), "") for k, v in data.items()
            if k not in ("name", "machine", "when") and not isinstance(v, (dict, list))]


def _machine_line(m: dict) -> str:
    return f"{m.get('cpu') or '?'}, {m.get('cores')} cores, {m.get('memory_gb')} GB, Python {m.get('python')}"


def _cell(s: str) -> str:
    return str(s).replace("|", "\\|").replace("\n", " ")


def write_readme(results: Path, quick: bool) -> Path:
    """bench/results/README.md: one table of every figure, with its machine and date."""
    runs = {}
    try:
        runs = json.loads((results / RUNS_FILE).read_text())
    except (OSError, ValueError):
        pass
    files = []
    for f in sorted(results.glob("*.json")):
        if f.name.startswith("_"):
            continue
        try:
            files.append((f.stem, json.loads(f.read_text())))
        except ValueError:
            continue
    machines: dict[str, str] = {}
    for _, data in files:
        line = _machine_line(data.get("machine") or {})
        machines.setdefault(line, f"M{len(machines) + 1}")
    lines = ["# Benchmark results", ""]
    if quick:
        lines += ["**Quick run** (`bench/run_all.py --quick`): smaller sizes, same code paths. These are smoke "
                  "figures, not the figures of record (those are in `bench/results/`).", ""]
    lines += ["Produced by `make bench` (`bench/run_all.py`); each figure was measured in one run of its script, "
              "on the machine named in the last column. Re-run one benchmark with "
              "`.venv/bin/python bench/run_all.py NAME`.", "", "Machines:", ""]
    lines += [f"- {tag}: {line}" for line, tag in machines.items()]
    lines += ["", "| benchmark | figure | target | measured | ok | machine | measured on |",
              "|---|---|---|---|---|---|---|"]
    for stem, data in files:
        tag = machines[_machine_line(data.get("machine") or {})]
        when = str(data.get("when", ""))[:10]
        note = f" (skipped: {data['skipped']})" if data.get("skipped") else ""
        for fig, tgt, meas, ok in _rows(data):
            lines.append(f"| {stem} | {_cell(fig)} | {_cell(tgt)} | {_cell(meas + note)} | {ok} | {tag} | {when} |")
            note = ""
    if runs:
        lines += ["", "Last run of each script through run_all (wall time includes set-up, e.g. data generation):",
                  "", "| script | arguments | exit | wall time | when |", "|---|---|---:|---:|---|"]
        for name, r in runs.items():
            lines.append(f"| {name} | `{' '.join(r.get('args', [])) or '(defaults)'}` | {r.get('exit')} | "
                         f"{r.get('wall_s', 0):.0f} s | {r.get('when', '')} |")
    out = results / "README.md"
    out.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("names", nargs="*", help="only these benchmarks (e.g. rss llm)")
    ap.add_argument("--quick", action="store_true", help="smaller sizes, same code paths; results in bench/results/quick")
    ap.add_argument("--list", action="store_true", help="print what would run and exit")
    ap.add_argument("--readme", action="store_true", help="only rebuild README.md from the result files")
    a = ap.parse_args(argv)
    results = QUICK_DIR if a.quick else _common.RESULTS
    scripts = _scripts(a.names)
    plan = [(n, (BENCHES.get(n, ([], [], ""))[1 if a.quick else 0])) for n in scripts]
    if a.list:
        for n, args in plan:
            print(f"{n:<22} {' '.join(args) or '(defaults)':<40} {BENCHES.get(n, ([], [], ''))[2]}")
        return 0
    if a.readme:
        print(f"wrote {write_readme(results, a.quick)}")
        return 0
    results.mkdir(parents=True, exist_ok=True)
    env = {**os.environ, "EVALKIT_BENCH_RESULTS": str(results)}
    try:
        runs = json.loads((results / RUNS_FILE).read_text())
    except (OSError, ValueError):
        runs = {}
    failed = []
    for name, args in plan:
        print(f"== {name} {' '.join(args)}", flush=True)
        t0 = time.perf_counter()
        try:
            rc = subprocess.call([sys.executable, str(HERE / f"{name}.py"), *args], cwd=HERE.parent, env=env)
        except KeyboardInterrupt:
            rc = 130
        wall = time.perf_counter() - t0
        print(f"== {name}: exit {rc} in {wall:.0f}s", flush=True)
        runs[name] = {"args": args, "exit": rc, "wall_s": round(wall, 1),
                      "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())}
        (results / RUNS_FILE).write_text(json.dumps(runs, indent=2))
        if rc:
            failed.append(name)
        if rc == 130:
            break
    out = write_readme(results, a.quick)
    print(f"wrote {out}")
    if failed:
        print("failed or missed a target: " + ", ".join(failed))
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main())
