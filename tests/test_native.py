"""Compiled (mypyc) scoring modules: same output as pure Python, never stale, and built by make install."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from evalkit import native

from tests.conftest import ACI as ACI_DIR

ACI = ACI_DIR / "valid.csv"

# judge and WER over ACI-Bench dialogues, clean and with every kind of planted error
SCRIPT = r"""
import json, random, sys
import pandas as pd
from evalkit import native
from evalkit.calibrate import KINDS, plant_error
from evalkit.metrics.hallucination import judge_note
from evalkit.metrics.wer import wer_details
from evalkit.text.parse import parse_note, parse_transcript
rng = random.Random(0)
out = {"mode": native.status()[0], "judge": [], "wer": []}
for _, row in pd.read_csv(sys.argv[1]).head(int(sys.argv[2])).iterrows():
    turns, note = parse_transcript(row["dialogue"]), parse_note(row["note"])
    out["judge"].append(judge_note(turns, note).model_dump_json())
    for kind in KINDS:
        got = plant_error(note, turns, kind, rng)
        if got:
            out["judge"].append(judge_note(turns, got[0]).model_dump_json())
    words = row["dialogue"].split()
    hyp = " ".join(w for i, w in enumerate(words) if i % 17) + " um twelve milligrams"
    res = wer_details(parse_transcript(row["dialogue"]), hyp)
    out["wer"].append(json.dumps(res.to_dict(alignment=True), default=str))
print(json.dumps(out))
"""


def _run(pure: bool, n: int) -> dict:
    env = {k: v for k, v in os.environ.items() if k != "EVALKIT_PURE"}
    if pure:
        env["EVALKIT_PURE"] = "1"
    proc = subprocess.run([sys.executable, "-c", SCRIPT, str(ACI), str(n)], capture_output=True, text=True,
                          env=env, cwd=Path(__file__).resolve().parents[1], check=True)
    return json.loads(proc.stdout)


def test_compiled_and_pure_python_give_byte_identical_findings_and_wer():
    if not native.compiled_files():
        pytest.skip("no compiled build here (make install builds one)")
    compiled, pure = _run(False, 12), _run(True, 12)
    assert (compiled["mode"], pure["mode"]) == ("compiled", "pure")
    assert len(compiled["judge"]) > 60  # 12 clean notes and their planted variants
    assert compiled["judge"] == pure["judge"]
    assert compiled["wer"] == pure["wer"]


def test_make_install_built_the_compiled_modules():
    try:
        import mypyc  # noqa: F401
    except ImportError:
        pytest.skip("mypy (the native extra) is not installed: pure Python by design")
    if os.environ.get("EVALKIT_PURE"):
        pytest.skip("EVALKIT_PURE is set")
    mode, why = native.status()
    assert mode == "compiled", f"scoring runs as pure Python: {why}"
    import evalkit.grounding.ground as ground

    assert not ground.__file__.endswith(".py")


def test_a_changed_source_falls_back_to_pure_python(tmp_path, monkeypatch):
    manifest = {"sources": native.source_hashes(), "python": sys.implementation.cache_tag, "mypy": "x"}
    monkeypatch.setattr(native, "MANIFEST", tmp_path / "m.json")
    monkeypatch.delenv("EVALKIT_PURE", raising=False)
    native.MANIFEST.write_text(json.dumps(manifest))
    assert native._decide() == ("compiled", "mypyc x")
    manifest["sources"]["evalkit.grounding.ground"] = "0" * 64  # the source was edited after the build
    native.MANIFEST.write_text(json.dumps(manifest))
    mode, why = native._decide()
    assert mode == "pure" and "evalkit.grounding.ground" in why and "make install" in why
    native.MANIFEST.write_text(json.dumps({**manifest, "python": "cpython-310"}))
    assert native._decide()[0] == "pure"
    native.MANIFEST.unlink()
    assert native._decide()[0] == "pure"
    monkeypatch.setenv("EVALKIT_PURE", "1")
    assert native._decide() == ("pure", "EVALKIT_PURE is set")


def test_pure_mode_loads_every_listed_module_from_its_source():
    code = ("import importlib, evalkit.native as n; "
            "print(all(importlib.import_module(m).__file__.endswith('.py') for m in n.MODULES))")
    env = {**os.environ, "EVALKIT_PURE": "1"}
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, check=True,
                         cwd=Path(__file__).resolve().parents[1]).stdout.strip()
    assert out == "True"


def test_module_settings_stay_settable_in_compiled_code(monkeypatch):
    # a Final constant is inlined by mypyc: settings meant to be changed (here the index cache size that
    # bench/bench_judge_offline.py raises) must stay plain module attributes
    from evalkit.grounding import index
    from evalkit.schema import SpeakerRole, Turn

    monkeypatch.setattr(index, "CACHE_SIZE", 2)
    index._CACHE.clear()
    for k in range(4):
        index.transcript_index([Turn(id=0, speaker=SpeakerRole.PATIENT, text=f"my knee hurts {k}")])
    assert len(index._CACHE) == 2
    index._CACHE.clear()
