"""Run every benchmark in bench/ (bench_*.py), then write bench/results/README.md.

Each script writes bench/results/<name>.json; this collects their figures into one table
(figure, target, measured, machine). A script that fails is reported and the others still run.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import RESULTS, machine  # noqa: E402


def _rows(data: dict) -> list[tuple[str, str, str]]:
    if isinstance(data.get("figures"), list):
        return [(str(f.get("figure")), str(f.get("target", "")),
                 f"{f.get('measured')} {f.get('unit', '')}".strip()) for f in data["figures"]]
    rows = []
    for k, v in data.items():
        if k in ("name", "machine", "when") or isinstance(v, (dict, list)):
            continue
        rows.append((k, "", str(v)))
    return rows


def main(argv: list[str]) -> int:
    only = set(argv)
    scripts = sorted(p for p in HERE.glob("bench_*.py") if not only or p.stem in only)
    failed = []
    for p in scripts:
        print(f"== {p.name}", flush=True)
        t0 = time.perf_counter()
        rc = subprocess.call([sys.executable, str(p)], cwd=HERE.parent)
        print(f"== {p.name}: exit {rc} in {time.perf_counter() - t0:.0f}s", flush=True)
        if rc:
            failed.append(p.name)
    m = machine()
    lines = ["# Benchmark results", "",
             f"Machine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB, Python {m['python']}.", "",
             "Produced by `make bench` (bench/run_all.py). Each figure is measured in one run on this machine.", "",
             "| benchmark | figure | target | measured |", "|---|---|---|---|"]
    for f in sorted(RESULTS.glob("*.json")):
        try:
            data = json.loads(f.read_text())
        except ValueError:
            continue
        for fig, tgt, meas in _rows(data):
            lines.append(f"| {f.stem} | {fig} | {tgt} | {meas} |")
    if failed:
        lines += ["", "Failed this time: " + ", ".join(failed)]
    (RESULTS / "README.md").write_text("\n".join(lines) + "\n")
    print(f"wrote {RESULTS / 'README.md'}")
    return 1 if failed else 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
