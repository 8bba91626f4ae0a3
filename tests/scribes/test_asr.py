"""The ASR transcribers (``whisper``, ``sphinx``): roles, times, accuracy on espeak speech, bad audio."""

from __future__ import annotations

import re

import numpy as np
import pytest

from evalkit.errors import InputError
from evalkit.schema import Audio, Case, Consultation, Note, SpeakerRole, Turn, TurnTime
from evalkit.scribes import ScribeInput, get_scribe
from evalkit.scribes._audio import Word, load_wav, words_to_turns

from ._speech import dialogue_wav

C, P = SpeakerRole.CLINICIAN, SpeakerRole.PATIENT
DIALOGUE = [
    (C, "Good morning. What brings you in today?"),
    (P, "I have had a bad cough and a sore throat for three days."),
    (C, "Do you have any chest pain or shortness of breath?"),
    (P, "No chest pain, but I feel tired and my head hurts."),
    (C, "Let me listen to your chest. Your lungs sound clear."),
    (P, "That is good news. Thank you, doctor."),
]


def _consultation(lines=DIALOGUE) -> Consultation:
    turns = [Turn(id=i, speaker=s, text=t) for i, (s, t) in enumerate(lines)]
    case = Case(id="asr1", specialty="general", chief_complaint="cough")
    return Consultation(id="asr1", case=case, turns=turns, reference_note=Note(), template="SOAP")


def _item(wav=None, times=None, consultation=None) -> ScribeInput:
    c = consultation or _consultation()
    audio = None
    if wav is not None:
        audio = Audio(path=wav.name, duration=1.0,
                      turn_times=[TurnTime(turn_id=i, start=a, end=b) for i, (a, b) in enumerate(times or [])])
    return ScribeInput(consultation=c, template="SOAP", audio=audio, audio_path=wav)


def _norm(text: str) -> str:
    return " ".join(re.sub(r"[^a-z' ]+", " ", text.lower()).split())


@pytest.fixture(scope="module")
def speech(tmp_path_factory):
    pytest.importorskip("espeakng_loader")
    wav = tmp_path_factory.mktemp("asr") / "dialogue.wav"
    times = dialogue_wav([(s.value, t) for s, t in DIALOGUE], wav)
    return wav, times


# ------------------------------------------------------------------ role assignment (no model)

def test_words_take_the_role_of_the_turn_holding_their_midpoint():
    c = _consultation()
    times = [(0.0, 2.0), (2.5, 5.0), (5.5, 8.0)]
    words = [Word("good", 0.1, 0.4), Word("morning", 0.5, 1.0), Word("i", 2.45, 2.6),  # midpoint inside turn 1
             Word("cough", 2.7, 3.1), Word("gap", 5.35, 5.45), Word("any", 5.6, 5.9)]  # 5.4: nearest is turn 2
    item = ScribeInput(consultation=c, template="SOAP",
                       audio=Audio(path="x.wav", duration=8.0,
                                   turn_times=[TurnTime(turn_id=i, start=a, end=b) for i, (a, b) in enumerate(times)]))
    turns = words_to_turns(words, item)
    assert [(t.speaker, t.text) for t in turns] == [(C, "good morning"), (P, "i cough"), (C, "gap any")]
    assert [t.id for t in turns] == [0, 1, 2]
    assert (turns[1].start, turns[1].end) == (2.45, 3.1)


def test_without_turn_times_roles_alternate_at_pauses_starting_with_the_clinician():
    item = ScribeInput(consultation=_consultation(), template="SOAP")
    words = [Word("hello", 0.0, 0.5), Word("there", 0.6, 1.0), Word("hi", 2.0, 2.3), Word("doctor", 2.35, 2.8),
             Word("so", 4.0, 4.2)]
    turns = words_to_turns(words, item, pause_s=0.7)
    assert [(t.speaker, t.text) for t in turns] == [(C, "hello there"), (P, "hi doctor"), (C, "so")]
    assert words_to_turns([], item) == []


