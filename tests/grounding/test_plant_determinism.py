"""Planted errors depend on the seed only, never on Python's per-process string hashing."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from tests.conftest import ACI

SCRIPT = """
import json, random
from pathlib import Path
from evalkit.calibrate.plant import KINDS, plant_error
from evalkit.importers.aci_bench import load_aci_bench
out = []
for c in load_aci_bench(Path(%r), dataset="x"):
    for k in KINDS:
        r = plant_error(c.reference_note, c.turns, k, random.Random(f"{c.id}:{k}"))
        out.append(None if r is None else [r[1].kind, r[1].sentence_id, r[1].new])
print(json.dumps(out))
"""


def test_same_seed_same_planted_errors_under_any_hash_seed():
    outs = []
    for seed in ("0", "123"):
        env = {**os.environ, "PYTHONHASHSEED": seed}
        proc = subprocess.run([sys.executable, "-c", SCRIPT % str(ACI / "valid.csv")], env=env,
                              capture_output=True, text=True, check=True)
        outs.append(proc.stdout)
    assert outs[0] == outs[1] and outs[0].count("fabricated_medication") >= 6
