"""Case cards: the shipped set is valid and varied; bad cards give one-line errors naming file and field."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.errors import InputError
from evalkit.synth import default_cards_dir, load_card, load_cards

GOOD = (default_cards_dir() / "gp-tonsillitis-uk-01.yaml").read_text(encoding="utf-8")


@pytest.fixture(scope="module")
def cards():
    return load_cards()


def test_shipped_cards_are_many_and_varied(cards):
    assert len(cards) >= 16
    assert len({c.specialty for c in cards}) >= 8
    assert {"UK", "US", "AU"} <= {c.region for c in cards}
    assert {"SOAP", "HISTORY_AND_PHYSICAL", "BEHAVIORAL_SOAP", "BIRP", "DAP", "GIRPP"} <= {c.template for c in cards}
    assert len({c.id for c in cards}) == len(cards)


def test_every_card_plants_a_dose_a_negation_an_allergy_and_a_laterality_or_number(cards):
    for c in cards:
        kinds = {f.kind for f in c.planted_facts}
        assert {"dose", "negation", "allergy"} <= kinds, c.id
        assert kinds & {"laterality", "number"}, c.id
        assert c.allergies and c.plan and c.assessment, c.id


def test_regional_wording(cards):
    by_region = {}
    for c in cards:
        by_region.setdefault(c.region, {}).update(c.dialect)
    assert by_region["UK"].get("acetaminophen") == "paracetamol"
    assert by_region["UK"].get("pharmacy") == "chemist"
    assert by_region["US"].get("acetaminophen") == "acetaminophen"
    assert by_region["US"].get("mom") == "mom"
    assert by_region["AU"].get("pharmacy") == "chemist"


def test_medications_have_dose_route_and_frequency(cards):
    meds = [m for c in cards for m in c.medications]
    assert len(meds) >= 10
    for m in meds:
        assert m.dose and m.route and m.frequency, m.name


def _write(tmp_path: Path, text: str, name: str = "card.yaml") -> Path:
    p = tmp_path / name
    p.write_text(text, encoding="utf-8")
    return p


def _one_line(e: InputError) -> str:
    msg = str(e)
    assert "\n" not in msg
    return msg


def test_malformed_yaml_names_file_and_line(tmp_path):
    p = _write(tmp_path, GOOD.replace("region: UK", "region: [UK"))
    with pytest.raises(InputError) as ei:
        load_card(p)
    msg = _one_line(ei.value)
    assert str(p) in msg and "line" in msg and "fix:" in msg


def test_bad_field_names_file_and_field(tmp_path):
    p = _write(tmp_path, GOOD.replace("persona: {name: Tom Hughes, age: 24,", "persona: {name: Tom Hughes, age: old,"))
    with pytest.raises(InputError) as ei:
        load_card(p)
    msg = _one_line(ei.value)
    assert str(p) in msg and "persona.age" in msg


def test_unknown_region_and_missing_required_field(tmp_path):
    with pytest.raises(InputError, match="region"):
        load_card(_write(tmp_path, GOOD.replace("region: UK", "region: Mars")))
    no_cc = "\n".join(line for line in GOOD.splitlines() if not line.startswith("chief_complaint:"))
    with pytest.raises(InputError, match="chief_complaint"):
        load_card(_write(tmp_path, no_cc, "b.yaml"))


def test_planted_keyword_must_occur_in_the_card(tmp_path):
    p = _write(tmp_path, GOOD.replace("keywords: [left tonsil]", "keywords: [right tonsil]"))
    with pytest.raises(InputError) as ei:
        load_card(p)
    assert "planted_facts[1].keywords" in _one_line(ei.value) and "right tonsil" in str(ei.value)


def test_unknown_template_and_bad_say_override(tmp_path):
    with pytest.raises(InputError, match="template"):
        load_card(_write(tmp_path, GOOD.replace("template: SOAP", "template: NOPE")))
    with pytest.raises(InputError, match=r"metadata\.say\.exam"):
        load_card(_write(tmp_path, GOOD + "metadata:\n  say:\n    exam: [only one line]\n", "c.yaml"))


def test_not_a_mapping_and_missing_file(tmp_path):
    with pytest.raises(InputError, match="mapping"):
        load_card(_write(tmp_path, "- just\n- a list\n"))
    with pytest.raises(InputError, match="no such card file"):
        load_card(tmp_path / "missing.yaml")


def test_folder_errors_and_duplicate_ids(tmp_path):
    with pytest.raises(InputError, match="no such cards folder"):
        load_cards(tmp_path / "nope")
    with pytest.raises(InputError, match="holds no"):
        load_cards(tmp_path)
    _write(tmp_path, GOOD, "a.yaml")
    _write(tmp_path, GOOD, "b.yaml")
    with pytest.raises(InputError) as ei:
        load_cards(tmp_path)
    assert "b.yaml" in str(ei.value) and "duplicate" in str(ei.value)


def test_numeric_vitals_are_accepted_as_text(tmp_path):
    p = _write(tmp_path, GOOD.replace("heart rate: 96 bpm", "heart rate: 96"))
    assert load_card(p).vitals["heart rate"] == "96"
