"""spoken_form: written clinical text → what a voice says."""

from __future__ import annotations

import pytest

from evalkit.synth.spoken import describe, spoken_form


@pytest.mark.parametrize("written, spoken", [
    ("metformin 500 mg bd", "metformin 500 milligrams twice a day"),
    ("levothyroxine 75 mcg OD", "levothyroxine 75 micrograms once a day"),
    ("1 mg tds", "1 milligram three times a day"),
    ("5 ml qds", "5 millilitres four times a day"),
    ("salbutamol prn", "salbutamol as needed"),
    ("BP 140/90", "BP 140 over 90"),
    ("sats 96%", "sats 96 percent"),
    ("2.5 mg", "2 point 5 milligrams"),
    ("temperature 37.8 °C", "temperature 37 point 8 degrees Celsius"),
    ("seen on 2024-03-12", "seen on the 12th of March 2024"),
    ("seen on 03/04/2024", "seen on the 3rd of April 2024"),
    ("88 bpm", "88 beats per minute"),
    ("Dr Shah", "Doctor Shah"),
    ("go to A&E", "go to A and E"),
    ("twice — no, three times a day", "twice, no, three times a day"),
    ("HbA1c 64 mmol/mol", "HbA1c 64 millimoles per mole"),
    ("q4h", "every 4 hours"),
    ("weight 72.5 kg", "weight 72 point 5 kilograms"),
])
def test_spoken_form(written, spoken):
    assert spoken_form(written) == spoken


def test_leaves_ordinary_words_and_non_bp_fractions_alone():
    assert spoken_form("the bed is odd") == "the bed is odd"
    assert "over" not in spoken_form("Symbicort 200/6")
    assert spoken_form("") == ""


def test_describe_lists_rules_in_order():
    lines = describe().splitlines()
    assert len(lines) > 20 and lines[0].strip().startswith("1.")
