"""Labelled real notes: the format of a sentence-labelled benchmark, and its loader.

A labelled set is a folder (``datasets/aci-bench-labels/`` ships one) with:

- ``manifest.json``: ``{"data": "../aci-bench", "dialogues": "test1/test1.csv",
  "metadata": "test1/test1_metadata.csv"}`` — where the dialogues and notes are, relative to it;
- ``labels-<LABELLER>.jsonl``: one labelled note a line, ``{"encounter_id", "system", "split",
  "labeller", "source", "sentences": [...], "omissions": [...]}``; ``source`` is the CSV holding
  the note (``encounter_id, note``) relative to ``data``; each sentence is ``{"id", "start", "end",
  "text", "label": ok|error|outside, "severity": major|minor|null, "type", "why"}`` with
  ``note[start:end] == text`` (see :mod:`evalkit.calibrate.segment`); each omission is ``{"text",
  "severity", "turns": [turn ids], "why"}``.

Labels follow ``datasets/aci-bench-labels/GUIDE.md``.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..schema import Case, Turn

LABELS = ("ok", "error", "outside")
SEVERITIES = ("major", "minor")


@dataclass(frozen=True)
class LabelledSentence:
    """One labelled segment of a note."""

    id: str
    start: int
    end: int
    text: str
    label: str  # ok | error | outside
    severity: str | None  # major | minor for error/outside
    type: str | None  # CREOLA-style error type, or "heading"
    why: str = ""


@dataclass(frozen=True)
class LabelledOmission:
    """A clinically relevant dialogue fact the note leaves out."""

    text: str
    severity: str
    turns: tuple[int, ...]
    why: str = ""


@dataclass
class LabelledNote:
    """A note as written by one system for one encounter, with one labeller's labels."""

    encounter_id: str
    system: str
    split: str
    labeller: str
    note: str
    sentences: list[LabelledSentence]
    omissions: list[LabelledOmission]

    @property
    def key(self) -> tuple[str, str]:
        return self.encounter_id, self.system


@dataclass
class Encounter:
    """The conversation a labelled note is judged against, and its record context."""

    id: str
    turns: list[Turn]
    case: Case


@dataclass
class LabelledSet:
    """Labelled notes (one labeller) and the encounters they belong to."""

    notes: list[LabelledNote]
    encounters: dict[str, Encounter]
    labeller: str
    folder: Path
    splits: tuple[str, ...] = field(default_factory=tuple)


def labellers(folder: str | Path) -> list[str]:
    """The labellers with a ``labels-<NAME>.jsonl`` in ``folder``."""
    return sorted(p.stem.removeprefix("labels-") for p in Path(folder).glob("labels-*.jsonl"))


def _sentence(where: str, s: dict[str, Any], note: str) -> LabelledSentence:
    try:
        out = LabelledSentence(id=str(s["id"]), start=int(s["start"]), end=int(s["end"]), text=str(s["text"]),
                               label=s["label"], severity=s.get("severity"), type=s.get("type"),
                               why=str(s.get("why") or ""))
    except (KeyError, TypeError, ValueError) as e:
        raise InputError(where, "sentences", f"a sentence lacks {e}",
                         'give {"id", "start", "end", "text", "label", "severity", "type", "why"}') from None
    if out.label not in LABELS:
        raise InputError(where, f"{out.id}.label", f"is {out.label!r}", f"use one of {', '.join(LABELS)}")
    if out.label != "ok" and out.severity not in SEVERITIES:
        raise InputError(where, f"{out.id}.severity", f"is {out.severity!r} for a {out.label} sentence",
                         "use major or minor")
    if note[out.start:out.end] != out.text:
        raise InputError(where, f"{out.id}.start/end", "do not select the sentence's text in the note",
                         "the note file changed since labelling: re-make the labels' offsets")
    return out


