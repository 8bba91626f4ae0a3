"""cpWER, tcpWER and speaker confusion: known answers, and agreement with meeteval's own CLI."""

import json
import random
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from evalkit.metrics.speaker_wer import (labels_speakers, seglst_segments, speaker_wer, speaker_wer_scores,
                                         write_seglst)
from evalkit.schema import SpeakerRole, Turn
from evalkit.text.parse import parse_transcript

C, P, O = SpeakerRole.CLINICIAN, SpeakerRole.PATIENT, SpeakerRole.OTHER
MEETEVAL = Path(sys.executable).parent / "meeteval-wer"


def _t(i, spk, text, start=None, end=None):
    return Turn(id=i, speaker=spk, text=text, start=start, end=end)


def test_known_answers_cpwer_and_confusion():
    ref = [_t(0, C, "how are you today", 0, 2), _t(1, P, "not too bad thanks", 2.5, 4)]
    same = speaker_wer(ref, ref)
    assert (same.cpwer, same.tcpwer, same.speaker_confusion) == (0.0, 0.0, 0.0)
    # the patient's whole utterance given to the clinician: 4 deletions + 4 insertions, all of it confusion
    moved = [_t(0, C, "how are you today", 0, 2), _t(1, C, "not too bad thanks", 2.5, 4)]
    r = speaker_wer(ref, moved)
    assert (r.errors, r.ref_words, r.cpwer) == (8, 8, 1.0)
    assert r.speaker_confusion == pytest.approx(1.0) and r.unattributed_wer == 0.0
    assert r.confusion_method == "tcpwer-tcorcwer" and r.missed_speakers == 1
    # labels swapped everywhere: cpWER is permutation-free
    swapped = [_t(0, P, "how are you today", 0, 2), _t(1, C, "not too bad thanks", 2.5, 4)]
    assert speaker_wer(ref, swapped).cpwer == 0.0
    # without times: no tcpWER, and the confusion comes from cpWER − ORC WER
    untimed = [_t(0, C, "how are you today"), _t(1, C, "not too bad thanks")]
    u = speaker_wer(ref, untimed)
    assert u.tcpwer is None and u.confusion_method == "cpwer-orcwer" and u.speaker_confusion == pytest.approx(1.0)


def test_a_hypothesis_with_no_words_deletes_everything():
    ref = [_t(0, C, "how are you", 0, 2), _t(1, P, "fine", 2.5, 4)]
    r = speaker_wer(ref, [_t(0, P, "um")])
    assert (r.cpwer, r.deletions, r.missed_speakers, r.speaker_confusion) == (1.0, 4, 2, None)


def test_time_constraint_counts_words_far_from_their_time():
    ref = [_t(0, C, "please take the tablets", 0, 2), _t(1, P, "okay", 30, 31)]
    late = [_t(0, C, "please take the tablets", 60, 62), _t(1, P, "okay", 30, 31)]
    r = speaker_wer(ref, late, collar=5)
    assert r.cpwer == 0.0 and r.tcpwer == pytest.approx(8 / 5)  # 4 deletions + 4 insertions: too far to match


def test_confusion_skipped_when_untimed_orc_is_too_costly():
    ref = [_t(0, C, "a b c d"), _t(1, P, "e f g h")]
    hyp = [_t(0, C, "a b c d"), _t(1, P, "e f g h")]
    r = speaker_wer(ref, hyp, orc_budget=10)
    assert r.speaker_confusion is None and "skipped" in r.notes[0]
    assert [s.metric for s in speaker_wer_scores(r, "r:c")] == ["cpwer"]


def test_labels_speakers_and_segments():
    assert not labels_speakers("plain text") and not labels_speakers([]) and not labels_speakers([_t(0, O, "hi")])
    assert labels_speakers([_t(0, O, "hi"), _t(1, P, "hello")])
    segs = seglst_segments([_t(0, C, "Um, take two point five milligrams.", 1.23456, 2.5), _t(1, P, "um")])
    assert segs == [{"session_id": "session", "speaker": "CLINICIAN", "words": "take 2.5 mg", "start_time": 1.235,
                     "end_time": 2.5}]  # the evalkit normaliser, a turn with no words left out
    assert seglst_segments([_t(0, C, "two point five milligrams")], "whisper")[0]["words"] == "2.5 milligrams"


