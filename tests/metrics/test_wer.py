"""WER, CER, medical WER and speaker WER on known strings, checked against jiwer."""

import jiwer
from hypothesis import given, settings
from hypothesis import strategies as st
import pytest

from evalkit.errors import InputError
from evalkit.metrics.wer import medical_mask, wer_details, wer_scores
from evalkit.text.normalize import normalize, normalize_words
from evalkit.schema import SpeakerRole, Turn

PAIRS = [
    ("the quick brown fox", "the quick brown fox"),
    ("the quick brown fox", "the quack brown fox jumps"),
    ("Take two point five milligrams daily.", "take 2.5 mg a day"),
    ("I'm on metformin five hundred twice a day", "um I am on met foreman 500 twice daily"),
    ("she has a cough", ""),
    ("a b c d e f", "f e d c b a"),
]


@pytest.mark.parametrize("ref, hyp", PAIRS)
def test_wer_and_cer_equal_jiwer_on_normalised_strings(ref, hyp):
    r = wer_details(ref, hyp)
    nr, nh = normalize(ref), normalize(hyp)
    assert r.wer == pytest.approx(jiwer.wer(nr, nh))
    assert r.cer == pytest.approx(jiwer.cer(nr, nh))
    out = jiwer.process_words(nr, nh)
    assert (r.hits, r.substitutions, r.deletions, r.insertions) == (
        out.hits, out.substitutions, out.deletions, out.insertions)


def test_wer_equals_jiwer_on_a_real_dialogue(aci_dir):
    import pandas as pd

    from evalkit.text.parse import parse_transcript

    row = pd.read_csv(aci_dir / "valid.csv").iloc[0]
    turns = parse_transcript(row["dialogue"])
    hyp = " ".join(t.text for t in turns).replace(" the ", " a ").replace("pain", "pane")
    r = wer_details(turns, hyp)
    ref_norm = " ".join(normalize(t.text) for t in turns).split()
    assert r.wer == pytest.approx(jiwer.wer(" ".join(ref_norm), normalize(hyp)))
    assert 0 < r.wer < 0.3


def test_counts_and_alignment():
    r = wer_details("the cat sat on the mat", "big the cat sat on mat")
    assert (r.hits, r.substitutions, r.deletions, r.insertions) == (5, 0, 1, 1)
    assert r.wer == pytest.approx(2 / 6)
    ops = [a.op for a in r.alignment]
    assert ops.count("delete") == 1 and ops.count("insert") == 1 and ops.count("equal") == 5
    assert [a.ref for a in r.alignment if a.op != "insert"] == "the cat sat on the mat".split()
    assert [a.hyp for a in r.alignment if a.op != "delete"] == "big the cat sat on mat".split()
    assert r.alignment[0] == ("insert", None, "big", None, False)


def test_medical_wer_counts_a_misheard_drug():
    ref = "continue lisinopril ten milligrams and see you in a month"
    good = wer_details(ref, "continue lisinopril 10 mg and see you in a month")
    bad = wer_details(ref, "continue listen opera 10 mg and see you in a month")
    assert good.medical_wer == 0.0
    # medical words: lisinopril, 10, mg → one of three misheard
    assert bad.medical_words == 3
    assert bad.medical_errors == 1
    assert bad.medical_wer == pytest.approx(1 / 3)
    assert bad.medical_wer > bad.wer  # the error falls on a medical term
    assert ("lisinopril", "listen") in bad.missed_terms or ("lisinopril", "opera") in bad.missed_terms


def test_medical_wer_ignores_non_medical_errors_and_counts_doses():
    r = wer_details("the dog took aspirin 81 mg", "a dog took aspirin 18 mg")
    assert r.medical_words == 3 and r.medical_errors == 1  # 81 → 18
    assert r.numeric_error_rate == 1.0
    r2 = wer_details("the dog took aspirin 81 mg", "a cat took aspirin 81 mg")
    assert r2.medical_wer == 0.0 and r2.wer > 0


