"""Make labelling packets for the real-note benchmark (issue 15): one folder per encounter.

Each packet holds the encounter's dialogue with numbered turns, its metadata, and every chosen
system's note cut into numbered segments (``evalkit.calibrate.segment``), plus a JSON skeleton a
labeller fills in following ``datasets/aci-bench-labels/GUIDE.md``. No judge output is in a packet.

    python scripts/label_packets.py --src datasets/aci-bench/test1 --out /tmp/packets
    python scripts/label_packets.py --src datasets/aci-bench/test1 --out /tmp/packets --encounters D2N094,D2N106
"""

from __future__ import annotations

import argparse
import csv
import json
import random
import re
from pathlib import Path

from evalkit.calibrate.segment import segment_note

SYSTEMS = ("human", "gpt-4", "chatgpt", "text-davinci-003", "biobart-division", "bart-large")
_TAG = re.compile(r"^\s*\[([^\]]+)\]\s*(.*)$")


def read(path: Path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8-sig", newline="") as f:
        return list(csv.DictReader(f))


def turns(dialogue: str) -> list[tuple[str, str]]:
    """(speaker tag, text) per turn, numbered the way evalkit's transcript parser numbers them."""
    out: list[tuple[str, str]] = []
    for line in dialogue.splitlines():
        if not line.strip():
            continue
        m = _TAG.match(line)
        if m:
            out.append((m.group(1), m.group(2).strip()))
        elif out:
            out[-1] = (out[-1][0], (out[-1][1] + " " + line.strip()).strip())
        else:
            out.append(("untagged", line.strip()))
    return out


def choose(rows: list[dict[str, str]], seed: int) -> dict[str, list[str]]:
    """Encounters per role: dev (rules may be developed on them) and test (measured only)."""
    by: dict[str, list[str]] = {}
    for r in rows:
        by.setdefault(r["dataset"], []).append(r["encounter_id"])
    rng = random.Random(seed)
    plan = {"virtassist": (1, 2), "virtscribe": (1, 2), "aci": (2, 4)}
    out: dict[str, list[str]] = {"dev": [], "test": []}
    for sub, (n_dev, n_test) in plan.items():
        ids = sorted(by[sub])
        pick = rng.sample(ids, n_dev + n_test)
        out["dev"] += pick[:n_dev]
        out["test"] += pick[n_dev:]
    return out


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--src", type=Path, required=True)
    ap.add_argument("--out", type=Path, required=True)
    ap.add_argument("--seed", type=int, default=15)
    ap.add_argument("--encounters", default="",
                    help="comma-separated encounter ids to pack instead of the seeded choice (with --role)")
    ap.add_argument("--role", default="holdout", help="the split name of --encounters (e.g. holdout)")
    ap.add_argument("--add-dev", type=int, default=0,
                    help="add this many more dev encounters (drawn from those not yet chosen, per sub-corpus in turn)")
    a = ap.parse_args()
    if a.encounters and a.add_dev:
        ap.error("--add-dev draws more dev encounters around the seeded choice; it cannot go with --encounters")
    rows = read(a.src / "test1.csv")
    meta = {r["encounter_id"]: r for r in read(a.src / "test1_metadata.csv")}
    notes = {"human": {r["encounter_id"]: r["note"] for r in rows}}
    for s in SYSTEMS[1:]:
        notes[s] = {r["encounter_id"]: r["note"] for r in read(a.src / "systems" / f"{s}.csv")}
    roles = {a.role: [e.strip() for e in a.encounters.split(",") if e.strip()]} if a.encounters \
        else choose(rows, a.seed)
    if a.add_dev:
        taken = set(roles["dev"]) | set(roles["test"])
        rng = random.Random(a.seed + 1)
        pools = {sub: [r["encounter_id"] for r in rows if r["dataset"] == sub and r["encounter_id"] not in taken]
                 for sub in ("virtassist", "virtscribe", "aci")}
        extra = []
        while len(extra) < a.add_dev:
            for sub in pools:
                if pools[sub] and len(extra) < a.add_dev:
                    extra.append(pools[sub].pop(rng.randrange(len(pools[sub]))))
        roles["dev"] += extra
    a.out.mkdir(parents=True, exist_ok=True)
    (a.out / "split.json").write_text(json.dumps(roles, indent=1))
    by_id = {r["encounter_id"]: r for r in rows}
    for role, ids in roles.items():
        for eid in ids:
            d = a.out / eid
            d.mkdir(exist_ok=True)
            md = [f"# Encounter {eid} ({by_id[eid]['dataset']}, {role} set)", "", "## Metadata (from the record; not said in the visit unless the dialogue says it)", ""]
            md += [f"- {k}: {v}" for k, v in meta.get(eid, {}).items() if v]
            md += ["", "## Dialogue (turn numbers are the evidence ids)", ""]
            md += [f"T{i} [{tag}] {text}" for i, (tag, text) in enumerate(turns(by_id[eid]["dialogue"]))]
            skel = {"encounter_id": eid, "labeller": "", "notes": []}
            for s in SYSTEMS:
                note = notes[s][eid]
                spans = segment_note(note)
                md += ["", f"## Note by system `{s}`", ""]
                md += [f"{s}:s{i} {'[heading] ' if sp.heading else ''}{sp.text}" for i, sp in enumerate(spans)]
                skel["notes"].append({"system": s, "sentences": [
                    {"id": f"s{i}", "start": sp.start, "end": sp.end, "text": sp.text, "label": None,
                     "severity": None, "type": None, "why": None} for i, sp in enumerate(spans)],
                    "omissions": []})
            (d / "packet.md").write_text("\n".join(md) + "\n")
            (d / "labels.skeleton.json").write_text(json.dumps(skel, indent=1))
    print(json.dumps(roles))


if __name__ == "__main__":
    main()
