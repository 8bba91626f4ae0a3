"""Collect labellers' files (one JSON per encounter, made from ``label_packets.py``'s skeletons) into
the shipped benchmark: ``datasets/aci-bench-labels/labels-<LABELLER>.jsonl`` (one note a line) and
``hard-calls.jsonl``.

    python scripts/collect_labels.py --labels /tmp/labelling/labels --split /tmp/packets/split.json
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "datasets" / "aci-bench-labels"
SOURCE = {"human": "test1/test1.csv"}


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--labels", type=Path, required=True, help="folder with one sub-folder per labeller")
    ap.add_argument("--split", type=Path, required=True)
    a = ap.parse_args()
    split = {eid: role for role, ids in json.loads(a.split.read_text()).items() for eid in ids}
    OUT.mkdir(parents=True, exist_ok=True)
    hard = []
    for folder in sorted(p for p in a.labels.iterdir() if p.is_dir()):
        lines = []
        for f in sorted(folder.glob("*.json")):
            d = json.loads(f.read_text())
            eid = d["encounter_id"]
            for n in d["notes"]:
                lines.append({"encounter_id": eid, "system": n["system"], "split": split[eid],
                              "labeller": folder.name,
                              "source": SOURCE.get(n["system"], f"test1/systems/{n['system']}.csv"),
                              "sentences": n["sentences"], "omissions": n.get("omissions", [])})
            if d.get("hard_calls"):
                hard.append({"encounter_id": eid, "labeller": folder.name, "hard_calls": d["hard_calls"]})
        (OUT / f"labels-{folder.name}.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in lines))
        print(folder.name, len(lines), "notes", sum(len(x["sentences"]) for x in lines), "sentences")
    (OUT / "hard-calls.jsonl").write_text("".join(json.dumps(x, ensure_ascii=False) + "\n" for x in hard))


if __name__ == "__main__":
    main()
