"""The example gate file separates the published ACI-Bench systems the way docs/ci-gate.md says."""

from __future__ import annotations

import csv
import json

import pytest

from evalkit.compare.gate import run_gate
from evalkit.importers.aci_bench import load_aci_bench
from evalkit.run.runner import run_suite
from evalkit.store import Store
from evalkit.run.suite import Suite
from tests.conftest import ACI, REPO

GATE = REPO / "examples" / "gate.yaml"
ABSOLUTE = {"major hallucinations in at most 35% of notes", "at most a quarter of the visit's salient facts left out",
            "template adherence at least 80%"}


@pytest.fixture(scope="module")
def published(tmp_path_factory):
    tmp = tmp_path_factory.mktemp("published")
    store = Store(tmp / "p.duckdb")
    cases = load_aci_bench(ACI / "test1" / "test1.csv", ACI / "test1" / "test1_metadata.csv", dataset="test1")
    store.put_consultations(cases)
    dialogue = {c.id: "\n".join(f"[{'doctor' if t.speaker.value == 'CLINICIAN' else 'patient'}] {t.text}"
                                for t in c.turns) for c in cases}
    for system in ("chatgpt", "bart-large"):
        with (ACI / "test1" / "systems" / f"{system}.csv").open(encoding="utf-8", newline="") as f:
            rows = list(csv.DictReader(f))
        path = tmp / f"{system}.jsonl"
        path.write_text("".join(json.dumps({"id": r["encounter_id"], "transcript": dialogue[r["encounter_id"]],
                                            "note": r["note"]}) + "\n" for r in rows))
        suite = Suite(name=f"published-{system}", dataset="test1", scribes=["replay"],
                      scribe_options={"replay": {"path": str(path)}}, template="HISTORY_AND_PHYSICAL",
                      metrics=["wer", "adherence", "hallucination"])
        run_suite(suite, store, label=system, progress=False)
    return store


def test_the_better_published_system_passes_and_the_weaker_fails(published):
    good = {r.name: r for r in run_gate(published, "chatgpt", GATE, baseline="bart-large").results}
    bad = {r.name: r for r in run_gate(published, "bart-large", GATE, baseline="chatgpt").results}
    assert all(good[n].passed for n in ABSOLUTE), {n: good[n].message for n in ABSOLUTE}
    assert not any(bad[n].passed for n in ABSOLUTE), {n: bad[n].message for n in ABSOLUTE}
