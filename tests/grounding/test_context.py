"""The record as evidence: age, name, medications from context ground a note; the claim says what supports it."""

from __future__ import annotations

import json

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.context import case_from_context, restrict
from evalkit.errors import InputError
from evalkit.metrics.hallucination import judge_note
from evalkit.text.parse import parse_note, parse_transcript

DIALOGUE = ("[doctor] good morning , what brings you in ?\n[patient] my left knee has been hurting for two weeks .\n"
            "[doctor] are you taking anything for it ?\n[patient] just ibuprofen .")
NOTE = ("HISTORY OF PRESENT ILLNESS\n\nAnn Lee is a 58-year-old female with left knee pain for 2 weeks. "
        "She takes ibuprofen. She also takes lisinopril 20 mg daily.")


def _claims(context=None):
    case = case_from_context(context, "t") if context is not None else None
    res = judge_note(parse_transcript(DIALOGUE), parse_note(NOTE), case)
    return {c.text: c for c in res.claims}


def test_age_and_medications_from_the_record_ground_the_note_and_say_so():
    bare = _claims()
    assert bare["Ann Lee is a 58-year-old female with left knee pain for 2 weeks."].verdict != "supported"
    assert bare["She also takes lisinopril 20 mg daily."].rule == "drug.absent"
    got = _claims({"age": 58, "sex": "female", "name": "Ann Lee", "medications": ["lisinopril 20 mg daily"]})
    age = got["Ann Lee is a 58-year-old female with left knee pain for 2 weeks."]
    assert age.verdict == "supported" and set(age.sources) == {"transcript", "context"}
    med = got["She also takes lisinopril 20 mg daily."]
    assert med.verdict == "supported" and med.sources == ["context"] and med.evidence == []  # never a turn id
    assert got["She takes ibuprofen."].sources == ["transcript"]


def test_a_wrong_age_is_still_flagged_with_the_record_given():
    got = _claims({"age": 43})
    c = got["Ann Lee is a 58-year-old female with left knee pain for 2 weeks."]
    assert c.verdict == "unsupported" and c.severity == "minor"  # an age: minor (CREOLA)


@pytest.mark.parametrize("ctx,field", [({"age": "old"}, "context.age"), ({"sex": "x"}, "context.sex"),
                                       ({"weight": 70}, "context.weight"), ([1], "context"),
                                       ({"medications": [{"dose": "5 mg"}]}, "context.medications")])
def test_bad_context_is_one_clear_line(ctx, field):
    with pytest.raises(InputError) as e:
        case_from_context(ctx, "cases.jsonl:3")
    assert str(e.value).startswith(f"cases.jsonl:3: {field}:") and "fix:" in str(e.value)


def test_restrict_keeps_only_the_parts_a_suite_allows():
    case = case_from_context({"age": 58, "medications": ["lisinopril"], "allergies": ["penicillin"]}, "t")
    assert restrict(case, []) is None
    only = restrict(case, ["medications"])
    assert only.persona.age is None and [m.name for m in only.medications] == ["lisinopril"] and not only.allergies


def test_judge_cli_reads_a_context_object(tmp_path):
    p, out = tmp_path / "c.jsonl", tmp_path / "o.jsonl"
    p.write_text(json.dumps({"id": "a", "transcript": DIALOGUE, "note": NOTE,
                             "context": {"age": 58, "medications": ["lisinopril 20 mg daily"]}}) + "\n"
                 + json.dumps({"id": "b", "transcript": DIALOGUE, "note": NOTE, "context": {"age": -3}}) + "\n")
    r = CliRunner().invoke(app, ["judge", "--input", str(p), "--output", str(out)])
    assert r.exit_code == 1 and f"{p}:2: context.age:" in r.output  # the bad line is reported, the good one judged
    (row,) = [json.loads(x) for x in out.read_text().splitlines()]
    flagged = [c for c in row["claims"] if c["verdict"] != "supported"]
    assert row["id"] == "a" and not flagged
    assert any(c["sources"] == ["context"] for c in row["claims"])
