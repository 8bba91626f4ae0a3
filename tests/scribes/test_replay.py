"""The ``replay`` scribe: outputs read back from CSV / JSONL files keyed by case id."""

from __future__ import annotations

import csv
import json

import pytest

from evalkit.errors import InputError
from evalkit.scribes import ScribeInput, get_scribe
from evalkit.scribes.replay import ReplayScribe
from evalkit.text.parse import parse_note, parse_transcript

from ..conftest import make_consultation

NOTE = "SUBJECTIVE\n\nCough for two weeks.\nDenies chest pain.\n\nPLAN\n\nStart beclometasone 200 micrograms twice daily.\n"


def _write_csv(path, rows, encoding="utf-8"):
    with open(path, "w", encoding=encoding, newline="") as f:
        w = csv.DictWriter(f, fieldnames=["id", "transcript", "note", "latency_s", "cost_usd", "backend"])
        w.writeheader()
        for r in rows:
            w.writerow(r)


def test_csv_round_trip(tmp_path):
    c = make_consultation("c1")
    out0 = get_scribe("reference").run(ScribeInput(consultation=c, template="SOAP"))
    path = tmp_path / "outputs.csv"
    _write_csv(path, [{"id": "c1", "transcript": c.transcript_text(), "note": out0.note.to_text(),
                       "latency_s": "1.5", "cost_usd": "0.002", "backend": "vendor-x"},
                      {"id": "other", "transcript": "", "note": NOTE}])
    scribe = get_scribe("replay", {"replay": {"path": str(path)}})
    assert scribe.name == "replay" and scribe.needs_audio is False
    out = scribe.run(ScribeInput(consultation=c, template="SOAP"))
    assert [(t.speaker, t.text) for t in out.transcript] == [(t.speaker, t.text) for t in c.turns]
    assert [(s.key, [x.text for x in s.sentences]) for s in out.note.sections if s.sentences] == \
        [(s.key, [x.text for x in s.sentences]) for s in out0.note.sections if s.sentences]
    assert out.latency_s == 1.5 and out.cost_usd == 0.002
    assert out.metadata["replayed_backend"] == "vendor-x"
    assert out.backend == "replay" and len(out.backend_version) == 12
    # a row without a transcript still replays its note
    other = make_consultation("other")
    o2 = scribe.run(ScribeInput(consultation=other, template="SOAP"))
    assert o2.transcript == [] and o2.note.sections[0].sentences[1].text == "Denies chest pain."


def test_jsonl_with_turn_lists_and_as_a_transcriber(tmp_path):
    c = make_consultation("c7")
    turns = [{"speaker": "doctor", "text": t.text} if t.speaker.value == "CLINICIAN" else
             {"speaker": "patient", "text": t.text} for t in c.turns]
    path = tmp_path / "outputs.jsonl"
    path.write_text(json.dumps({"id": "c7", "transcript": turns, "note": NOTE}) + "\n\n", encoding="utf-8")
    out = ReplayScribe(str(path)).run(ScribeInput(consultation=c, template="SOAP"))
    assert [t.speaker for t in out.transcript] == [t.speaker for t in c.turns]
    assert out.note == parse_note(NOTE, template="SOAP", source="x")
    # replay as the ASR stage of a pipeline: the rules writer writes the note from the replayed turns
    pipe = get_scribe("replay+rules", {"replay": {"path": str(path)}})
    o2 = pipe.run(ScribeInput(consultation=c, template="SOAP"))
    assert o2.backend == "replay+rules"
    assert "beclometasone 200 micrograms" in o2.note.to_text()


def test_missing_id_fails_that_case_only(tmp_path):
    path = tmp_path / "outputs.csv"
    _write_csv(path, [{"id": "c1", "transcript": "[doctor] hi\n[patient] hello", "note": NOTE}])
    scribe = ReplayScribe(str(path))
    with pytest.raises(InputError) as e:
        scribe.run(ScribeInput(consultation=make_consultation("nope"), template="SOAP"))
    msg = str(e.value)
    assert "outputs.csv" in msg and "'nope'" in msg and "fix:" in msg
    # the other case still replays
    assert scribe.run(ScribeInput(consultation=make_consultation("c1"), template="SOAP")).note.sections


def test_non_utf8_csv_is_an_input_error(tmp_path):
    path = tmp_path / "latin.csv"
    _write_csv(path, [{"id": "c1", "transcript": "[doctor] café au lait spots", "note": NOTE}], encoding="latin-1")
    with pytest.raises(InputError) as e:
        ReplayScribe(str(path))
    msg = str(e.value)
    assert "latin.csv" in msg and "UTF-8" in msg and "iconv" in msg and "line 2" in msg


@pytest.mark.parametrize("content,name,needle", [
    ('{"id": "c1", "note": "PLAN\\n\\nx."}\n{not json}\n', "bad.jsonl", "line 2"),
    ("case,note\nc1,hello\n", "noid.csv", "column 'id'"),
    ('{"id": "c1", "transcript": "no speaker tags here", "note": "PLAN\\n\\nRest."}\n', "tags.jsonl", "[speaker]"),
    ('{"id": "c1", "transcript": "[doctor] hi", "note": ""}\n', "empty.jsonl", "note"),
])
def test_bad_files_name_file_and_field(tmp_path, content, name, needle):
    path = tmp_path / name
    path.write_text(content, encoding="utf-8")
    with pytest.raises(InputError) as e:
        ReplayScribe(str(path)).run(ScribeInput(consultation=make_consultation("c1"), template="SOAP"))
    assert name in str(e.value) and needle in str(e.value)


def test_path_option_is_required_and_must_exist(tmp_path):
    with pytest.raises(InputError, match="path"):
        get_scribe("replay")
    with pytest.raises(InputError, match="not found"):
        get_scribe("replay", {"replay": {"path": str(tmp_path / "missing.csv")}})


def test_transcript_parses_like_the_text_module(tmp_path):
    text = "[doctor] any allergies ?\n[patient] no .\n[patient_guest] she is allergic to latex"
    path = tmp_path / "o.csv"
    _write_csv(path, [{"id": "c1", "transcript": text, "note": NOTE}])
    out = ReplayScribe(str(path)).run(ScribeInput(consultation=make_consultation("c1"), template="SOAP"))
    assert out.transcript == parse_transcript(text)
