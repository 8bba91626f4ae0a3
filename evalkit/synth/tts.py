"""Speech for consultations: one WAV per consultation, clinician and patient in different voices.

Output is 16 kHz mono PCM16. espeak-ng's 22,050 Hz output is resampled with
``scipy.signal.resample_poly``; each turn is trimmed of espeak's own leading/trailing silence
and followed by a short seeded pause; per-turn start/end times are recorded in
``Audio.turn_times``. Optional background noise is added at a requested SNR (speech power over
the turns' spans versus noise power), seeded, so the same inputs give the same bytes.

Text goes through :func:`evalkit.synth.spoken.spoken_form` first ("500 mg" → "500 milligrams").
"""

from __future__ import annotations

import contextlib
import io
import os
import random
import threading
import wave
from collections import OrderedDict
from math import gcd
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..schema import Audio, Consultation, SpeakerRole, TurnTime
from .channels import measured_snr, speech_mask
from .espeak import EspeakSession, VoiceSpec
from .espeak import SAMPLE_RATE as ESPEAK_RATE
from .generate import stable_hash
from .spoken import spoken_form

SAMPLE_RATE = 16000
ENGINES = ("espeak", "piper")  # piper needs the optional extra evalkit[voices] (see piper_engine.py)
_PEAK = 0.89  # peak level of the clean speech (≈ -1 dBFS)
_LEAD_S, _TAIL_S = 0.30, 0.40

#: espeak voices by region; the clinician and patient always get different voices. Chosen for
#: Whisper tiny.en intelligibility (en-gb-scotland, en+f3, en+f4, en-us-nyc and en-gb-x-gbcwmd
#: scored 30-40% WER on the same dialogue where these scored 18-27%). espeak has no Australian voice.
VOICES: dict[str, dict[str, list[str]]] = {
    "UK": {"clinician": ["en-gb-x-rp", "en+m7"], "female": ["en+f2", "en+f5"],
           "male": ["en-gb-x-gbclan", "en+m3"]},
    "US": {"clinician": ["en-us", "en-us+m3"], "female": ["en-us+f2", "en-us+f3"],
           "male": ["en-us+m7", "en-us+m3"]},
    "AU": {"clinician": ["en+m7", "en-gb-x-rp"], "female": ["en+f5", "en+f2"],
           "male": ["en-gb-x-gbclan", "en+m3"]},
}
_REGION_VOICES = {"IE": "UK", "NZ": "AU", "CA": "US"}


def choose_voices(consultation: Consultation, rng: random.Random, accents: bool = False) -> dict[str, VoiceSpec]:
    """Pick the clinician's and the patient-side speaker's voices (region, sex, seed).

    ``case.metadata.voices`` (``{clinician: "en-gb-x-rp", patient: "en+f3"}``) overrides the choice.
    With ``accents`` (or a card with ``metadata.accent``/``clinician_accent``) the voices come from
    the region's accent pools (:mod:`evalkit.synth.accents`: RP, Scottish, Northern, West
    Midlands, US, Caribbean, Indian-accented English...); otherwise from :data:`VOICES`.
    """
    case = consultation.case
    if accents or case.metadata.get("accent") or case.metadata.get("clinician_accent"):
        from .accents import choose_accent_voices

        return choose_accent_voices(case, rng)
    table = VOICES.get(_REGION_VOICES.get(case.region, case.region), VOICES["US"])
    speaker = case.metadata.get("speaker", "self")
    sex = case.persona.sex.value
    if speaker in ("mum", "mom"):
        sex = "female"
    elif speaker == "dad":
        sex = "male"
    elif speaker != "self" or sex not in ("female", "male"):
        sex = rng.choice(["female", "male"])
    clin = rng.choice(table["clinician"])
    pat = rng.choice([v for v in table[sex] if v != clin])
    override = case.metadata.get("voices") or {}
    clin, pat = override.get("clinician", clin), override.get("patient", pat)
    return {
        SpeakerRole.CLINICIAN.value: VoiceSpec(clin, rate=rng.randint(172, 186), pitch=rng.randint(38, 48)),
        SpeakerRole.PATIENT.value: VoiceSpec(pat, rate=rng.randint(162, 178),
                                             pitch=rng.randint(58, 70) if sex == "female" else rng.randint(28, 36)),
        SpeakerRole.OTHER.value: VoiceSpec(rng.choice(table["female" if sex == "male" else "male"]), rate=165,
                                           pitch=55),
    }


def _trim(x: np.ndarray, threshold: float = 0.004) -> np.ndarray:
    idx = np.flatnonzero(np.abs(x) > threshold)
    if idx.size == 0:
        return x[:0]
    pad = int(0.02 * SAMPLE_RATE)
    return x[max(0, idx[0] - pad): idx[-1] + pad + 1]