def load_labelled_set(folder: str | Path, labeller: str = "A", splits: tuple[str, ...] | None = None,
                      systems: tuple[str, ...] | None = None, encounters: tuple[str, ...] | None = None) -> LabelledSet:
    """Load one labeller's labels with their notes and conversations.

    Args:
        folder: the labelled set's folder (``manifest.json`` and ``labels-*.jsonl``).
        labeller: whose labels (``labels-<labeller>.jsonl``).
        splits: keep only these splits (e.g. ``("test",)``); None keeps all.
        systems: keep only these systems; None keeps all.
        encounters: keep only these encounter ids; None keeps all.

    Raises:
        InputError: a missing file or a malformed line, naming the file, line and fix.
    """
    from ..importers.aci_bench import find_metadata, load_aci_bench, read_csv_rows

    root = Path(folder)
    man_path = root / "manifest.json"
    if not man_path.is_file():
        raise InputError(str(man_path), None, "file not found",
                         'give a folder with manifest.json ({"data", "dialogues", "metadata"}) and labels-*.jsonl')
    man = json.loads(man_path.read_text(encoding="utf-8"))
    data = (root / man.get("data", ".")).resolve()
    path = root / f"labels-{labeller}.jsonl"
    if not path.is_file():
        have = ", ".join(labellers(root)) or "none"
        raise InputError(str(path), None, "file not found", f"labellers here: {have}")
    dialogues = data / man["dialogues"]
    meta = data / man["metadata"] if man.get("metadata") else find_metadata(dialogues)
    cons = {c.id: c for c in load_aci_bench(dialogues, meta, dataset="labelled")}
    note_files: dict[str, dict[str, str]] = {}
    notes: list[LabelledNote] = []
    for n, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1):
        if not line.strip():
            continue
        where = f"{path}:{n}"
        try:
            rec = json.loads(line)
            eid, system, split = rec["encounter_id"], rec["system"], rec.get("split", "test")
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise InputError(where, None, f"is not a labelled note ({e})",
                             'one {"encounter_id", "system", "split", "source", "sentences", "omissions"} a line') from None
        if (splits and split not in splits) or (systems and system not in systems) or (
                encounters and eid not in encounters):
            continue
        src = rec.get("source") or man["dialogues"]
        if src not in note_files:
            note_files[src] = {r["encounter_id"]: r["note"] for r in read_csv_rows(
                data / src, ("encounter_id", "note"), "a note CSV has the columns encounter_id, note")}
        if eid not in note_files[src] or eid not in cons:
            raise InputError(where, "encounter_id", f"{eid} is not in {src}", "label notes of the manifest's data")
        note = note_files[src][eid]
        sents = [_sentence(where, s, note) for s in rec.get("sentences") or []]
        oms = [LabelledOmission(text=str(o.get("text", "")), severity=o.get("severity") or "minor",
                                turns=tuple(int(t) for t in o.get("turns") or ()), why=str(o.get("why") or ""))
               for o in rec.get("omissions") or []]
        notes.append(LabelledNote(eid, system, split, rec.get("labeller", labeller), note, sents, oms))
    used = {n.encounter_id for n in notes}
    encs = {eid: Encounter(eid, cons[eid].turns, cons[eid].case) for eid in sorted(used)}
    return LabelledSet(notes, encs, labeller, root, tuple(sorted({n.split for n in notes})))


def labeller_agreement(first: LabelledSet, second: LabelledSet) -> dict[str, Any]:
    """How far two labellers agree on the notes both labelled: Cohen's κ and raw agreement.

    Sentence labels (ok / error / outside), errors alone (error vs not), and severity (none /
    minor / major, weighted κ); omissions as the share of each labeller's major omissions the
    other also listed (matched as in :func:`evalkit.calibrate.matching.omission_matches`).
    """
    from ..review.agreement import cohen_kappa
    from .matching import omission_matches

    other = {n.key: n for n in second.notes}
    la, lb, ea, eb, sa, sb = [], [], [], [], [], []
    om_hits, om_total = [0, 0], [0, 0]
    shared = []
    for n in first.notes:
        m = other.get(n.key)
        if m is None or [s.id for s in n.sentences] != [s.id for s in m.sentences]:
            continue
        shared.append(n.key)
        for x, y in zip(n.sentences, m.sentences):
            la.append(x.label)
            lb.append(y.label)
            ea.append(x.label == "error")
            eb.append(y.label == "error")
            sa.append(x.severity if x.label == "error" else "none")
            sb.append(y.severity if y.label == "error" else "none")
        for k, (mine, theirs) in enumerate(((n, m), (m, n))):
            for o in mine.omissions:
                if o.severity == "major":
                    om_total[k] += 1
                    om_hits[k] += any(omission_matches(o.text, o.turns, t.text, t.turns) for t in theirs.omissions)

    def k(a: list, b: list, labels: list, weights: str | None = None) -> float | None:
        return round(cohen_kappa(a, b, labels=labels, weights=weights), 3) if a else None

    return {
        "labellers": [first.labeller, second.labeller], "notes": len(shared), "sentences": len(la),
        "encounters": sorted({e for e, _ in shared}),
        "kappa_label": k(la, lb, ["ok", "error", "outside"]),
        "kappa_error": k(ea, eb, [False, True]),
        "kappa_severity": k(sa, sb, ["none", "minor", "major"], "linear"),
        "agreement_error": round(sum(x == y for x, y in zip(ea, eb)) / len(ea), 3) if ea else None,
        "errors": [sum(ea), sum(eb)],
        "major_omissions_also_listed": [round(h / t, 3) if t else None for h, t in zip(om_hits, om_total)],
    }
