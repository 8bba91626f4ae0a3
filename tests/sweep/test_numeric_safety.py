"""Numeric safety: misheard numbers listed in the metric detail, the flag rule, the session view, vocab prompts."""

from __future__ import annotations

from evalkit.metrics.wer import wer_details, wer_scores
from evalkit.schema import Provenance, Score
from evalkit.run.scoring import apply_flag_rules
from evalkit.run.suite import DEFAULT_FLAG_RULES, Suite


def test_misheard_numbers_are_listed_with_their_units():
    r = wer_details("start metformin 500 mg twice a day, 20 units at night, bp 140/90",
                    "start metformin 100 mg twice a day, units at night, bp 140/90")
    assert r.numeric_words == 3 and r.numeric_errors == 2
    assert r.misheard_numbers == [("500 mg", "100 mg"), ("20 units", None)]
    detail = next(s.detail for s in wer_scores(r, "x:y") if s.metric == "numeric_error_rate")
    assert detail["misheard"] == [{"said": "500 mg", "heard": "100 mg"}, {"said": "20 units", "heard": None}]
    assert "misheard_numbers" not in r.to_dict()  # no transcript words in the plain dict
    quiet = next(s.detail for s in wer_scores(r, "x:y", max_missed=0) if s.metric == "numeric_error_rate")
    assert quiet["misheard"] == []


def test_spoken_and_written_numbers_match():
    r = wer_details("take 500 mg twice a day", "take five hundred milligrams twice a day")
    assert r.numeric_errors == 0 and r.misheard_numbers == []


def test_numeric_error_is_a_default_flag_rule():
    assert any(r.name == "numeric_error" and r.metric == "numeric_error_rate" for r in DEFAULT_FLAG_RULES)
    suite = Suite()
    prov = Provenance(run_id="r")
    bad = [Score(session_id="r:c", metric="numeric_error_rate", value=0.25)]
    ok = [Score(session_id="r:c", metric="numeric_error_rate", value=0.0)]
    assert [f.rule for f in apply_flag_rules(bad, suite, "r:c", prov)] == ["numeric_error"]
    assert apply_flag_rules(ok, suite, "r:c", prov) == []


def test_session_view_lists_misheard_numbers():
    from evalkit.review.session_view import misheard_numbers

    class V:  # the part of SessionView the helper reads
        scores = {"numeric_error_rate": {"value": 0.5, "detail": {"misheard": [{"said": "500 mg", "heard": "100"}]}}}

    assert misheard_numbers(V()) == [{"said": "500 mg", "heard": "100"}]
    V.scores = {}
    assert misheard_numbers(V()) == []


def test_vocab_prompt_holds_the_cards_drugs():
    from evalkit.scribes.whisper import vocab_prompt
    from evalkit.synth import load_cards

    cards = {c.id: c for c in load_cards()}
    p = vocab_prompt(cards["bh-alcohol-au-11"])
    assert "thiamine" in p and "sulfa antibiotics" in p  # a drug from the plan, an allergy
    for c in cards.values():
        p = vocab_prompt(c)
        assert len(p) <= 200
        for m in c.medications:
            assert m.name in p
