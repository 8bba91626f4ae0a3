"""Fuzz the YAML files people edit by hand: case cards, note templates, suites, gate configs.

Each test starts from a shipped, valid file and breaks it in one generated way (an unknown key,
a missing required key, a value of the wrong type, broken YAML syntax, a top level that is not a
mapping, bytes that are not UTF-8, or a domain rule such as an unknown metric). Every broken
file must be refused with an InputError on one line that names the file — and the field, when
the break is in one field.
"""

from __future__ import annotations

import tempfile
from pathlib import Path

import yaml
from hypothesis import given
from hypothesis import strategies as st

from evalkit.compare.gate import load_gate_config
from evalkit.paths import rubrics_dir, synthetic_dir
from evalkit.run.suite import load_suite
from evalkit.synth import load_card
from evalkit.text.templates import load_template_file

from ._support import FUZZ, Tally, dump, expect_refusal, junk_text, mutated_mapping, names

REPO = Path(__file__).resolve().parents[2]
CARD = yaml.safe_load((synthetic_dir() / "cards" / "bh-alcohol-au-11.yaml").read_text())
TEMPLATE = yaml.safe_load((rubrics_dir() / "templates" / "SOAP.yaml").read_text())
SUITE = yaml.safe_load((REPO / "examples" / "suites" / "demo.yaml").read_text())
GATE = yaml.safe_load((REPO / "examples" / "gate.yaml").read_text())


def _write(d: Path, name: str, content: str | bytes) -> Path:
    p = d / name
    if isinstance(content, bytes):
        p.write_bytes(content)
    else:
        p.write_text(content, encoding="utf-8")
    return p


def _fuzz_file(tally: Tally, loader, base: dict, required: list[str], types: dict[str, type], suffix: str,
               extra: st.SearchStrategy | None = None) -> None:
    """Run one loader over generated broken versions of ``base``."""
    with tempfile.TemporaryDirectory() as tmp:
        d = Path(tmp)
        strategy = mutated_mapping(base, required, types)
        if extra is not None:
            strategy = strategy | extra

        @FUZZ
        @given(case=strategy, n=st.integers(0, 10**6))
        def run(case, n):
            content, fld = case
            p = _write(d, f"f{n}{suffix}", content)
            expect_refusal(tally, loader, p, source=str(p), field=fld)

        run()


# ---------------------------------------------------------------------------- case cards


def _card_rules() -> st.SearchStrategy:
    """Cards that parse but break a domain rule (template, keywords, say, speaker, age, id)."""
    def with_(**changes):
        doc = {**CARD, **changes}
        return dump(doc)

    return st.one_of(
        names.map(lambda t: (with_(template="NOPE_" + t), "template")),
        names.map(lambda k: (with_(planted_facts=[{"kind": "dose", "text": "x", "keywords": ["zz" + k + "qq"]}]),
                             "planted_facts[0].keywords")),
        st.just((with_(planted_facts=[{"kind": "dose", "text": "x", "keywords": []}]), "planted_facts[0].keywords")),
        st.integers(0, 5).filter(lambda n: n != len(CARD["plan"])).map(lambda n: (with_(metadata={"say": {"plan": [None] * n}}), "metadata.say.plan")),
        names.map(lambda f: (with_(metadata={"say": {"zz" + f: ["x"]}}), "metadata.say")),
        names.map(lambda s: (with_(metadata={"speaker": "zz" + s}), "metadata.speaker")),
        st.integers(121, 10**6).map(lambda a: (with_(persona={**CARD["persona"], "age": a}), "persona.age")),
        st.just((with_(persona={"name": "x"}), "persona.age")),
        junk_text.map(lambda s: (with_(id="-" + s), "id")),
        st.sampled_from(["alien", "dose2", ""]).map(
            lambda k: (with_(planted_facts=[{"kind": k, "text": "x", "keywords": ["thiamine"]}]), "planted_facts")),
        st.sampled_from(["XX", "uk", "Wales"]).map(lambda r: (with_(region=r), "region")),
    )


def test_case_cards_refuse_bad_input_clearly():
    tally = Tally("case cards")
    types = {"id": str, "specialty": str, "chief_complaint": str, "history": list, "persona": dict,
             "medications": list, "vitals": dict, "planted_facts": list, "metadata": dict, "template": str,
             "allergies": list, "plan": list}
    _fuzz_file(tally, load_card, CARD, ["id", "specialty", "chief_complaint"], types, ".yaml", _card_rules())
    assert tally.refused >= 35 and tally.accepted == 0


