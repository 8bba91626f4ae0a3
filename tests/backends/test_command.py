"""Command scribe: real subprocesses (the test's own Python) writing JSON."""

from __future__ import annotations

import sys
import textwrap

import pytest

from evalkit.errors import InputError
from evalkit.run.runner import process_case
from evalkit.scribes import ScribeInput, get_scribe
from evalkit.scribes._json_output import ScribeError
from evalkit.run.suite import Suite
from tests.conftest import make_consultation

PROG = textwrap.dedent('''
    import json, sys, time
    mode = sys.argv[1]
    case = json.load(open(sys.argv[2]))
    if mode == "ok":
        first = [t for t in case["turns"] if t["speaker"] == "patient"][0]["text"]
        print(json.dumps({"note": {"sections": [
            {"title": "SUBJECTIVE", "sentences": [{"text": first, "evidence": [1]}]},
            {"title": "PLAN", "text": "Review in four weeks. Template " + case["template"] + "."}]},
            "version": "prog-3"}))
    elif mode == "file":
        json.dump({"note": "PLAN\\n\\nRest."}, open(sys.argv[3], "w"))
        print("progress chatter, not JSON")
    elif mode == "fail":
        sys.stderr.write("Patient has a cough\\nTraceback: boom at line 3\\n")
        sys.exit(3)
    elif mode == "garbage":
        print("<<not json>>")
    elif mode == "sleep":
        time.sleep(30)
''')


@pytest.fixture(scope="module")
def prog(tmp_path_factory):
    p = tmp_path_factory.mktemp("prog") / "scribe_prog.py"
    p.write_text(PROG)
    return str(p)


def _scribe(prog, mode, **kw):
    argv = [sys.executable, prog, mode, "{input}"] + (["{output}"] if mode == "file" else [])
    return get_scribe("command", {"command": {"command": argv, **kw}})


def _item():
    return ScribeInput(consultation=make_consultation("k1"), template="SOAP")


def test_reads_stdout_json_with_evidence(prog):
    out = _scribe(prog, "ok").run(_item())
    subj, plan = out.note.sections
    assert subj.key == "subjective" and subj.sentences[0].evidence == [1]
    assert subj.sentences[0].text.startswith("I've had a cough")
    assert plan.sentences[-1].text == "Template SOAP."
    assert out.backend == "command" and out.backend_version == "prog-3" and out.latency_s > 0


def test_reads_output_file_when_asked(prog):
    out = _scribe(prog, "file").run(_item())
    assert out.note.sections[0].key == "plan"


def test_failure_keeps_only_size_and_digest_of_stderr(prog):
    import hashlib

    with pytest.raises(ScribeError) as e:
        _scribe(prog, "fail").run(_item())
    msg = str(e.value)
    stderr = b"Patient has a cough\nTraceback: boom at line 3\n"
    assert "exited with code 3" in msg and f"stderr {len(stderr)} bytes" in msg
    assert hashlib.sha256(stderr).hexdigest()[:12] in msg  # matches the program's own log, quotes nothing
    assert "cough" not in msg and "boom" not in msg and "Traceback" not in msg


def test_garbage_and_timeout(prog):
    with pytest.raises(ScribeError, match="stdout is not JSON"):
        _scribe(prog, "garbage").run(_item())
    with pytest.raises(ScribeError, match=r"timed out after 0.5s"):
        _scribe(prog, "sleep", timeout_s=0.5).run(_item())


def test_runner_records_failure(prog, tmp_path):
    suite = Suite(name="t", dataset="unit", scribes=["command"], metrics=["adherence"],
                  scribe_options={"command": {"command": [sys.executable, prog, "fail", "{input}"]}})
    res = process_case(make_consultation("f1"), None, "command", suite, str(tmp_path), "r")
    assert res.output is None and "exited with code 3" in res.error


def test_bad_options():
    with pytest.raises(InputError, match="is required"):
        get_scribe("command", {"command": {}})
    with pytest.raises(InputError, match="not found"):
        get_scribe("command", {"command": {"command": "no-such-program-xyz {input}"}}).run(_item())