def _perturb(turns, seed, timed):
    """A scribe-like hypothesis: some words changed or dropped, some turns given to the other speaker."""
    rnd = random.Random(seed)
    out, t = [], 0.0
    for i, turn in enumerate(turns):
        words = []
        for w in turn.text.split():
            x = rnd.random()
            words += [] if x < 0.05 else ["uh", w] if x < 0.08 else ["wrong"] if x < 0.15 else [w]
        spk = turn.speaker if rnd.random() > 0.12 else (P if turn.speaker == C else C)
        n = len(turn.text.split())
        start, end = (t + rnd.uniform(-0.4, 0.4), t + 0.35 * n + rnd.uniform(-0.4, 0.4)) if timed else (None, None)
        out.append(_t(i, spk, " ".join(words), start, end))
        t += 0.35 * n + 0.5
    return out


def _with_times(turns):
    out, t = [], 0.0
    for turn in turns:
        n = len(turn.text.split())
        out.append(turn.model_copy(update={"start": t, "end": t + 0.35 * n}))
        t += 0.35 * n + 0.5
    return out


def _cli(kind, ref_file, hyp_file, tmp_path, *extra):
    out = tmp_path / f"{kind}-{ref_file.stem}.json"
    proc = subprocess.run([str(MEETEVAL), kind, "-r", str(ref_file), "-h", str(hyp_file), "--average-out", str(out),
                           "--per-reco-out", str(tmp_path / f"{kind}-per.json"), *extra],
                          capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr[-2000:]
    return json.loads(out.read_text())


@pytest.mark.parametrize("normalizer", ["evalkit", "whisper"])
def test_agrees_with_the_meeteval_cli_on_aci_bench_dialogues(aci_dir, tmp_path, normalizer):
    """Three ACI-Bench dialogues (first 30 turns), scribe-like hypotheses: evalkit's cpWER, tcpWER and the
    speaker confusion equal what ``meeteval-wer`` computes from the SegLST files evalkit writes."""
    rows = pd.read_csv(aci_dir / "valid.csv").iloc[:3]
    for k, row in enumerate(rows.itertuples()):
        ref = parse_transcript(row.dialogue)[:30]
        for timed in (False, True):
            r_turns = _with_times(ref) if timed else ref
            h_turns = _perturb(ref, seed=k, timed=timed)
            res = speaker_wer(r_turns, h_turns, normalizer=normalizer)
            rf = write_seglst(tmp_path / f"ref{k}{timed}.json", seglst_segments(r_turns, normalizer))
            hf = write_seglst(tmp_path / f"hyp{k}{timed}.json", seglst_segments(h_turns, normalizer))
            cp = _cli("cpwer", rf, hf, tmp_path)
            assert (res.errors, res.ref_words) == (cp["errors"], cp["length"])
            assert res.cpwer == pytest.approx(cp["error_rate"])
            if timed:
                tcp = _cli("tcpwer", rf, hf, tmp_path, "--collar", "5")
                tcorc = _cli("tcorcwer", rf, hf, tmp_path, "--collar", "5")
                assert res.tcpwer == pytest.approx(tcp["error_rate"])
                assert res.speaker_confusion == pytest.approx((tcp["errors"] - tcorc["errors"]) / tcp["length"])
            else:
                orc = _cli("orcwer", rf, hf, tmp_path)
                assert res.tcpwer is None
                assert res.speaker_confusion == pytest.approx((cp["errors"] - orc["errors"]) / cp["length"])
            assert res.speaker_confusion > 0  # some turns were given to the other speaker


def test_scoring_adds_speaker_scores_for_scribes_that_label_speakers(store):
    from evalkit.run.runner import run_suite
    from evalkit.run.suite import Suite
    from tests.conftest import make_consultation

    store.put_consultations([make_consultation("c1")])
    rid = run_suite(Suite(dataset="unit", scribes=["reference"], metrics=["wer"]), store, progress=False)[0]
    scores = store.scores_frame([rid]).set_index("metric")["value"]
    assert scores["cpwer"] == 0.0 and scores["speaker_confusion"] == 0.0
