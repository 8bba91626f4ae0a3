"""Helpers for benchmark scripts: machine description and a standard result file."""

from __future__ import annotations

import json
import os
import platform
import time
from pathlib import Path

#: where result files go: bench/results, or EVALKIT_BENCH_RESULTS (``run_all.py --quick`` uses bench/results/quick)
RESULTS = Path(os.environ.get("EVALKIT_BENCH_RESULTS") or Path(__file__).resolve().parent / "results")


def machine() -> dict:
    cpu = platform.processor() or ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    mem_gb = None
    try:
        mem_gb = round(os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30, 1)
    except (ValueError, OSError):
        pass
    return {"cpu": cpu, "cores": os.cpu_count(), "memory_gb": mem_gb, "python": platform.python_version(),
            "platform": platform.platform()}


def write_result(name: str, figures: list[dict], **extra) -> Path:
    """Write bench/results/<name>.json.

    Args:
        name: benchmark name.
        figures: dicts with ``figure``, ``measured``, ``unit`` and optionally ``target`` and ``ok``.
    """
    RESULTS.mkdir(parents=True, exist_ok=True)
    out = RESULTS / f"{name}.json"
    out.write_text(json.dumps({"name": name, "figures": figures, "machine": machine(),
                               "when": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), **extra},
                              indent=2, default=str))
    for f in figures:
        tgt = f" (target {f['target']})" if f.get("target") is not None else ""
        print(f"{name}: {f['figure']}: {f['measured']} {f.get('unit', '')}{tgt}")
    return out
