"""The ``llm`` scribe and LLM generation, through litellm against the stub."""

from __future__ import annotations

import pytest

from evalkit.errors import InputError
from evalkit.scribes import ScribeInput, get_scribe
from evalkit.testing.stub_llm import evalkit_responder, malformed, ok

NOTE = {"sections": [
    {"key": "subjective", "sentences": [{"text": "Cough for two weeks.", "evidence": [1, 42, "T3", "?"]}]},
    {"key": "OBJECTIVE", "sentences": ["Mild left-sided wheeze."]},
    {"key": "Impression", "sentences": [{"text": "Probable asthma.", "evidence": [1, 8]}]},
    {"key": "plan", "sentences": [{"text": "Start beclometasone 200 micrograms twice daily.", "evidence": [9]}]},
]}


def test_llm_scribe_writes_template_note_and_checks_evidence(stub, consultation_factory):
    c = consultation_factory()
    stub.push(ok(NOTE))
    scribe = get_scribe("llm", {"llm": {"model": "openai/stub", "api_base": stub.api_base}})
    assert scribe.name == "llm" and not scribe.needs_audio
    out = scribe.run(ScribeInput(consultation=c, template="SOAP"))
    keys = [s.key for s in out.note.sections]
    assert keys == ["subjective", "objective", "assessment", "plan"]  # "Impression" is the assessment alias
    assert out.note.sections[0].sentences[0].evidence == [1, 3]
    assert out.note.sections[1].sentences[0].evidence == []
    assert out.metadata["invalid_evidence"] == 2 and out.metadata["evidence_links"] == 5
    assert out.metadata["prompt_tokens"] == 100 and out.metadata["completion_tokens"] > 0  # the stub's usage
    assert out.transcript == c.turns and out.backend_version.startswith("openai/stub|scribe_note-1|")
    req = stub.requests[0]
    assert "SOAP template" in req["messages"][0]["content"] and "[T9 clinician]" in req["messages"][1]["content"]


def test_llm_scribe_as_pipeline_note_writer(stub, consultation_factory):
    c = consultation_factory()
    stub.push(ok(NOTE))
    writer = get_scribe("llm", {"llm": {"model": "openai/stub", "api_base": stub.api_base}})
    note = writer.write(c.turns, ScribeInput(consultation=c, template="SOAP"))
    assert len(note.sentences()) == 4


def test_llm_scribe_failure_is_one_line_without_note_text(stub, consultation_factory):
    from evalkit.scribes._json_output import ScribeError

    c = consultation_factory()
    stub.push(malformed("I cannot write this note"), malformed("still no"))
    scribe = get_scribe("llm", {"llm": {"model": "openai/stub", "api_base": stub.api_base}})
    with pytest.raises(ScribeError) as ei:
        scribe.run(ScribeInput(consultation=c, template="SOAP"))
    assert "invalid reply" in str(ei.value) and "\n" not in str(ei.value)


def test_llm_scribe_needs_a_model(monkeypatch):
    monkeypatch.delenv("EVALKIT_LLM_MODEL", raising=False)
    with pytest.raises(InputError, match="llm.model"):
        get_scribe("llm")


# ---------------------------------------------------------------------------- generation


@pytest.fixture
def card():
    from evalkit.synth import load_card
    from evalkit.synth.cards import default_cards_dir

    return load_card(default_cards_dir() / "bh-alcohol-au-11.yaml")


GOOD_DIALOGUE = {"turns": [
    {"speaker": "doctor", "text": "G'day Shane. Any withdrawal seizures when you stopped?"},
    {"speaker": "patient", "text": "No. And I'm allergic to sulfa antibiotics, they give me a rash."},
    {"speaker": "doctor", "text": "There's a fine tremor of both hands. Start thiamine one hundred milligrams "
                                  "three times a day."}]}
GOOD_NOTE = {"sections": [
    {"key": "data", "sentences": [{"text": "No withdrawal seizures. Allergic to sulfa antibiotics.", "evidence": [1]},
                                  {"text": "Fine tremor of both hands.", "evidence": [2]}]},
    {"key": "plan", "sentences": [{"text": "Thiamine 100 mg three times a day.", "evidence": [2]}]}]}


def test_generate_regenerates_until_planted_facts_are_said(stub, card):
    from evalkit.synth.llm_generate import generate_with_llm

    partial = {"turns": GOOD_DIALOGUE["turns"][:2]}
    stub.push(ok(partial), ok(GOOD_DIALOGUE), ok(GOOD_NOTE))
    c = generate_with_llm(card, "openai/stub", seed=7, api_base=stub.api_base)
    assert c.id == "bh-alcohol-au-11-s7" and c.seed == 7 and c.generator == "llm:openai/stub"
    assert [t.speaker.value for t in c.turns] == ["CLINICIAN", "PATIENT", "CLINICIAN"]
    assert c.template == "DAP" and [s.key for s in c.reference_note.sections] == ["data", "plan"]
    assert stub.calls == 3
    second = stub.requests[1]["messages"][1]["content"]
    assert "left out these facts" in second and "both hands" in second and "sulfa" not in second.split("left out")[1]
    first = stub.requests[0]
    assert first["seed"] == 7 and first["temperature"] == pytest.approx(0.7)
    assert "chemist" in first["messages"][1]["content"] and "terse" in first["messages"][1]["content"]


