"""The one normalisation pipeline: examples a reader can check by eye."""

import jiwer
import pytest

from evalkit.text.normalize import NORMALIZATION, NORMALIZE, normalize, normalize_words, words_to_digits


@pytest.mark.parametrize("text, expected", [
    ("Hello, World!", "hello world"),
    ("I don't know, it's fine", "i do not know it is fine"),
    ("We can't, won't, and we're gonna", "we can not will not and we are going to"),
    ("the patient's knee", "the patients knee"),
    ("Um, uh, er I think so", "i think so"),
    ("mm-hmm okay", "okay"),
    ("five hundred milligrams", "500 mg"),
    ("two point five milligrams", "2.5 mg"),
    ("zero point two five mg", "0.25 mg"),
    ("point five", "0.5"),
    ("one hundred and forty over ninety", "140/90"),
    ("140 over 90", "140/90"),
    ("BP 140/90.", "bp 140/90"),
    ("140 / 90", "140/90"),
    ("twenty-five", "25"),
    ("a hundred and twenty", "120"),
    ("one thousand five hundred", "1500"),
    ("2.50 mg", "2.5 mg"),
    ("5.0 mg", "5 mg"),
    (".5 mg", "0.5 mg"),
    ("1,000 units", "1000 units"),
    ("10mg daily", "10 mg daily"),
    ("100 micrograms", "100 mcg"),
    ("5 millilitres", "5 ml"),
    ("120 millimeters of mercury", "120 mmhg"),
    ("72 beats per minute", "72 bpm"),
    ("A1c of 7.2%", "a1c of 7.2 percent"),
    ("ninety eight point six", "98.6"),
    ("She said \u201cI\u2019m fine\u201d \u2014 really", "she said i am fine really"),
    ("one twenty", "1 20"),  # documented: spoken shorthand is not rewritten
    ("", ""),
])
def test_examples(text, expected):
    assert normalize(text) == expected


def test_same_result_for_spoken_and_written_forms():
    spoken = "Take two point five milligrams of ramipril, blood pressure one forty over ninety"
    written = "take 2.5mg of Ramipril; blood pressure 140/90."
    assert normalize(spoken) == normalize(written)


def test_pipeline_is_a_visible_jiwer_compose():
    assert isinstance(NORMALIZE, jiwer.Compose)
    assert len(NORMALIZE.transforms) >= 8
    assert "140/90" in NORMALIZATION and "fillers" in NORMALIZATION


def test_normalize_words_and_idempotence():
    text = "Um, the patient's on Two Point Five milligrams of bisoprolol, BP 130 over 80."
    once = normalize(text)
    assert normalize(once) == once
    assert normalize_words(text) == once.split()
    assert normalize_words("") == []


def test_words_to_digits_leaves_ordinary_words():
    assert words_to_digits("at this point we will see") == "at this point we will see"
    assert words_to_digits("nineteen ninety") == "19 90"


def test_fast_path_equals_the_visible_pipeline_step_by_step():
    """normalize() fuses the one-word steps behind a cache; NORMALIZE runs every step in turn."""
    import random

    pieces = ["I'm", "can't!", "'tis", "rock'n'roll", "o'clock", "5.", ".5", "1,000,000", "mm hmm", "uh huh",
              "mm-hmm", "140 / 90", "won't.", "it's,", "(don't)", "\u2019em", "y'all", "10mg.", "2.50mg", "10over",
              "20slash", "5.0", "one forty over ninety", "a hundred and five", "a", "3/4", "...", "--", "_x_",
              "\u00b5g", "100%", "Tom & Jerry", "over", "point", "five", "twenty", "milligrams", "beats per minute",
              "mm hg", "Gonna", "OK,", "cannot", "um", "uh", "lisinopril", "the", "knee"]
    rng = random.Random(11)
    texts = [" ".join(rng.choice(pieces) for _ in range(rng.randint(1, 25))) for _ in range(2000)]
    for t in texts:
        assert normalize(t) == NORMALIZE(t), t
