"""Speech: 16 kHz mono PCM16, reproducible bytes, per-turn times, distinct voices, SNR, WAV errors."""

from __future__ import annotations

import hashlib
import subprocess
import sys
import wave

import numpy as np
import pytest

from evalkit.errors import InputError
from evalkit.synth import generate_consultation, load_cards, read_wav, synthesize, with_turn_times
from evalkit.synth.tts import SAMPLE_RATE, measured_snr, speech_mask


@pytest.fixture(scope="module")
def short():
    """A real generated consultation cut to its first 8 turns (fast to speak)."""
    card = next(c for c in load_cards() if c.id == "gp-tonsillitis-uk-01")
    c = generate_consultation(card, 7)
    return c.model_copy(update={"turns": c.turns[:8]})


@pytest.fixture(scope="module")
def clean(short, tmp_path_factory):
    d = tmp_path_factory.mktemp("tts")
    audio = synthesize(short, d / "audio" / "a.wav", seed=3, root=d)
    return d, audio


def test_wav_format(clean):
    d, audio = clean
    with wave.open(str(d / audio.path)) as w:
        assert (w.getframerate(), w.getnchannels(), w.getsampwidth()) == (16000, 1, 2)
        assert w.getnframes() / 16000 == pytest.approx(audio.duration, abs=1e-3)
    assert audio.sample_rate == SAMPLE_RATE and audio.engine == "espeak"
    assert audio.path == "audio/a.wav"  # relative to the database folder


def test_turn_times_increasing_inside_duration_and_on_speech(short, clean):
    d, audio = clean
    tt = audio.turn_times
    assert [t.turn_id for t in tt] == [t.id for t in short.turns]
    assert all(t.start < t.end for t in tt)
    assert all(a.end <= b.start for a, b in zip(tt, tt[1:]))
    assert tt[0].start > 0 and tt[-1].end <= audio.duration
    x, sr = read_wav(d / audio.path)
    mask = speech_mask(len(x), tt, sr)
    assert np.sqrt(np.mean(x[mask] ** 2)) > 10 * np.sqrt(np.mean(x[~mask] ** 2) + 1e-12)  # gaps are silent
    timed = with_turn_times(short, audio)
    assert [(t.start, t.end) for t in timed.turns] == [(t.start, t.end) for t in tt]


def test_clinician_and_patient_voices_differ(clean):
    _d, audio = clean
    assert set(audio.voices) == {"CLINICIAN", "PATIENT"}
    assert audio.voices["CLINICIAN"].split("@")[0] != audio.voices["PATIENT"].split("@")[0]


def test_same_seed_same_bytes_even_after_other_speech(short, tmp_path):
    a = synthesize(short, tmp_path / "1.wav", seed=3)
    other = short.model_copy(update={"id": "other"})
    synthesize(other, tmp_path / "x.wav", seed=99)  # espeak state must not leak between consultations
    synthesize(short, tmp_path / "2.wav", seed=3)
    assert (tmp_path / "1.wav").read_bytes() == (tmp_path / "2.wav").read_bytes()
    synthesize(short, tmp_path / "3.wav", seed=4)
    assert (tmp_path / "3.wav").read_bytes() != (tmp_path / "1.wav").read_bytes()
    assert a.duration > 5


def test_same_bytes_in_a_fresh_process(short, clean, tmp_path):
    d, audio = clean
    src = tmp_path / "c.json"
    src.write_text(short.model_dump_json())
    code = ("import sys; from evalkit.schema import Consultation; from evalkit.synth import synthesize;"
            "c = Consultation.model_validate_json(open(sys.argv[1]).read());"
            "synthesize(c, sys.argv[2], seed=3)")
    subprocess.run([sys.executable, "-c", code, str(src), str(tmp_path / "p.wav")], check=True)
    assert hashlib.sha256((tmp_path / "p.wav").read_bytes()).digest() == \
        hashlib.sha256((d / audio.path).read_bytes()).digest()


@pytest.mark.parametrize("snr", [20.0, 5.0])
def test_noise_at_requested_snr(short, clean, tmp_path, snr):
    d, audio = clean
    noisy = synthesize(short, tmp_path / "n.wav", seed=3, snr_db=snr)
    assert noisy.snr_db == snr and noisy.turn_times == audio.turn_times
    x_clean, _ = read_wav(d / audio.path)
    x_noisy, _ = read_wav(tmp_path / "n.wav")
    assert abs(measured_snr(x_clean, x_noisy, audio.turn_times) - snr) <= 0.5
    again = synthesize(short, tmp_path / "n2.wav", seed=3, snr_db=snr)
    assert (tmp_path / "n.wav").read_bytes() == (tmp_path / "n2.wav").read_bytes()
    assert again.model_copy(update={"path": noisy.path}) == noisy


def test_measured_snr_on_known_signal():
    rng = np.random.default_rng(0)
    from evalkit.schema import TurnTime

    clean = np.sin(np.linspace(0, 2000, 16000))
    noise = rng.standard_normal(16000)
    noise *= np.sqrt(np.mean(clean ** 2) / 10 / np.mean(noise ** 2))  # 10 dB
    assert measured_snr(clean, clean + noise, [TurnTime(turn_id=0, start=0, end=1)]) == pytest.approx(10, abs=0.2)


def test_read_wav_errors_are_one_line_input_errors(tmp_path, clean):
    d, audio = clean
    x, sr = read_wav(d / audio.path)
    assert x.dtype == np.float32 and sr == 16000 and np.max(np.abs(x)) <= 1.0
    corrupt = tmp_path / "corrupt.wav"
    corrupt.write_bytes(b"RIFF\x00\x00\x00\x00WAVEjunkjunkjunk")
    text = tmp_path / "note.wav"
    text.write_text("not audio at all")
    for p in (corrupt, text, tmp_path / "missing.wav"):
        with pytest.raises(InputError) as ei:
            read_wav(p)
        msg = str(ei.value)
        assert str(p) in msg and "\n" not in msg and "re-generate the audio" in msg


def test_non_wav_audio_is_rejected(tmp_path):
    import soundfile as sf

    p = tmp_path / "a.flac"
    sf.write(str(p), np.zeros(1600, dtype=np.float32), 16000, format="FLAC")
    with pytest.raises(InputError, match="not a readable WAV file"):
        read_wav(p)


def test_unknown_engine(short, tmp_path):
    with pytest.raises(InputError, match="engine"):
        synthesize(short, tmp_path / "x.wav", engine="nope")


def test_every_configured_voice_exists_and_speaks():
    from evalkit.synth.espeak import EspeakSession, VoiceSpec
    from evalkit.synth.tts import VOICES

    names = sorted({v for table in VOICES.values() for vs in table.values() for v in vs})
    with EspeakSession(seed=0) as s:
        for name in names:
            assert s.speak("Hello.", VoiceSpec(name)).size > 1000, name
        with pytest.raises(InputError, match="no voice"):
            s.speak("Hello.", VoiceSpec("en-gb+f3"))  # espeak drops the variant: reported, not silently wrong
