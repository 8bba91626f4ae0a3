"""``whisper-stream``: the built-in streaming scribe on espeak speech (bundled tiny.en, no download)."""

from __future__ import annotations

import re

import jiwer
import pytest

from evalkit.errors import InputError
from evalkit.schema import Case, Consultation, Note, SpeakerRole, Turn
from evalkit.scribes import ScribeInput, get_scribe
from evalkit.streaming.metrics import stream_figures
from evalkit.streaming.protocol import StreamResult
from evalkit.streaming.whisper_stream import WhisperStreamer

C, P = SpeakerRole.CLINICIAN, SpeakerRole.PATIENT
DIALOGUE = [
    (C, "Good morning. What brings you in today?"),
    (P, "I have had a bad cough and a sore throat for three days."),
    (C, "Do you have any chest pain or shortness of breath?"),
    (P, "No chest pain, but I feel tired and my head hurts."),
]


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]+", " ", text.lower()).split())


@pytest.fixture(scope="module")
def item(tmp_path_factory):
    from evalkit.synth.tts import synthesize, with_turn_times

    d = tmp_path_factory.mktemp("stream")
    turns = [Turn(id=i, speaker=s, text=t) for i, (s, t) in enumerate(DIALOGUE)]
    c = Consultation(id="st1", case=Case(id="st1", specialty="general", chief_complaint="cough"), turns=turns,
                     reference_note=Note(), template="SOAP")
    audio = synthesize(c, d / "st1.wav", seed=3, root=d)
    return ScribeInput(consultation=with_turn_times(c, audio), template="SOAP", audio=audio, audio_path=d / "st1.wav")


def test_whisper_stream_emits_partials_then_finals_that_make_the_transcript(item):
    scribe = get_scribe("whisper-stream+rules", {"whisper-stream": {"window_s": 6, "step_s": 1.0}})
    out = scribe.run(item)
    res = StreamResult.from_metadata(out.metadata["stream"])
    kinds = [e.kind for e in res.events]
    assert "partial" in kinds and kinds[-1] == "final"
    times = [e.t for e in res.events]
    assert times == sorted(times) and all(t is not None for t in times)
    ends = [e.end for e in res.events if e.kind == "final" and e.text]
    assert ends == sorted(ends)  # finals settle the audio in order
    # the final transcript is the finals, with roles from the audio's turn times
    wer = jiwer.wer(_norm(" ".join(t for _, t in DIALOGUE)), _norm(res.final_text()))
    assert wer < 0.5, wer
    assert _norm(" ".join(t.text for t in out.transcript)) == _norm(res.final_text())
    assert {t.speaker for t in out.transcript} == {C, P}
    fig = stream_figures(res, item.consultation.turns)
    assert fig.utterances == 4 and all(x is not None and x >= 0 for x in fig.latencies)
    assert fig.first_partial_s is not None and fig.rtf is not None and 0 <= fig.revision_rate <= 1
    assert out.metadata["stream"]["settings"] == {"chunk_s": 0.5, "pace": "simulated", "window_s": 6.0,
                                                  "step_s": 1.0, "beam_size": 1, "vad_filter": False}


def test_whisper_stream_options_are_checked():
    with pytest.raises(InputError, match="window_s"):
        WhisperStreamer(window_s=60)
    with pytest.raises(InputError, match="step_s"):
        WhisperStreamer(window_s=4, step_s=5)
    with pytest.raises(InputError, match="pace"):
        get_scribe("whisper-stream+rules", {"whisper-stream": {"pace": "warp"}})