def test_generate_fails_loudly_when_facts_stay_missing(stub, card):
    from evalkit.synth.llm_generate import GenerationError, generate_with_llm

    partial = {"turns": GOOD_DIALOGUE["turns"][:2]}
    stub.push(ok(partial), ok(partial))
    with pytest.raises(GenerationError) as ei:
        generate_with_llm(card, "openai/stub", api_base=stub.api_base, max_attempts=2)
    msg = str(ei.value)
    assert "bh-alcohol-au-11" in msg and "dose" in msg and "laterality" in msg and "thiamine" not in msg


def test_generate_batch_ids_match_offline_generator(stub, card):
    from evalkit.synth.generate import item_seed
    from evalkit.synth.llm_generate import generate_batch_with_llm

    stub.core.responder = lambda req: GOOD_NOTE if "sections" in req["messages"][1]["content"] else GOOD_DIALOGUE
    out = generate_batch_with_llm([card], 2, 5, "openai/stub", api_base=stub.api_base)
    assert [c.id for c in out] == ["bh-alcohol-au-11-s5-0", "bh-alcohol-au-11-s5-1"]
    assert [c.seed for c in out] == [item_seed(5, 0), item_seed(5, 1)]


def test_llm_scribe_cut_off_reply_is_asked_again_with_more_room(stub, consultation_factory):
    from evalkit.testing.stub_llm import truncated

    c = consultation_factory()
    stub.push(truncated(NOTE), ok(NOTE))
    scribe = get_scribe("llm", {"llm": {"model": "openai/stub", "api_base": stub.api_base, "max_tokens": 500}})
    out = scribe.run(ScribeInput(consultation=c, template="SOAP"))
    assert len(out.note.sentences()) == 4
    assert [r["max_tokens"] for r in stub.requests] == [500, 1000]


# ---------------------------------------------------------------------------- evalkit generate --model


def _one_card_dir(tmp_path, card):
    from evalkit.synth.cards import default_cards_dir

    d = tmp_path / "cards"
    d.mkdir()
    (d / "card.yaml").write_text((default_cards_dir() / f"{card.id}.yaml").read_text())
    return d


def test_generate_cli_with_model_writes_llm_consultations_and_caches(stub, card, tmp_path):
    from typer.testing import CliRunner

    from evalkit.cli import app
    from evalkit.store import Store

    cards, db = _one_card_dir(tmp_path, card), tmp_path / "g.duckdb"
    stub.core.responder = evalkit_responder  # dialogues saying every planted fact, notes in the template
    args = ["generate", "--cards", str(cards), "--n", "2", "--seed", "5", "--no-audio", "--db", str(db),
            "--model", "openai/stub", "--api-base", stub.api_base]
    r = CliRunner().invoke(app, args)
    assert r.exit_code == 0, r.output
    assert "2 consultations from 1 cards" in r.output
    assert stub.calls == 4  # a dialogue and a note for each
    store = Store(db)
    got = sorted(store.list_consultations(), key=lambda c: c.id)
    assert [c.id for c in got] == ["bh-alcohol-au-11-s5-0", "bh-alcohol-au-11-s5-1"]
    assert all(c.generator == "llm:openai/stub" and c.reference_note.sections for c in got)
    assert "thiamine" in " ".join(t.text for t in got[0].turns).lower()  # the planted fact is said
    assert store.llm_call_summary("generate:synthetic")["calls"] == 4
    r = CliRunner().invoke(app, args)  # the same command again: every reply from the cache
    assert r.exit_code == 0, r.output
    assert stub.calls == 4


def test_generate_cli_with_model_fails_loudly_on_missing_facts(stub, card, tmp_path):
    from typer.testing import CliRunner

    from evalkit.cli import app

    stub.core.responder = lambda req: {"turns": GOOD_DIALOGUE["turns"][:2]}  # never says the dose
    r = CliRunner().invoke(app, ["generate", "--cards", str(_one_card_dir(tmp_path, card)), "--n", "1",
                                 "--no-audio", "--db", str(tmp_path / "g.duckdb"), "--model", "openai/stub",
                                 "--api-base", stub.api_base])
    assert r.exit_code == 1
    assert "bh-alcohol-au-11" in r.output and "planted fact" in r.output and "thiamine" not in r.output


def test_generate_cli_stays_offline_by_default(stub, tmp_path):
    from typer.testing import CliRunner

    from evalkit.cli import app

    r = CliRunner().invoke(app, ["generate", "--n", "1", "--no-audio", "--out", str(tmp_path / "o")])
    assert r.exit_code == 0, r.output
    assert stub.calls == 0 and "llm:" not in (tmp_path / "o" / "consultations.jsonl").read_text()
