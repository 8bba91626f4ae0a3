"""The offline judge on very long transcripts: CPU time and peak memory grow in proportion to length.

A note judged against ACI-Bench dialogues joined into one transcript of 0.95, 2, 4 and 8 MB, written
two ways: many turns, and one single turn (a run-on transcript with no turn breaks, the case that
used to cost quadratic time: 1 MB took 24 s, 2 MB 107 s). Each size runs in a fresh process so the
peak RSS is its own.

Run: ``.venv/bin/python bench/bench_long_transcript.py [--quick]`` → bench/results/long_transcript.json.
Target: near-linear, 1 MB <= 5 s; peak memory under 1 GB up to the 8 MB tried.

``parse_transcript`` (files, JSONL, the CLI) refuses a transcript over 1,000,000 characters
(``evalkit.security.limits.MAX_TRANSCRIPT_CHARS``); the judge itself takes whatever turns a library
caller builds, so the sizes past the limit are given as ``Turn`` objects, as such a caller would.
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import write_result  # noqa: E402

CHILD = r"""
import csv, json, resource, sys, time
from evalkit.text.parse import parse_note, parse_transcript
from evalkit.metrics.hallucination import judge_note
from evalkit.schema import SpeakerRole, Turn
from evalkit.security.limits import MAX_TRANSCRIPT_CHARS
rows = list(csv.DictReader(open(sys.argv[1], encoding="utf-8")))
target, mode = float(sys.argv[2]) * 1e6, sys.argv[3]
lines, size, i = [], 0, 0
while size < target:
    for line in rows[i % len(rows)]["dialogue"].splitlines():
        text = line.split("] ", 1)[-1]
        lines.append(text)
        size += len(text) + (1 if mode == "one" else 10)  # a space, or a newline and a speaker tag
    i += 1
if mode == "one":
    transcript = "[doctor] " + " ".join(lines)
else:
    transcript = "\n".join(("[doctor] " if k % 2 == 0 else "[patient] ") + t for k, t in enumerate(lines))
read = len(transcript) <= MAX_TRANSCRIPT_CHARS
if read:
    turns = parse_transcript(transcript)
else:  # past the read limit: the turns a library caller would build
    turns = [Turn(id=k, speaker=SpeakerRole.CLINICIAN if t.startswith("[doctor] ") else SpeakerRole.PATIENT,
                  text=t.split("] ", 1)[1]) for k, t in enumerate(transcript.split("\n"))]
note = parse_note(rows[0]["note"])
judge_note(parse_transcript(rows[1]["dialogue"]), parse_note(rows[1]["note"]))  # load the lexicon first
t = time.process_time()
judge_note(turns, note)
print(json.dumps({"mb": round(len(transcript) / 1e6, 2), "turns": len(turns),
                  "read": read, "cpu_s": round(time.process_time() - t, 3),
                  "peak_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1)}))
"""


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    sizes = (0.5, 0.95) if a.quick else (0.95, 2, 4, 8)  # 0.95 MB: read by parse_transcript, under its limit
    csv_path = str(HERE.parent / "datasets" / "aci-bench" / "train.csv")
    runs, figures = [], []
    for mode in ("many", "one"):
        for mb in sizes:
            out = subprocess.run([sys.executable, "-c", CHILD, csv_path, str(mb), mode], capture_output=True, text=True,
                                 check=True, cwd=HERE.parent)
            r = json.loads(out.stdout.strip().splitlines()[-1]) | {"mode": mode}
            runs.append(r)
            what = ("one turn" if mode == "one" else f"{r['turns']} turns") + \
                ("" if r["read"] else ", given as Turn objects: past the 1,000,000-character read limit")
            ok = r["cpu_s"] <= 5 * r["mb"] and r["peak_mb"] < 1024
            figures.append({"figure": f"judge on a {r['mb']} MB transcript ({what})",
                            "measured": f"{r['cpu_s']} s, {r['peak_mb']} MB peak", "target": "<= 5 s per MB, < 1 GB",
                            "ok": ok})
    write_result("long_transcript_quick" if a.quick else "long_transcript", figures, runs=runs)


if __name__ == "__main__":
    main()