def _resample(x: np.ndarray, sr_in: int) -> np.ndarray:
    from scipy.signal import resample_poly

    g = gcd(sr_in, SAMPLE_RATE)
    return resample_poly(x.astype(np.float64), SAMPLE_RATE // g, sr_in // g)


def background_noise(n: int, rng: np.random.Generator) -> np.ndarray:
    """Room-like background noise: white noise tilted towards low frequencies (unit power)."""
    from scipy.signal import lfilter

    white = rng.standard_normal(n + 2048)
    brown = lfilter([1.0], [1.0, -0.97], white)
    x = (0.6 * white + 0.4 * brown / (np.std(brown) or 1.0))[2048:]
    return x / np.sqrt(np.mean(x ** 2))


def _render(consultation: Consultation, seed: int, engine: str = "espeak", accents: bool = False,
            overlap_rate: float = 0.0) -> tuple[np.ndarray, list[TurnTime], dict]:
    """Clean speech of a whole consultation, its turn times and voices.

    With ``overlap_rate`` > 0, that fraction of clinician→patient hand-overs (seeded) start
    0.2–0.6 s before the clinician has finished (never before the middle of the clinician's
    turn): the two voices are mixed there and the patient turn's start is before the previous
    turn's end.
    """
    rng = random.Random(seed + stable_hash(consultation.id))
    orng = random.Random(seed * 7919 + stable_hash(consultation.id + ":overlap"))
    if engine == "piper":
        from .piper_engine import choose_piper_voices
        from .piper_engine import speak as piper_speak

        voices: dict = choose_piper_voices(consultation.case, rng)
        session: contextlib.AbstractContextManager = contextlib.nullcontext(None)
    else:
        voices = choose_voices(consultation, rng, accents=accents)
        session = EspeakSession(seed=seed)
    placed: list[tuple[int, np.ndarray]] = []
    pos = int(_LEAD_S * SAMPLE_RATE)  # end of everything placed so far
    prev_start = pos
    times: list[TurnTime] = []
    prev_role = None
    with session as tts:
        for turn in consultation.turns:
            text = spoken_form(turn.text)
            if not text:
                continue
            voice = voices.get(turn.speaker.value, voices[SpeakerRole.PATIENT.value])
            if engine == "piper":
                x = _trim(piper_speak(text, voice))
            else:
                x = _trim(_resample(tts.speak(text, voice).astype(np.float64) / 32768.0, ESPEAK_RATE))
            if x.size == 0:
                continue
            start = pos
            if prev_role is not None:
                lo, hi = (0.15, 0.3) if prev_role == turn.speaker else (0.25, 0.6)
                start = pos + int(rng.uniform(lo, hi) * SAMPLE_RATE)
                if (overlap_rate > 0 and prev_role == SpeakerRole.CLINICIAN and turn.speaker == SpeakerRole.PATIENT
                        and orng.random() < overlap_rate):
                    start = max(prev_start + (pos - prev_start) // 2, pos - int(orng.uniform(0.2, 0.6) * SAMPLE_RATE))
            times.append(TurnTime(turn_id=turn.id, start=round(start / SAMPLE_RATE, 3),
                                  end=round((start + x.size) / SAMPLE_RATE, 3)))
            placed.append((start, x))
            prev_start = start
            pos = max(pos, start + x.size)
            prev_role = turn.speaker
    y = np.zeros(pos + int(_TAIL_S * SAMPLE_RATE))
    for start, x in placed:
        y[start:start + x.size] += x
    peak = float(np.max(np.abs(y))) or 1.0
    return y * (_PEAK / peak), times, voices


_RENDERS: OrderedDict = OrderedDict()  # a sweep speaks each consultation once per engine, then varies the channel
_RENDERS_LOCK = threading.Lock()


def _render_cached(consultation: Consultation, seed: int, engine: str, accents: bool,
                   overlap_rate: float) -> tuple[np.ndarray, list[TurnTime], dict]:
    from ..schema import content_hash

    key = (content_hash(consultation), seed, engine, accents, overlap_rate)
    with _RENDERS_LOCK:
        if key in _RENDERS:
            _RENDERS.move_to_end(key)
            return _RENDERS[key]
    out = _render(consultation, seed, engine, accents, overlap_rate)
    with _RENDERS_LOCK:
        _RENDERS[key] = out
        while len(_RENDERS) > 6:
            _RENDERS.popitem(last=False)
    return out


def _pcm16_wav_bytes(x: np.ndarray) -> bytes:
    pcm = np.clip(np.round(x * 32767.0), -32768, 32767).astype("<i2")
    buf = io.BytesIO()
    with wave.open(buf, "wb") as w:
        w.setnchannels(1)
        w.setsampwidth(2)
        w.setframerate(SAMPLE_RATE)
        w.writeframes(pcm.tobytes())
    return buf.getvalue()


def synthesize(consultation: Consultation, out_path: str | Path, *, seed: int = 0, snr_db: float | None = None,
               engine: str = "espeak", root: str | Path | None = None, channel=None, overlap_rate: float = 0.0,
               accents: bool = False) -> Audio:
    """Speak a consultation into a 16 kHz mono PCM16 WAV.

    Args:
        consultation: the consultation; each turn is spoken in its speaker's voice.
        out_path: the WAV file to write (folders are created; written atomically).
        seed: seeds voices, rates, pauses and noise; same inputs → same bytes.
        snr_db: add seeded background noise at this signal-to-noise ratio (dB); None = clean.
        engine: the speech engine: ``"espeak"``, or ``"piper"`` (neural; needs ``evalkit[voices]``).
        root: folder ``Audio.path`` is made relative to (the database's folder).
        channel: an acoustic channel (:class:`evalkit.synth.channels.ChannelSpec`, a name —
            ``clean``, ``room``, ``phone`` — or a dict of its fields); its noise is added at
            ``snr_db`` unless it sets its own. Recorded in ``Audio.provenance["channel"]``.
        overlap_rate: fraction of clinician→patient hand-overs where the patient starts talking
            before the clinician has finished (seeded; visible in the turn times).
        accents: choose accented espeak voices from the card's region (:mod:`evalkit.synth.accents`).

    Returns:
        The :class:`Audio` record with per-turn times (copy them onto the turns with
        :func:`with_turn_times`).
    """
    if engine not in ENGINES:
        raise InputError("tts", "engine", f"unknown speech engine {engine!r}", f"use one of: {', '.join(ENGINES)}")
    clean, times, voices = _render_cached(consultation, seed, engine, accents, overlap_rate)
    y = clean
    measured = None
    extra: dict = {}
    if channel is not None:
        from .channels import ChannelSpec, apply_channel

        spec = ChannelSpec.coerce(channel, snr_db)
        y, extra["channel"] = apply_channel(clean, times, spec, (seed * 1_000_003 + stable_hash(consultation.id)))
        snr_db = spec.snr_db
        measured = extra["channel"].get("measured_snr_db")
    elif snr_db is not None:
        nrng = np.random.default_rng([seed & 0xFFFFFFFF, stable_hash(consultation.id) & 0xFFFFFFFF])
        mask = speech_mask(len(clean), times)
        p_sig = float(np.mean(clean[mask] ** 2))
        noise = background_noise(len(clean), nrng) * np.sqrt(p_sig / 10 ** (snr_db / 10))
        y = clean + noise
        peak = float(np.max(np.abs(y)))
        if peak > 0.99:
            y = y * (0.99 / peak)
        measured = round(measured_snr(clean, np.round(y * 32767.0) / 32767.0, times), 3)
    out = Path(out_path)
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.{os.getpid()}.tmp")
    tmp.write_bytes(_pcm16_wav_bytes(y))
    os.replace(tmp, out)
    rel = os.path.relpath(out.resolve(), Path(root).resolve()) if root is not None else str(out)
    return Audio(path=rel, sample_rate=SAMPLE_RATE, duration=round(len(y) / SAMPLE_RATE, 3), turn_times=times,
                 engine=engine, voices={role: v.label() for role, v in voices.items() if role != "OTHER"},
                 snr_db=snr_db,
                 provenance={"seed": seed, "spoken_form": "evalkit.synth.spoken", "measured_snr_db": measured,
                             "resample": (f"resample_poly {ESPEAK_RATE}->{SAMPLE_RATE}" if engine == "espeak"
                                          else f"soxr 22050*shift->{SAMPLE_RATE}"),
                             "overlap_rate": overlap_rate, "accents": accents, **extra})


def with_turn_times(consultation: Consultation, audio: Audio | None) -> Consultation:
    """A copy of the consultation whose turns carry the audio's start/end times."""
    if audio is None or not audio.turn_times:
        return consultation
    times = {t.turn_id: t for t in audio.turn_times}
    turns = [t.model_copy(update={"start": times[t.id].start, "end": times[t.id].end}) if t.id in times else t
             for t in consultation.turns]
    return consultation.model_copy(update={"turns": turns})


def read_wav(path: str | Path) -> tuple[np.ndarray, int]:
    """Read a WAV file as mono float32 in [-1, 1].

    Args:
        path: the WAV file.

    Returns:
        ``(samples, sample_rate)``.

    Raises:
        InputError: the file is missing, corrupt or not a WAV file.
    """
    import soundfile as sf

    p = Path(path)
    fix = "re-generate the audio (evalkit generate --audio) or re-export it as 16 kHz mono PCM WAV"
    if not p.is_file():
        raise InputError(str(p), "audio", "WAV file not found", fix)
    try:
        info = sf.info(str(p))
        if info.format != "WAV":
            raise ValueError(info.format)
    except Exception:  # soundfile.LibsndfileError, RuntimeError, ValueError
        raise InputError(str(p), "audio", "is not a readable WAV file", fix) from None
    from ..security.audio_check import checked_info

    checked_info(p)  # rate, channels and duration sane before a sample is decoded
    try:
        data, sr = sf.read(str(p), dtype="float32", always_2d=True)
    except Exception:  # soundfile.LibsndfileError, RuntimeError, ValueError
        raise InputError(str(p), "audio", "is not a readable WAV file", fix) from None
    if data.shape[0] == 0:
        raise InputError(str(p), "audio", "has no samples", fix)
    return data.mean(axis=1).astype(np.float32), int(sr)
