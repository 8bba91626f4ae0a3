"""Rubric files, PDQI-9 and content-adherence scoring, JSON repair."""

from __future__ import annotations

import shutil

import pytest

from evalkit.errors import InputError
from evalkit.llm.judge import LLMJudge
from evalkit.llm.rubrics import list_rubrics, load_rubric, load_rubric_file
from evalkit.llm.schemas import PDQI_ITEMS, parse_json_reply
from evalkit.testing.stub_llm import ok


def test_shipped_rubrics_load_and_render():
    assert {"claims", "pdqi9", "adherence", "scribe_note", "generate_dialogue", "generate_note"} <= set(list_rubrics())
    claims = load_rubric("claims")
    system = claims.render("system")
    for word in ("fabrication", "negation", "causality", "contextual", "major", "minor"):
        assert word in system
    assert "{{" not in system
    assert [i.key for i in load_rubric("pdqi9").items] == list(PDQI_ITEMS)


def test_edited_rubric_gets_a_new_hash_and_bad_placeholders_name_the_file(tmp_path):
    src = load_rubric("claims")._source
    p = tmp_path / "claims.yaml"
    shutil.copy(src, p)
    a = load_rubric_file(p)
    p.write_text(p.read_text().replace("meticulous", "careful"))
    b = load_rubric_file(p)
    assert a.prompt_hash != b.prompt_hash and a.prompt_hash == load_rubric("claims").prompt_hash
    p.write_text(p.read_text().replace("{{transcript}}", "{{transcrpt}}"))
    with pytest.raises(InputError) as ei:
        load_rubric_file(p).render("user", transcript="", note="", part="", n_sentences=1, sentence_ids="")
    assert str(p) in str(ei.value) and "transcrpt" in str(ei.value)
    p.write_text("name: x\nsystem: [unclosed\n")
    with pytest.raises(InputError, match="YAML"):
        load_rubric_file(p)
    p.write_text("name: x\nuser: hi\n")
    with pytest.raises(InputError, match="system"):
        load_rubric_file(p)
    with pytest.raises(InputError, match="unknown judge rubric"):
        load_rubric("nope")


@pytest.mark.parametrize("text,expect,note", [
    ('{"a": 1}', {"a": 1}, []),
    ('Here you go:\n```json\n{"a": [1, 2,],}\n```', {"a": [1, 2]}, ["code fence", "trailing comma"]),
    ('{"a": [{"b": 1}, {"b": 2}, {"b": "thr', {"a": [{"b": 1}, {"b": 2}]}, ["closed truncated JSON"]),
    ('{"a": "x"} and then some prose {', {"a": "x"}, []),
])
def test_parse_json_reply_repairs(text, expect, note):
    value, notes = parse_json_reply(text)
    assert value == expect
    for n in note:
        assert n in notes


def test_parse_json_reply_gives_up_cleanly():
    assert parse_json_reply("no json at all")[0] is None
    assert parse_json_reply("")[0] is None


def _pdqi(score=4):
    return {"items": {k: {"score": score, "rationale": "ok"} for k in PDQI_ITEMS}}


def test_pdqi_and_adherence_scores(stub, spec, make_client, consultation_factory):
    c = consultation_factory()

    def responder(req):
        system = req["messages"][0]["content"]
        if "PDQI-9" in system:
            return _pdqi(4) | {"items": {**_pdqi(4)["items"], "Succinct": 2}}
        return {"sections": [{"section": s.key, "appropriate": s.key != "plan",
                              "problems": ["no action"] if s.key == "plan" else [],
                              "severity": "minor" if s.key == "plan" else None}
                             for s in c.reference_note.sections]}

    stub.core.responder = responder
    j = LLMJudge(spec, client=make_client())
    scores = {s.metric: s for s in j.rubric_scores("run:c1", c.turns, c.reference_note, "SOAP")}
    assert {f"pdqi_{k}" for k in PDQI_ITEMS} | {"adherence_content"} == set(scores)
    assert scores["pdqi_accurate"].value == 4.0 and scores["pdqi_succinct"].value == 2.0
    ad = scores["adherence_content"]
    assert ad.value == pytest.approx(3 / 4)  # four sections, plan judged inappropriate
    assert ad.detail["sections"]["plan"] == {"appropriate": False, "severity": "minor", "problems": 1}
    assert "no action" not in str(ad.detail)  # model text (may quote the note) is not stored
    pdqi_req = next(r for r in stub.requests if "PDQI-9" in r["messages"][0]["content"])
    assert "up_to_date (Up-to-date)" in pdqi_req["messages"][0]["content"]


def test_pdqi_out_of_range_is_repaired_then_recorded(stub, spec, make_client, consultation_factory):
    c = consultation_factory()
    stub.push(ok(_pdqi(7)), ok(_pdqi(3)))
    j = LLMJudge(spec, client=make_client())
    scores = {s.metric: s for s in j.rubric_scores("s", c.turns, c.reference_note, which=("pdqi",))}
    assert scores["pdqi_useful"].value == 3.0 and stub.calls == 2
    stub.push(ok(_pdqi(9)), ok({"items": {"accurate": 5}}))
    other = "SUBJECTIVE\n\nCough for two weeks.\n\nPLAN\n\nReview in four weeks."
    bad = {s.metric: s for s in j.rubric_scores("s", c.turns, other, which=("pdqi",))}
    assert bad["pdqi_useful"].value is None and "missing PDQI-9 items" in bad["pdqi_useful"].detail["error"]
