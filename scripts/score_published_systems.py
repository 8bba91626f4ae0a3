"""Score the notes the published ACI-Bench systems wrote for test1, the way a suite run does.

Each system's notes are replayed (``replay`` scribe; the transcript is the true dialogue, so WER is
0) through the default suite metrics and flag rules into a temporary database, and the figures a
gate file checks are printed per system: the share of notes with a major hallucination (all flags,
and flags at the default rule's confidence >= 0.5), hallucination and omission rates, adherence to
the HISTORY_AND_PHYSICAL template. docs/ci-gate.md uses them to set examples/gate.yaml.

    .venv/bin/python scripts/score_published_systems.py [--json out.json]
"""

from __future__ import annotations

import argparse
import csv
import json
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
TEST1 = ROOT / "datasets" / "aci-bench" / "test1"
SYSTEMS = ("human", "gpt-4", "chatgpt", "text-davinci-003", "text-davinci-002", "bart-large", "biobart-division",
           "bart-large-xsum-samsum-division", "led-division", "longest-doctor-turn", "transcript")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--json", type=Path)
    a = ap.parse_args()
    from evalkit.compare.data import load_side
    from evalkit.importers.aci_bench import load_aci_bench
    from evalkit.run.runner import run_suite
    from evalkit.store import Store
    from evalkit.run.suite import Suite

    out = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = Store(Path(tmp) / "published.duckdb")
        cases = load_aci_bench(TEST1 / "test1.csv", TEST1 / "test1_metadata.csv", dataset="test1")
        store.put_consultations(cases)
        dialogue = {c.id: "\n".join(f"[{'doctor' if t.speaker.value == 'CLINICIAN' else 'patient'}] {t.text}"
                                    for t in c.turns) for c in cases}
        for system in SYSTEMS:
            src = TEST1 / "test1.csv" if system == "human" else TEST1 / "systems" / f"{system}.csv"
            with src.open(encoding="utf-8", newline="") as f:
                notes = {r["encounter_id"]: r["note"] for r in csv.DictReader(f)}
            replay = Path(tmp) / f"{system}.jsonl"
            replay.write_text("".join(json.dumps({"id": eid, "transcript": dialogue[eid], "note": note}) + "\n"
                                      for eid, note in notes.items()), encoding="utf-8")
            suite = Suite(name=f"published-{system}", dataset="test1", scribes=["replay"],
                          scribe_options={"replay": {"path": str(replay)}}, template="HISTORY_AND_PHYSICAL",
                          metrics=["adherence", "hallucination"], concurrency=2)
            (run_id,) = run_suite(suite, store, label=system, progress=False)
            side = load_side(store, run_id)
            t = side.sessions
            confident = [any(f.kind == "claim" and f.verdict != "supported" and f.severity == "major"
                             and (f.confidence is None or f.confidence >= 0.5)
                             for f in store.session_detail(sid)["findings"])
                         for sid in store.run_sessions(run_id)["session_id"]]
            out[system] = {
                "notes": len(t),
                "major_hallucination_rate": round(float(t["major_hallucination_rate"].mean()), 3),
                "major_hallucination_rate_confident": round(sum(confident) / len(confident), 3) if confident else None,
                "hallucination_rate": round(float(t["hallucination_rate"].mean()), 3),
                "omission_rate": round(float(t["omission_rate"].mean()), 3),
                "adherence": round(float(t["adherence"].mean()), 3),
                "adherence_p10": round(float(t["adherence"].quantile(0.1)), 3),
                "flagged_rate": round(float(t["flagged_rate"].mean()), 3),
            }
            print(system.ljust(32), " ".join(f"{k}={v}" for k, v in out[system].items()), flush=True)
    if a.json:
        a.json.write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
