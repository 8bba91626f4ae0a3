"""No stale results served silently (issue 18, item 4).

Every input that changes a run's results is in the run's identity (or the scribe cache key): the
replay file's content, a command's script, the judge's version, the note templates' content. And a
label shared by the runs of two suites is refused by ``gate``/``compare``; a label shared by the
runs of one suite run again after its inputs changed names the newest, and the report says which.
"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import yaml

from evalkit.run.runner import _judge_for, run_id_for, run_suite
from evalkit.store import Store
from evalkit.run.suite import Suite
from tests.conftest import REPO, make_consultation

EVALKIT = Path(sys.executable).with_name("evalkit")
NOTE_A = "SUBJECTIVE\nCough for two weeks.\n\nPLAN\nReview in four weeks."
NOTE_B = "SUBJECTIVE\nWheeze at night.\n\nPLAN\nStart beclometasone."


def _store(tmp: Path, n: int = 3) -> Store:
    s = Store(tmp / "s.duckdb")
    s.put_consultations([make_consultation(f"s{i}") for i in range(n)])
    return s


def _replay(path: Path, note: str, ids=("s0", "s1", "s2")) -> Path:
    path.write_text("".join(json.dumps({"id": i, "note": note}) + "\n" for i in ids))
    return path


def _notes(store: Store, rid: str) -> set[str]:
    return {store.session_output(sid).note.to_text() for sid in store.run_sessions(rid).session_id}


def test_overwriting_the_replay_file_starts_a_new_run_with_the_new_notes(tmp_path):
    store = _store(tmp_path)
    replay = _replay(tmp_path / "out.jsonl", NOTE_A)
    suite = Suite(name="r", dataset="unit", scribes=["replay"], metrics=["adherence"],
                  scribe_options={"replay": {"path": str(replay)}})
    (first,) = run_suite(suite, store, label="candidate", progress=False)
    _replay(replay, NOTE_B)  # same path, same label, new contents
    (second,) = run_suite(suite, store, label="candidate", progress=False)
    assert second != first and second == run_id_for(suite, "replay", "candidate")
    assert all("Wheeze at night." in n for n in _notes(store, second))
    assert all("Cough for two weeks." in n for n in _notes(store, first))  # the old run is kept as it was


def test_replay_as_a_transcriber_changes_the_pipeline_version(tmp_path):
    store = _store(tmp_path, 1)
    replay = tmp_path / "t.jsonl"
    replay.write_text(json.dumps({"id": "s0", "transcript": "[doctor] any cough?\n[patient] yes, two weeks"}) + "\n")
    suite = Suite(name="t", dataset="unit", scribes=["replay+rules"], metrics=["wer"],
                  scribe_options={"replay": {"path": str(replay)}})
    before = run_id_for(suite, "replay+rules", None)
    replay.write_text(json.dumps({"id": "s0", "transcript": "[doctor] any wheeze?\n[patient] at night"}) + "\n")
    assert run_id_for(suite, "replay+rules", None) != before


def test_editing_the_command_scribe_script_is_a_new_version_and_calls_it_again(tmp_path):
    store = _store(tmp_path, 2)
    calls = tmp_path / "calls.txt"
    prog = tmp_path / "scribe.py"

    def write(note: str) -> None:
        prog.write_text(f"import json, sys\nopen({str(calls)!r}, 'a').write('x\\n')\n"
                        f"print(json.dumps({{'note': {note!r}}}))\n")

    write(NOTE_A)
    suite = Suite(name="c", dataset="unit", scribes=["command"], metrics=["adherence"],
                  scribe_options={"command": {"command": [sys.executable, str(prog), "{input}"]}})
    (first,) = run_suite(suite, store, progress=False)
    (again,) = run_suite(suite, store, progress=False, fresh=True)  # a fresh run of unchanged inputs: cached
    assert len(calls.read_text().split()) == 2 and again != first
    write(NOTE_B)
    (edited,) = run_suite(suite, store, progress=False)
    assert edited not in (first, again) and len(calls.read_text().split()) == 4  # no stale cached output
    assert all("Wheeze at night." in n for n in _notes(store, edited))


def test_a_new_judge_version_is_a_new_run(tmp_path, monkeypatch):
    store = _store(tmp_path, 2)
    suite = Suite(name="j", dataset="unit", scribes=["reference"], metrics=["hallucination"])
    (first,) = run_suite(suite, store, progress=False)
    judge = _judge_for(suite, store)
    monkeypatch.setattr(judge, "version", judge.version + "-next")
    (second,) = run_suite(suite, store, progress=False)
    assert second != first
    versions = set(store.export_tables(second)["findings"].judge_version)
    assert versions == {judge.version}


def test_editing_a_note_template_is_a_new_run(tmp_path):
    """The templates are read from EVALKIT_DATA_ROOT: a copy of the repository's, one template edited."""
    db = tmp_path / "s.duckdb"
    Store(db).put_consultations([make_consultation("s0")])
    suite = tmp_path / "suite.yaml"
    suite.write_text(yaml.safe_dump({"name": "t", "dataset": "unit", "scribes": ["reference"], "metrics": ["adherence"]}))
    root = tmp_path / "root"
    shutil.copytree(REPO / "rubrics", root / "rubrics")

    def run(env: dict) -> str:
        res = subprocess.run([str(EVALKIT), "run", str(suite), "--db", str(db), "--json", str(tmp_path / "r.json")],
                             capture_output=True, text=True, timeout=300, env={**__import__("os").environ, **env})
        assert res.returncode == 0, res.stderr
        return json.loads((tmp_path / "r.json").read_text())[0]["run_id"]

    same_a, same_b = run({"EVALKIT_DATA_ROOT": str(root)}), run({"EVALKIT_DATA_ROOT": str(root)})
    assert same_a == same_b  # unchanged inputs: the same run, resumed
    soap = root / "rubrics" / "templates" / "SOAP.yaml"
    soap.write_text(soap.read_text() + "\n# a clinician's edit\n")
    assert run({"EVALKIT_DATA_ROOT": str(root)}) != same_a