def test_case_terms_extend_the_lexicon():
    ref = "she takes zorblatinib daily"
    hyp = "she takes sore blatter nib daily"
    assert wer_details(ref, hyp).medical_words == 0
    r = wer_details(ref, hyp, terms={"zorblatinib"})
    assert r.medical_words == 1 and r.medical_wer == 1.0


def test_medical_mask_phrases_and_laterality():
    words = normalize_words("that is right, your right knee and shortness of breath")
    mask = medical_mask(words)
    marked = [w for w, m in zip(words, mask) if m]
    assert marked == ["right", "knee", "shortness", "of", "breath"]
    assert not mask[2]  # "that is right": not anatomy


def test_speaker_wer_attributes_errors():
    C, P = SpeakerRole.CLINICIAN, SpeakerRole.PATIENT
    ref = [Turn(id=0, speaker=C, text="how is the cough"),
           Turn(id=1, speaker=P, text="much better thanks"),
           Turn(id=2, speaker=C, text="good")]
    # patient words all wrong; clinician words right except one word inserted inside their turn
    hyp = "how is this the cough mush bitter tanks good"
    r = wer_details(ref, hyp)
    assert r.speakers["PATIENT"] == {"words": 3, "errors": 3}
    assert r.speakers["CLINICIAN"] == {"words": 5, "errors": 1}  # the insertion sits between clinician words
    assert r.wer_patient == 1.0
    assert r.wer_clinician == pytest.approx(1 / 5)
    assert r.wer == pytest.approx(4 / 8)


def test_speaker_wer_from_aci_text_and_dicts():
    aci = "[doctor] any allergies\n[patient] penicillin"
    r = wer_details(aci, "any allergies penicillin")
    assert r.wer_clinician == 0 and r.wer_patient == 0
    r = wer_details([{"speaker": "doctor", "text": "any allergies"}, {"speaker": "patient", "text": "penicillin"}],
                    "any allergies pencil in")
    # "pencil" is inserted at the change of speaker, next to the patient's misheard word
    assert r.wer_clinician == 0 and r.wer_patient == 2.0
    r = wer_details(aci, "any allergies sir penicillin")
    assert r.wer_clinician == 0.5 and r.wer_patient == 0  # next to correct words: the previous speaker


def test_scores_use_shared_metric_names_and_no_text():
    r = wer_details("[doctor] take aspirin\n[patient] okay", "take aspirin okay")
    scores = {s.metric: s for s in wer_scores(r, "run1:c1")}
    assert set(scores) == {"wer", "cer", "medical_wer", "wer_clinician", "wer_patient"}
    assert all(s.session_id == "run1:c1" for s in scores.values())
    assert scores["wer"].detail["hits"] == 3
    plain = {s.metric for s in wer_scores(wer_details("hello there", "hello"), "r:c")}
    assert plain == {"wer", "cer"}  # no speakers, no medical words: those rates are left out
    no_text = wer_scores(wer_details("take aspirin", "take aspen"), "r:c", max_missed=0)
    assert [s for s in no_text if s.metric == "medical_wer"][0].detail["missed"] == []


def test_empty_reference_is_an_input_error():
    with pytest.raises(InputError, match="reference"):
        wer_details("um uh", "hello")
    with pytest.raises(InputError, match=r"reference.*\[0\]"):
        wer_details([{"speaker": "doctor"}], "hello")


