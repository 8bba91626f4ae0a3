"""The offline judge on labelled real notes (ACI-Bench test1, six systems), against issue 15's targets.

Runs ``evalkit.calibrate.realnotes.judge_bench`` on the sentence labels shipped in
``datasets/aci-bench-labels`` — the holdout split (labelled after judge 2.5's rules froze, never read
while developing), the test split (measured, but its flags were read for 2.5) and the dev split (rules
developed, confidences fitted) — at the review queue's
operating point (flags at confidence >= 0.5) and with every flag. Figures per system and overall:
flag precision, recall of labelled errors (all / major), false major flags per faithful human
note, the share of major flags on labelled-major errors, omission precision and recall of
labelled major omissions, and the reliability of the judge's confidence (flags at >= 0.8).

Run: ``.venv/bin/python bench/bench_realnotes.py [--quick]`` → bench/results/realnotes.json
(``--quick``: the gpt-4 and human notes only).
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
sys.path.insert(0, str(HERE.parent))
from _common import write_result  # noqa: E402

LABELS = HERE.parent / "datasets" / "aci-bench-labels"
OPERATING_POINT = 0.5


def _faithful_human(outs, min_conf: float) -> float | None:
    """Major flags on sentences labelled ok, per human note with no labelled error."""
    faithful = [o for o in outs if o.note.system == "human" and not any(s.label == "error" for s in o.note.sentences)]
    if not faithful:
        return None
    n = sum(1 for o in faithful for so in o.sentences if so.label.label == "ok"
            and any(c.severity == "major" for c in so.flags(min_conf)))
    return round(n / len(faithful), 3)


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--quick", action="store_true")
    a = ap.parse_args()
    from evalkit.calibrate.labels import labeller_agreement, load_labelled_set
    from evalkit.calibrate.realnotes import judge_bench, judge_notes
    from evalkit.metrics.hallucination import GroundingJudge

    systems = ("gpt-4", "human") if a.quick else None
    judge = GroundingJudge()
    figures: list[dict] = []
    detail: dict = {}
    for split in ("holdout", "test", "dev"):
        lset = load_labelled_set(LABELS, "A", splits=(split,), systems=systems)
        judge_notes(judge, load_labelled_set(LABELS, "A", splits=(split,), systems=("human",)))  # warm (lexicon)
        t = time.process_time()
        outs = judge_notes(judge, lset)
        ms = (time.process_time() - t) * 1000 / max(1, len(outs))
        for mc in (OPERATING_POINT, 0.0):
            res = judge_bench(judge, lset, min_confidence=mc, outcomes=outs)
            detail[f"{split}@{mc:g}"] = res
            o = res["overall"]
            tag = f"{split} split, flags at confidence >= {mc:g}" if mc else f"{split} split, every flag"
            if split in ("holdout", "test") and mc == OPERATING_POINT:
                figures += [
                    {"figure": f"flag precision, all systems ({tag})", "measured": o["precision"], "target": ">= 0.80",
                     "ok": (o["precision"] or 0) >= 0.80},
                    *({"figure": f"flag precision, {s} ({tag})", "measured": f["precision"], "target": ">= 0.60",
                       "ok": f["precision"] is not None and f["precision"] >= 0.60}
                      for s, f in res["systems"].items()),
                    {"figure": f"recall of labelled major errors ({tag})", "measured": o["recall_major"],
                     "target": ">= 0.85", "ok": (o["recall_major"] or 0) >= 0.85},
                    {"figure": f"recall of labelled errors ({tag})", "measured": o["recall"]},
                    {"figure": f"major flags on sentences labelled ok, per faithful human note ({tag})",
                     "measured": _faithful_human(outs, mc), "target": "<= 0.5",
                     "ok": (_faithful_human(outs, mc) or 0) <= 0.5},
                    {"figure": f"flags marked major that are on labelled-major errors ({tag})",
                     "measured": o["major_on_major"], "target": ">= 0.75", "ok": (o["major_on_major"] or 0) >= 0.75},
                    {"figure": f"omission precision ({split} split)", "measured": o["omission_precision"],
                     "target": ">= 0.70", "ok": (o["omission_precision"] or 0) >= 0.70},
                    {"figure": f"recall of labelled major omissions ({split} split)",
                     "measured": o["omission_recall_major"],
                     "target": ">= 0.70", "ok": (o["omission_recall_major"] or 0) >= 0.70},
                ]
                rel = [r for r in res["reliability"] if r["confidence"].startswith(("[0.8", "[0.9"))]
                flags = sum(r["flags"] for r in rel)
                right = sum(r["on_errors"] for r in rel)
                figures.append({"figure": f"flags at confidence >= 0.8 that are right ({split} split)",
                                "measured": round(right / flags, 3) if flags else None, "target": ">= 0.80",
                                "ok": bool(flags) and right / flags >= 0.80})
            else:
                figures.append({"figure": f"flag precision / recall of major errors ({tag})",
                                "measured": f"{o['precision']} / {o['recall_major']}"})
        figures.append({"figure": f"judge CPU per note ({split} split)", "measured": round(ms, 2), "unit": "ms"})
    second = load_labelled_set(LABELS, "B", systems=systems)
    agr = labeller_agreement(load_labelled_set(LABELS, "A", systems=systems), second)
    figures.append({"figure": f"labellers' agreement on {agr['notes']} notes: Cohen's kappa (error / not)",
                    "measured": agr["kappa_error"]})
    write_result("realnotes_quick" if a.quick else "realnotes", figures, detail=detail, agreement=agr)


if __name__ == "__main__":
    main()
