"""Unit tests of the grounding internals: numbers, negation, laterality, claims."""

from __future__ import annotations

from evalkit.grounding.claims import split_claims, strip_label
from evalkit.grounding.entities import Unit
from evalkit.grounding.lexicon import lexicon, stem, tokens
from evalkit.grounding.negation import AFF, NEG, answer_polarity
from evalkit.grounding.numbers import note_numbers, spoken_decimals, transcript_numbers


def _nums(text: str) -> set[float]:
    return transcript_numbers(tokens(spoken_decimals(text.lower())))


def test_spoken_numbers_have_every_reading():
    assert {120.0, 80.0} <= _nums("one twenty over eighty")
    assert 500.0 in _nums("five hundred milligrams of metformin")
    assert 98.6 in _nums("ninety eight point six")
    assert 7.3 in _nums("your a1c was seven . three")
    assert 2.5 in _nums("two and a half milligrams")
    assert 1000.0 in _nums("1,000 milligrams twice daily")
    assert 40.0 not in _nums("four milligrams")


def test_note_numbers_skip_dates_names_and_years():
    vals = [(n.value, n.unit_canon) for n in note_numbers(
        "Lisinopril 40 mg daily, BP 120/80, seen 06/04/2021 at 2:00 pm, B12 normal, COVID-19, 3 weeks")]
    assert (40.0, "mg") in vals and (120.0, None) in vals and (3.0, "week") in vals
    assert all(v not in (6.0, 4.0, 2021.0, 12.0, 19.0) for v, _ in vals)


def test_stems_join_inflections():
    assert stem("palpitations") == stem("palpitating")
    assert stem("swollen") == stem("swelling")
    assert stem("knees") == "knee"


def test_synonyms_share_a_concept():
    lx = lexicon()
    assert lx.find("shortness of breath").canonical == lx.find("dyspnea").canonical
    assert lx.find("lasix").canonical == lx.find("furosemide").canonical
    assert lx.find("high blood pressure").canonical == lx.find("hypertension").canonical


def _polarity(text: str, term: str) -> str:
    u = Unit(text)
    for s, e, t in u.matches:
        if term in t.text or t.canonical == lexicon().find(term).canonical:
            return u.polarity(s)
    raise AssertionError(f"{term} not found")


def test_negation_covers_a_list_but_stops_at_other_words():
    text = "The patient denies any chest pain, shortness of breath, or swelling in her legs."
    assert _polarity(text, "chest pain") == NEG
    assert _polarity(text, "shortness of breath") == NEG
    assert _polarity(text, "swelling") == NEG
    spoken = "no fever some chills and i do feel a little nauseous"
    assert _polarity(spoken, "fever") == NEG
    assert _polarity(spoken, "chills") == AFF
    assert _polarity("He states that the pain does not prevent him from working.", "pain") == AFF
    assert _polarity("She reports nasal congestion.", "nasal congestion") == AFF


def test_answer_polarity():
    assert answer_polarity("no , not that i've noticed .") == NEG
    assert answer_polarity("uh , i do n't think so") == NEG
    assert answer_polarity("yeah , it's been hurting") == AFF
    assert answer_polarity("um , some days .") is None


def test_laterality_pairs_need_a_body_part():
    assert [p[:2] for p in Unit("Examination of the right knee shows swelling.").lateral_pairs()] == [("right", "knee")]
    assert Unit("all right , let's take a look at your knee").lateral_pairs() == []
    assert Unit("Left-sided back pain.").lateral_pairs()[0][0] == "left"


def test_claims_split_clauses_not_lists():
    assert split_claims("She denies fever and she has no cough.") == ["She denies fever", "she has no cough."]
    assert len(split_claims("Denies chest pain, shortness of breath, and swelling.")) == 1
    assert split_claims("Continue metformin; start lisinopril 10 mg.") == ["Continue metformin", "start lisinopril 10 mg."]
    assert strip_label("Medical Treatment: Start Lasix 20 mg daily.") == "Start Lasix 20 mg daily."