def test_cli_scores_good_lines_and_reports_bad_ones(tmp_path):
    import json

    from typer.testing import CliRunner

    from evalkit.cli import app

    pairs = tmp_path / "pairs.jsonl"
    pairs.write_text("\n".join([
        json.dumps({"id": "a", "reference": "[doctor] take lisinopril ten mg\n[patient] okay",
                    "hypothesis": "take listen opera 10 mg okay"}),
        "{not json",
        json.dumps({"id": "b", "reference": [{"speaker": "doctor", "text": "BP 140 over 90"}],
                    "hypothesis": "bp 140/90"}),
        json.dumps({"id": "c", "reference": "hello"}),
        "",
        json.dumps({"id": "d", "reference": "plain words here", "hypothesis": "plain word here"}),
    ]) + "\n")
    out = tmp_path / "scores.jsonl"
    res = CliRunner().invoke(app, ["wer", "--input", str(pairs), "--output", str(out)])
    assert res.exit_code == 1
    rows = [json.loads(x) for x in out.read_text().splitlines()]
    assert [r["id"] for r in rows] == ["a", "b", "d"]
    assert {"id", "wer", "cer", "hits", "substitutions", "deletions", "insertions", "medical_wer"} <= set(rows[0])
    assert rows[1]["wer"] == 0.0
    assert rows[0]["medical_wer"] == pytest.approx(1 / 3)
    assert rows[2]["wer"] == pytest.approx(1 / 3)
    err = res.stderr if hasattr(res, "stderr") and res.stderr else res.output
    assert f"{pairs}:2:" in err and "JSON" in err
    assert f"{pairs}:4:" in err and "hypothesis" in err
    assert "lisinopril" not in err  # no transcript text in errors


def test_cli_all_good_exits_zero(tmp_path):
    import json

    from typer.testing import CliRunner

    from evalkit.cli import app

    pairs = tmp_path / "p.jsonl"
    pairs.write_text(json.dumps({"id": 1, "reference": "a b c", "hypothesis": "a b c"}) + "\n")
    res = CliRunner().invoke(app, ["wer", "-i", str(pairs), "-o", str(tmp_path / "o.jsonl")])
    assert res.exit_code == 0, res.output
    assert "corpus WER 0.000" in res.output


_VOCAB = ["the", "patient", "takes", "aspirin", "two", "point", "five", "mg", "milligrams", "over", "140", "90",
          "um", "don't", "left", "knee", "pain", "one", "hundred", "and", "okay", "2.50", "it's", "lisinopril",
          "twenty", "thousand", "mm-hmm", "uh", "10mg", "1,000", "slash", "seven", "a", "/", ".5", "%"]


@settings(max_examples=150, deadline=None)
@given(ref=st.lists(st.sampled_from(_VOCAB), min_size=1, max_size=25),
       hyp=st.lists(st.sampled_from(_VOCAB), max_size=25))
def test_property_wer_matches_jiwer_and_normalisation_is_idempotent(ref, hyp):
    r_text, h_text = " ".join(ref), " ".join(hyp)
    nr, nh = normalize(r_text), normalize(h_text)
    assert normalize(nr) == nr and normalize(nh) == nh
    if not nr:
        return
    r = wer_details(r_text, h_text)
    assert r.wer == pytest.approx(jiwer.wer(nr, nh) if nh else 1.0)
    assert r.hits + r.substitutions + r.deletions == r.ref_words
    ops = [a.op for a in r.alignment]
    assert ops.count("insert") == r.insertions and ops.count("substitute") == r.substitutions


def test_cli_takes_a_reference_whose_first_turn_has_no_tag(tmp_path):
    import json

    from typer.testing import CliRunner

    from evalkit.cli import app

    ref = "any chest pain ?\n[patient] no chest pain .\n[doctor] good ."
    hyp = [{"speaker": "doctor", "text": "any chest pain"}, {"speaker": "patient", "text": "no chest pain"},
           {"speaker": "doctor", "text": "good"}]
    pairs, out = tmp_path / "p.jsonl", tmp_path / "o.jsonl"
    pairs.write_text(json.dumps({"id": "a", "reference": ref, "hypothesis": hyp}) + "\n")
    res = CliRunner().invoke(app, ["wer", "-i", str(pairs), "-o", str(out)])
    assert res.exit_code == 0, res.output
    assert f"{pairs}:1: reference: transcript: first turn has no [speaker] tag" in res.output
    row = json.loads(out.read_text())
    assert row["wer"] == 0.0 and row["wer_clinician"] == 0.0 and row["wer_patient"] == 0.0