def test_card_file_not_found_is_clear(tmp_path):
    tally = Tally("case cards (missing)")
    p = tmp_path / "nope.yaml"
    expect_refusal(tally, load_card, p, source=str(p))


# ---------------------------------------------------------------------------- templates


def _template_rules() -> st.SearchStrategy:
    sec = TEMPLATE["sections"][0]

    def with_section(**changes):
        return dump({**TEMPLATE, "sections": [{**sec, **changes}, *TEMPLATE["sections"][1:]]})

    return st.one_of(
        names.map(lambda c: (with_section(sources=["zz" + c]), "sections.0")),
        names.map(lambda r: (with_section(rules=[{"rule": "zz" + r}]), "sections.0.rules.0")),
        names.map(lambda k: (with_section(**{"zz" + k: 1}), "sections.0")),
        st.just((with_section(key=None), "sections.0.key")),
        st.just((dump({**TEMPLATE, "sections": [{"title": "PLAN"}]}), "sections.0.key")),
    )


def test_templates_refuse_bad_input_clearly():
    tally = Tally("note templates")
    types = {"name": str, "description": str, "sections": list}
    _fuzz_file(tally, load_template_file, TEMPLATE, ["name", "sections"], types, ".yaml", _template_rules())
    assert tally.refused >= 35 and tally.accepted == 0


def test_template_file_not_found_is_clear(tmp_path):
    tally = Tally("note templates (missing)")
    p = tmp_path / "NOPE.yaml"
    expect_refusal(tally, load_template_file, p, source=str(p))


# ---------------------------------------------------------------------------- suites


def _suite_rules() -> st.SearchStrategy:
    def with_(**changes):
        return dump({**SUITE, **changes})

    return st.one_of(
        names.map(lambda m: (with_(metrics=["wer", "zz" + m]), "metrics")),
        names.map(lambda t: (with_(template="NOPE_" + t), "template")),
        st.integers(-10, 0).map(lambda c: (with_(concurrency=c), "concurrency")),
        st.integers(257, 10**6).map(lambda c: (with_(concurrency=c), "concurrency")),
        st.just((with_(scribes=[]), "scribes")),
        st.sampled_from(["=>", "~", "gt", ""]).map(
            lambda op: (with_(flag_rules=[{"name": "x", "metric": "wer", "op": op}]), "flag_rules.0.op")),
        st.just((with_(flag_rules=[{"metric": "wer"}]), "flag_rules.0.name")),
        st.just((with_(limit=0), "limit")),
    )


def test_suites_refuse_bad_input_clearly():
    tally = Tally("suites")
    types = {"name": str, "dataset": str, "scribes": list, "metrics": list, "flag_rules": list,
             "concurrency": int, "scribe_options": dict}
    _fuzz_file(tally, load_suite, SUITE, [], types, ".yaml", _suite_rules())
    assert tally.refused >= 30 and tally.accepted == 0


# ---------------------------------------------------------------------------- gate configs


def _gate_rules() -> st.SearchStrategy:
    def with_checks(*checks):
        return dump({**GATE, "checks": list(checks)})

    return st.one_of(
        names.map(lambda m: (with_checks({"name": "a", "check": f"zz{m} <= 0.1"}), "checks[0].check")),
        st.sampled_from(["wer <=", "wer <= abc", "<= 0.1", "wer ~ 0.1", "p200(wer) <= 1",
                         "wer regression", "wer no regression at all"]).map(
            lambda r: (with_checks({"name": "a", "check": r}), "checks[0].check")),
        st.just((with_checks({"name": "a"}), "checks[0].check")),
        names.map(lambda k: (with_checks({"name": "a", "check": "wer <= 0.1", "zz" + k: 1}), "checks[0]")),
        st.just((with_checks({"name": "a", "check": "wer <= 0.1"}, {"name": "a", "check": "cer <= 0.1"}),
                 "checks[1].check")),
        st.floats(1.0, 10.0).map(lambda c: (dump({**GATE, "confidence": c}), "confidence")),
        st.integers(-5, 999).map(lambda r: (dump({**GATE, "resamples": r}), "resamples")),
        st.just((dump({**GATE, "seed": -1}), "seed")),
        st.just((dump({**GATE, "checks": []}), "checks")),
    )


def test_gate_configs_refuse_bad_input_clearly():
    tally = Tally("gate configs")
    types = {"checks": list, "seed": int, "resamples": int}
    _fuzz_file(tally, load_gate_config, GATE, ["checks"], types, ".yaml", _gate_rules())
    assert tally.refused >= 35 and tally.accepted == 0