def _suite_file(tmp: Path, name: str, replay: Path) -> Path:
    p = tmp / f"{name}.yaml"
    p.write_text(yaml.safe_dump({"name": name, "dataset": "unit", "scribes": ["replay"], "metrics": ["adherence"],
                                 "scribe_options": {"replay": {"path": str(replay)}}}))
    return p


def _cli(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([str(EVALKIT), *args], capture_output=True, text=True, timeout=300)


def test_a_label_shared_by_two_suites_is_refused(tmp_path):
    store = _store(tmp_path)
    db = str(store.path)
    replay = _replay(tmp_path / "out.jsonl", NOTE_A)
    gate = tmp_path / "gate.yaml"
    gate.write_text("checks:\n  - {name: adherence, check: adherence >= 0}\n")
    a = _cli("run", str(_suite_file(tmp_path, "suite-a", replay)), "--db", db, "--label", "candidate")
    b = _cli("run", str(_suite_file(tmp_path, "suite-b", replay)), "--db", db, "--label", "candidate")
    assert a.returncode == 0 and b.returncode == 0, a.stderr + b.stderr
    res = _cli("gate", "candidate", "-c", str(gate), "--db", db)
    assert res.returncode == 2, res.stdout
    (err,) = [ln for ln in res.stderr.splitlines() if ln.startswith("error:")]
    assert "run 'candidate': label is shared by runs of 2 suites (suite 'suite-a' on 'unit':" in err
    assert "suite 'suite-b' on 'unit':" in err and "fix: pass a run id instead" in err
    res = _cli("compare", "candidate", "candidate", "--db", db)
    assert res.returncode == 2 and "label is shared by runs of 2 suites" in res.stderr


def test_a_label_rerun_after_its_inputs_changed_names_the_newest_and_says_so(tmp_path):
    store = _store(tmp_path)
    db = str(store.path)
    replay = _replay(tmp_path / "out.jsonl", NOTE_A)
    suite = _suite_file(tmp_path, "suite-a", replay)
    gate = tmp_path / "gate.yaml"
    gate.write_text("checks:\n  - {name: adherence, check: adherence >= 0}\n")
    assert _cli("run", str(suite), "--db", db, "--label", "candidate").returncode == 0
    _replay(replay, NOTE_B)
    assert _cli("run", str(suite), "--db", db, "--label", "candidate").returncode == 0
    old, new = store.list_runs().run_id.tolist()  # oldest first
    res = _cli("gate", "candidate", "-c", str(gate), "--db", db, "--json", str(tmp_path / "g.json"))
    assert res.returncode == 0, res.stderr
    out = " ".join(res.stdout.split())
    assert f"run candidate = {new}" in out
    assert f"label 'candidate' names 2 runs of replay (suite 'suite-a', run again after its inputs changed); " \
           f"using the newest, {new}" in out and f"not {old}" in out
    report = json.loads((tmp_path / "g.json").read_text())
    assert report["run_ids"] == [new] and any(new in n for n in report["notes"])
