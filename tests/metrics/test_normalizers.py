"""The normaliser choice: WER with ``whisper`` equals jiwer on Whisper-normalised strings, and the
choice travels from the suite / CLI to the stored scores."""

import json

import jiwer
import pytest
from whisper_normalizer.english import EnglishTextNormalizer

from evalkit.errors import InputError
from evalkit.metrics.wer import normalized_pair, wer_details, wer_scores
from evalkit.text.normalizers import get_normalizer, run_normalizer
from evalkit.schema import SpeakerRole, Turn
from evalkit.run.suite import Suite

WHISPER = EnglishTextNormalizer()

PAIRS = [
    ("Um, I'd take Two point five milligrams; BP 140 over 90.", "I would take 2.5 mg, BP 140/90"),
    ("Mr. Smith's colour is grey, and he's had 1,000 mg.", "mister smith color is gray and he had one thousand mg"),
    ("She can't walk more than twenty-five metres.", "she cannot walk more than 25 meters"),
    ("the quick brown fox", ""),
]


@pytest.mark.parametrize("ref, hyp", PAIRS)
def test_whisper_wer_equals_jiwer_on_whisper_normalised_strings(ref, hyp):
    r = wer_details(ref, hyp, normalizer="whisper")
    nr, nh = WHISPER(ref), WHISPER(hyp)
    assert r.wer == pytest.approx(jiwer.wer(nr, nh))
    out = jiwer.process_words(nr, nh)
    assert (r.hits, r.substitutions, r.deletions, r.insertions) == (
        out.hits, out.substitutions, out.deletions, out.insertions)
    assert normalized_pair(ref, hyp, "whisper") == (" ".join(nr.split()), " ".join(nh.split()))
    assert (r.normalizer, r.normalization.split("/")[0]) == ("whisper", "whisper-english")


def test_the_two_normalisers_disagree_where_documented():
    # evalkit maps units and "over" in a blood pressure; Whisper's normaliser keeps "milligrams" and "over"
    ref, hyp = "two point five milligrams, BP 140 over 90", "2.5 mg BP 140/90"
    assert wer_details(ref, hyp).wer == 0.0
    assert wer_details(ref, hyp, normalizer="whisper").wer > 0.3


def test_whisper_normaliser_on_turns_scores_per_speaker_and_medical_terms():
    C, P = SpeakerRole.CLINICIAN, SpeakerRole.PATIENT
    ref = [Turn(id=0, speaker=C, text="Are you taking the lisinopril?"), Turn(id=1, speaker=P, text="Yes, every morning.")]
    hyp = [Turn(id=0, speaker=C, text="are you taking the listen opera"), Turn(id=1, speaker=P, text="yes every morning")]
    r = wer_details(ref, hyp, normalizer="whisper")
    assert r.wer == pytest.approx(jiwer.wer(WHISPER("Are you taking the lisinopril? Yes, every morning."),
                                            WHISPER("are you taking the listen opera yes every morning")))
    assert r.wer_patient == 0.0 and r.wer_clinician == pytest.approx(2 / 5)
    assert r.medical_words == 1 and r.medical_errors == 1  # lisinopril is found in the Whisper-normalised lexicon


def test_scores_carry_the_normaliser():
    for name in ("evalkit", "whisper"):
        scores = wer_scores(wer_details("take 2 tablets of aspirin", "take two tablets of aspirin", normalizer=name),
                            "r:c")
        for s in scores:
            assert s.detail["normalizer"] == name, s.metric
            assert s.detail["normalization"] == get_normalizer(name).id


def test_unknown_normaliser_is_a_one_line_error():
    with pytest.raises(InputError) as e:
        wer_details("a", "a", normalizer="kaldi")
    assert "normalizer" in str(e.value) and "evalkit, whisper" in str(e.value)


def test_suite_takes_the_choice_and_keeps_old_run_ids(tmp_path):
    from evalkit.run.suite import load_suite

    assert Suite().hash() == Suite(normalizer="evalkit").hash()  # the default changes no existing run id
    assert Suite(normalizer="whisper").hash() != Suite().hash()
    p = tmp_path / "s.yaml"
    p.write_text("name: s\nnormalizer: kaldi\n")
    with pytest.raises(InputError) as e:
        load_suite(p)
    assert str(p) in str(e.value) and "normalizer" in str(e.value)
    assert run_normalizer({"suite": {"name": "old"}}) == "evalkit"
    assert run_normalizer({"suite": Suite(normalizer="whisper").model_dump(mode="json")}) == "whisper"


def test_run_stores_the_normaliser_and_compare_names_it(store):
    from evalkit.compare.runs import compare_runs
    from evalkit.compare.report import to_markdown
    from evalkit.run.runner import run_suite
    from tests.conftest import make_consultation

    store.put_consultations([make_consultation(f"c{i}") for i in range(3)])
    a = run_suite(Suite(dataset="unit", scribes=["reference"], metrics=["wer"]), store, label="a", progress=False)[0]
    b = run_suite(Suite(dataset="unit", scribes=["reference"], metrics=["wer"], normalizer="whisper"), store,
                  label="b", progress=False)[0]
    wer = store.scores_frame([b])
    assert set(wer.loc[wer.metric == "wer", "value"]) == {0.0}
    assert run_normalizer(store.get_run(b)) == "whisper"
    runs = store.list_runs().set_index("run_id")
    assert (runs.loc[a, "normalizer"], runs.loc[b, "normalizer"]) == ("evalkit", "whisper")
    md = to_markdown(compare_runs(store, a, b, n_resamples=200))
    assert "WER normaliser differs: A `evalkit`, B `whisper`" in md
    assert "WER normaliser: `evalkit` (both runs)" in to_markdown(compare_runs(store, a, a, n_resamples=200))


def test_cli_wer_normalizer_option(tmp_path):
    from typer.testing import CliRunner

    from evalkit.cli import app

    pairs = tmp_path / "pairs.jsonl"
    ref, hyp = PAIRS[0]
    pairs.write_text(json.dumps({"id": "p1", "reference": ref, "hypothesis": hyp}) + "\n")
    out = tmp_path / "out.jsonl"
    r = CliRunner().invoke(app, ["wer", "-i", str(pairs), "-o", str(out), "--normalizer", "whisper"])
    assert r.exit_code == 0, r.output
    row = json.loads(out.read_text())
    assert row["normalizer"] == "whisper"
    assert row["wer"] == pytest.approx(jiwer.wer(WHISPER(ref), WHISPER(hyp)))
    assert "whisper (whisper-english/" in r.output and "EnglishTextNormalizer" in r.output
    bad = CliRunner().invoke(app, ["wer", "-i", str(pairs), "-o", str(out), "--normalizer", "nope"])
    assert bad.exit_code == 2 and "--normalizer" in bad.output and "use one of: evalkit, whisper" in bad.output
