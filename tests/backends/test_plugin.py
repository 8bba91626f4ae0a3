"""The example plugin installs with pip and is found through the evalkit.scribes entry point."""

from __future__ import annotations

import json
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[2]
PLUGIN = REPO / "examples" / "plugin-scribe"


def _pip(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "pip", *args], capture_output=True, text=True, timeout=300)


@pytest.mark.slow
def test_pip_install_and_run_through_get_scribe():
    already = _pip("show", "evalkit-plugin-example").returncode == 0
    r = _pip("install", "-e", str(PLUGIN), "--no-deps", "--no-build-isolation", "-q")
    assert r.returncode == 0, r.stderr[-2000:]
    try:
        code = textwrap.dedent("""
            import json, sys
            sys.path.insert(0, %r)
            from tests.conftest import make_consultation
            from evalkit.scribes import ScribeInput, available, get_scribe
            assert "example-plugin" in available(), available()
            s = get_scribe("example-plugin", {"example-plugin": {"max_sentences": 2}})
            out = s.run(ScribeInput(consultation=make_consultation("p1"), template="SOAP"))
            print(out.model_dump_json())
        """ % str(REPO))
        p = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=120, cwd="/")
        assert p.returncode == 0, p.stderr[-2000:]
        out = json.loads(p.stdout.strip().splitlines()[-1])
        assert out["backend"] == "example-plugin"
        subj, plan = out["note"]["sections"]
        assert len(subj["sentences"]) == 2 and subj["sentences"][0]["evidence"] == [1]
        assert plan["sentences"][0]["text"].startswith("So the plan is")
    finally:
        if not already:
            _pip("uninstall", "-y", "-q", "evalkit-plugin-example")
