"""Collect labellers' files (one JSON per encounter, made from ``label_packets.py``'s skeletons) into
the shipped benchmark: ``datasets/aci-bench-labels/labels-<LABELLER>.jsonl`` (one note a line) and
``hard-calls.jsonl``.

    python scripts/collect_labels.py --labels /tmp/labelling/labels --split /tmp/packets/split.json
    python scripts/collect_labels.py --labels /tmp/holdout/labels --split /tmp/holdout/split.json --append
"""

from __future__ import annotations

import argparse
import json
from pathlib import Path

OUT = Path(__file__).resolve().parents[1] / "datasets" / "aci-bench-labels"
SOURCE = {"human": "test1/test1.csv"}


def _kept(path: Path, split: dict[str, str]) -> list[dict]:
    """The lines of a shipped file whose encounter is not being (re)labelled now."""
    if not path.exists():
        return []
    rows = [json.loads(x) for x in path.read_text(encoding="utf-8").splitlines() if x.strip()]
    return [r for r in rows if r["encounter_id"] not in split]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--labels", type=Path, required=True, help="folder with one sub-folder per labeller")
    ap.add_argument("--split", type=Path, required=True)
    ap.add_argument("--append", action="store_true",
                    help="add these encounters to the shipped files (replacing any earlier labels of them)")
    a = ap.parse_args()
    split = {eid: role for role, ids in json.loads(a.split.read_text()).items() for eid in ids}
    OUT.mkdir(parents=True, exist_ok=True)
    hard = _kept(OUT / "hard-calls.jsonl", split) if a.append else []
    for folder in sorted(p for p in a.labels.iterdir() if p.is_dir()):
        lines = _kept(OUT / f"labels-{folder.name}.jsonl", split) if a.append else []
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