# ------------------------------------------------------------------ bad audio

@pytest.mark.parametrize("engine", ["whisper", "sphinx"])
def test_corrupt_missing_or_absent_audio_is_an_input_error(tmp_path, engine):
    t = get_scribe(engine + "+rules").transcriber
    bad = tmp_path / "corrupt.wav"
    bad.write_bytes(b"RIFF\x24\x00\x00\x00WAVEfmt garbage" + bytes(range(256)) * 4)
    with pytest.raises(InputError) as e:
        t.transcribe(_item(bad))
    assert "corrupt.wav" in str(e.value) and "decoded" in str(e.value)
    with pytest.raises(InputError, match="not found"):
        t.transcribe(_item(tmp_path / "missing.wav"))
    with pytest.raises(InputError, match="no audio"):
        t.transcribe(_item(None))


def test_empty_wav_is_an_input_error(tmp_path):
    import soundfile as sf

    p = tmp_path / "empty.wav"
    sf.write(str(p), np.zeros(0, dtype=np.float32), 16000)
    with pytest.raises(InputError, match="no samples"):
        load_wav(p)


def test_load_wav_resamples_to_16k_mono(tmp_path):
    import soundfile as sf

    p = tmp_path / "stereo.wav"
    x = np.sin(np.linspace(0, 2000, 22050)).astype(np.float32)
    sf.write(str(p), np.stack([x, x], axis=1), 22050)
    y = load_wav(p)
    assert y.dtype == np.float32 and y.ndim == 1 and abs(len(y) - 16000) <= 1


# ------------------------------------------------------------------ real recognition

def test_whisper_recognises_espeak_speech_and_assigns_roles(speech):
    import jiwer

    wav, times = speech
    scribe = get_scribe("whisper+rules", {"whisper": {"beam_size": 1}})
    out = scribe.run(_item(wav, times))
    turns = out.transcript
    ref = _norm(" ".join(t for _, t in DIALOGUE))
    hyp = _norm(" ".join(t.text for t in turns))
    wer = jiwer.wer(ref, hyp)
    assert wer < 0.4, (wer, hyp)
    assert [t.speaker for t in turns] == [s for s, _ in DIALOGUE]
    for t, (a, b) in zip(turns, times):
        assert a - 0.5 <= t.start <= t.end <= b + 0.5
    # the whole pipeline writes a note from the recognised turns
    assert out.backend == "whisper+rules" and out.note.sentences()
    assert "cough" in out.note.to_text().lower()


@pytest.mark.slow
def test_whisper_without_turn_times_alternates_roles_at_pauses(tmp_path):
    wav = tmp_path / "slow_turns.wav"
    dialogue_wav([(s.value, t) for s, t in DIALOGUE], wav, gap_s=1.8)  # long pauses between speakers
    t = get_scribe("whisper+rules", {"whisper": {"beam_size": 1, "pause_s": 1.2}}).transcriber
    turns = t.transcribe(_item(wav, []))
    assert [x.speaker for x in turns] == [s for s, _ in DIALOGUE]
    assert "cough" in turns[1].text.lower()


@pytest.mark.slow
def test_sphinx_transcribes_with_roles_from_turn_times(tmp_path):
    pytest.importorskip("espeakng_loader")
    lines = DIALOGUE[:3]  # PocketSphinx is slow: three turns are enough
    wav = tmp_path / "short.wav"
    times = dialogue_wav([(s.value, t) for s, t in lines], wav)
    t = get_scribe("sphinx+rules").transcriber
    turns = t.transcribe(_item(wav, times, consultation=_consultation(lines)))
    assert [x.speaker for x in turns] == [s for s, _ in lines]
    assert all(x.start is not None and x.end >= x.start for x in turns)
    assert sum(len(x.text.split()) for x in turns) >= 8
