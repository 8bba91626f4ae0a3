"""Acoustic channels for synthetic consultations: background noise, a room, a telephone line.

A channel turns the clean 16 kHz speech of :func:`evalkit.synth.tts.synthesize` into what a
scribe would really hear. Everything is seeded (same seed → same samples) and every step is
recorded in ``Audio.provenance["channel"]``.

The chain, in the order sound travels:

1. **room** (``channel="room"``): the speech is convolved with a synthetic impulse response
   (a direct path of gain ``1/distance`` plus an exponentially decaying diffuse tail with the
   requested RT60, sized so the direct and reverberant energies are equal at the room's
   critical distance). A distant microphone hears the speech quieter and more reverberant.
2. **noise** (``snr_db`` set): pink, brown or white noise, a clinic hum (mains hum and its
   harmonics over ventilation rumble) or babble made from other synthetic speakers is added at
   the requested SNR. The SNR is speech power over the turns' spans versus noise power over the
   whole recording (:func:`evalkit.synth.channels.measured_snr`), measured at the microphone: for
   ``clean`` and ``room`` that is the output file itself.
3. **phone** (``channel="phone"``): band-limited to 300–3,400 Hz, down to 8 kHz, a G.711 μ-law
   round trip (8-bit), 20 ms packets lost at ``packet_loss`` (silent gaps), and back to 16 kHz
   for the scribe, low-passed so nothing is left above 4 kHz.

DSP is numpy/scipy only (``scipy.signal`` filters, ``resample_poly``, ``oaconvolve``).
"""

from __future__ import annotations

from dataclasses import asdict, dataclass, replace
from functools import lru_cache
from typing import Any

import numpy as np

from ..errors import InputError
from ..schema import TurnTime

SAMPLE_RATE = 16000
CHANNELS = ("clean", "room", "phone")
NOISES = ("pink", "brown", "white", "hum", "babble")
_PEAK_LIMIT = 0.99
_TALKER_Q = 2.5  # directivity factor of a human talker (towards the listener)

__all__ = ["CHANNELS", "NOISES", "ChannelSpec", "apply_channel", "apply_phone", "apply_room", "babble_noise",
           "colored_noise", "hum_noise", "make_noise", "mix_at_snr", "room_impulse_response", "parse_snr"]


@dataclass(frozen=True)
class ChannelSpec:
    """One acoustic condition.

    Args:
        name: ``clean`` (microphone next to the speakers), ``room`` or ``phone``.
        snr_db: add noise at this SNR in dB; ``None`` adds none.
        noise: ``pink``, ``brown``, ``white``, ``hum`` or ``babble``.
        rt60: room reverberation time in seconds (``room``).
        mic_distance_m: microphone distance from the speakers in metres (``room``); level
            falls 6 dB per doubling and the reverberant share grows.
        room_volume_m3: room volume, sets the critical distance (``room``).
        packet_loss: fraction of 20 ms packets lost (``phone``).
        hum_hz: mains frequency of the ``hum`` noise (50 Hz in the UK/EU, 60 Hz in the US).
    """

    name: str = "clean"
    snr_db: float | None = None
    noise: str = "pink"
    rt60: float = 0.4
    mic_distance_m: float = 1.0
    room_volume_m3: float = 40.0
    packet_loss: float = 0.02
    hum_hz: float = 50.0

    def __post_init__(self) -> None:
        if self.name not in CHANNELS:
            raise InputError("channel", "name", f"unknown channel {self.name!r}", f"use one of: {', '.join(CHANNELS)}")
        if self.noise not in NOISES:
            raise InputError("channel", "noise", f"unknown noise {self.noise!r}", f"use one of: {', '.join(NOISES)}")
        if not 0.05 <= self.rt60 <= 3.0:
            raise InputError("channel", "rt60", f"RT60 {self.rt60:g} s is out of range", "use 0.05–3.0 seconds")
        if not 0.1 <= self.mic_distance_m <= 20:
            raise InputError("channel", "mic_distance_m", "is out of range", "use 0.1–20 metres")
        if not 0.0 <= self.packet_loss < 0.5:
            raise InputError("channel", "packet_loss", "is out of range", "use a fraction in [0, 0.5), e.g. 0.02")
        if self.snr_db is not None and not -20 <= self.snr_db <= 80:
            raise InputError("channel", "snr_db", f"SNR {self.snr_db:g} dB is out of range", "use -20…80 dB")

    def label(self) -> str:
        """Short condition label, e.g. ``room@10dB`` or ``phone`` (no noise)."""
        return self.name + (f"@{self.snr_db:g}dB" if self.snr_db is not None else "")

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    @classmethod
    def coerce(cls, value: "ChannelSpec | str | dict | None", snr_db: float | None = None) -> "ChannelSpec":
        """A spec from a spec, a channel name (``"phone"``), or a dict of fields; ``snr_db`` fills a missing SNR.

        Args:
            value: what the caller gave.
            snr_db: the SNR to use when the value does not set one.
        """
        if value is None:
            spec = cls()
        elif isinstance(value, cls):
            spec = value
        elif isinstance(value, str):
            spec = cls(name=value)
        elif isinstance(value, dict):
            unknown = set(value) - set(cls.__dataclass_fields__)
            if unknown:
                raise InputError("channel", ", ".join(sorted(unknown)), "unknown channel option(s)",
                                 f"use any of: {', '.join(cls.__dataclass_fields__)}")
            spec = cls(**value)
        else:
            raise InputError("channel", None, f"cannot read a channel from {type(value).__name__}",
                             "give a channel name (clean, room, phone) or a mapping of its options")
        if spec.snr_db is None and snr_db is not None:
            spec = replace(spec, snr_db=float(snr_db))
        return spec


def parse_snr(text: str) -> float | None:
    """``"20"`` → 20.0; ``"inf"``, ``"none"``, ``"clean"`` or ``""`` → None (no added noise)."""
    t = str(text).strip().lower()
    if t in ("", "inf", "none", "clean", "off"):
        return None
    try:
        return float(t)
    except ValueError:
        raise InputError("--snr", text, "is not a number", "give SNRs in dB, e.g. 30,20,10,5 (or inf for no noise)") \
            from None


# --------------------------------------------------------------------------- noise


def _unit_power(x: np.ndarray) -> np.ndarray:
    p = float(np.mean(x ** 2))
    return x / np.sqrt(p) if p > 0 else x


def speech_mask(n: int, turn_times: list[TurnTime], sr: int = SAMPLE_RATE) -> np.ndarray:
    """Boolean mask of the samples inside the turns' spans."""
    mask = np.zeros(n, dtype=bool)
    for t in turn_times:
        mask[int(round(t.start * sr)): int(round(t.end * sr))] = True
    return mask


def measured_snr(clean: np.ndarray, noisy: np.ndarray, turn_times: list[TurnTime], sr: int = SAMPLE_RATE) -> float:
    """SNR in dB of ``noisy`` against its ``clean`` speech (scale fitted by least squares).

    Signal power is the mean power of the clean speech over the turns' spans; noise power is
    the mean power of ``noisy - a*clean`` over the whole recording.
    """
    clean = clean.astype(np.float64)
    noisy = noisy.astype(np.float64)
    a = float(np.dot(noisy, clean) / np.dot(clean, clean))
    noise = noisy - a * clean
    mask = speech_mask(len(clean), turn_times, sr)
    return float(10 * np.log10(np.mean((a * clean[mask]) ** 2) / np.mean(noise ** 2)))


def colored_noise(n: int, rng: np.random.Generator, exponent: float, sr: int = SAMPLE_RATE) -> np.ndarray:
    """Noise with power spectral density ∝ 1/f^exponent (0 white, 1 pink, 2 brown), unit power.

    Args:
        n: number of samples.
        rng: the seeded generator.
        exponent: spectral slope.
        sr: sample rate (the lowest shaped frequency is 20 Hz).
    """
    from scipy.fft import irfft, next_fast_len

    m = next_fast_len(n, real=True)
    spec = rng.standard_normal(m // 2 + 1) + 1j * rng.standard_normal(m // 2 + 1)
    f = np.fft.rfftfreq(m, 1.0 / sr)
    shape = np.maximum(f, 20.0) ** (-exponent / 2.0)
    shape[0] = 0.0
    return _unit_power(irfft(spec * shape, m)[:n])


def hum_noise(n: int, rng: np.random.Generator, sr: int = SAMPLE_RATE, mains_hz: float = 50.0) -> np.ndarray:
    """Clinic hum: mains hum with odd/even harmonics over brown ventilation rumble, unit power."""
    t = np.arange(n) / sr
    harmonics = np.arange(1, 8)
    amps = 1.0 / harmonics
    phases = rng.uniform(0, 2 * np.pi, harmonics.size)
    hum = np.sum(amps[:, None] * np.sin(2 * np.pi * mains_hz * harmonics[:, None] * t + phases[:, None]), axis=0)
    return _unit_power(0.7 * _unit_power(hum) + 0.7 * colored_noise(n, rng, 2.0, sr))


#: neutral sentences the babble talkers say (no clinical content, so nothing the scribe hears
#: in the background can be mistaken for part of the consultation)
_BABBLE_TEXT = (
    "The bus was late again this morning so I walked the whole way in the rain.",
    "Could you pass me the blue folder from the shelf by the window please.",
    "We are thinking of painting the kitchen a lighter colour before the summer.",
    "The car park was full so I had to leave it round the back near the shops.",
    "My sister is coming over on Sunday and bringing the children with her.",
    "They said the new timetable starts next month but nobody has seen it yet.",
    "I left my umbrella on the train and had to buy another one at the station.",
    "The garden looks lovely now that the roses are out along the fence.",
    "Is there any more tea in the pot or shall I put the kettle on again.",
    "He keeps talking about the football match as if we had not all watched it.",
    "The printer on the second floor has been jammed since Tuesday afternoon.",
    "We walked along the river and stopped for lunch at the little cafe.",
)
_BABBLE_VOICES = ("en+m3", "en+f2", "en-us+m7", "en-gb-x-rp+f4", "en-gb-scotland+m3", "en-029+f3", "en-us+f5",
                  "en-gb-x-gbclan+m2")


@lru_cache(maxsize=4)
def _babble_bed(seed: int, sr: int, talkers: int) -> tuple[np.ndarray, ...]:
    """One long recording per background talker (each a few sentences, seeded order and voice)."""
    import random

    from scipy.signal import resample_poly

    from .espeak import SAMPLE_RATE as ESPEAK_RATE
    from .espeak import EspeakSession, VoiceSpec

    r = random.Random(seed)
    beds: list[np.ndarray] = []
    with EspeakSession(seed=seed) as tts:
        for k in range(talkers):
            voice = VoiceSpec(_BABBLE_VOICES[k % len(_BABBLE_VOICES)], rate=r.randint(150, 190),
                              pitch=r.randint(25, 75))
            lines = r.sample(_BABBLE_TEXT, 6)
            pcm = np.concatenate([tts.speak(line, voice) for line in lines]).astype(np.float64) / 32768.0
            g = np.gcd(ESPEAK_RATE, sr)
            beds.append(_unit_power(resample_poly(pcm, sr // g, ESPEAK_RATE // g)))
    return tuple(beds)


def babble_noise(n: int, rng: np.random.Generator, sr: int = SAMPLE_RATE, talkers: int = 6) -> np.ndarray:
    """Babble: several synthetic background talkers at once (espeak voices, neutral text), unit power.

    Args:
        n: number of samples.
        rng: the seeded generator (chooses the talkers' material and time offsets).
        sr: sample rate.
        talkers: how many people talk at once (6+ makes the words unintelligible).
    """
    beds = _babble_bed(int(rng.integers(0, 4)), sr, talkers)
    out = np.zeros(n)
    for bed in beds:
        start = int(rng.integers(0, bed.size))
        idx = (start + np.arange(n)) % bed.size
        out += bed[idx] * rng.uniform(0.7, 1.0)
    return _unit_power(out)


def make_noise(kind: str, n: int, rng: np.random.Generator, sr: int = SAMPLE_RATE, hum_hz: float = 50.0) -> np.ndarray:
    """Unit-power noise of one of :data:`NOISES`."""
    if kind == "pink":
        return colored_noise(n, rng, 1.0, sr)
    if kind == "brown":
        return colored_noise(n, rng, 2.0, sr)
    if kind == "white":
        return _unit_power(rng.standard_normal(n))
    if kind == "hum":
        return hum_noise(n, rng, sr, hum_hz)
    if kind == "babble":
        return babble_noise(n, rng, sr)
    raise InputError("channel", "noise", f"unknown noise {kind!r}", f"use one of: {', '.join(NOISES)}")


def mix_at_snr(speech: np.ndarray, noise: np.ndarray, snr_db: float, mask: np.ndarray) -> np.ndarray:
    """``speech + g·noise`` with ``g`` set so speech power over ``mask`` / noise power = ``snr_db``.

    Args:
        speech: the signal at the microphone.
        noise: noise of the same length.
        snr_db: the requested SNR in dB.
        mask: samples inside the turns (where speech power is measured).
    """
    p_sig = float(np.mean(speech[mask] ** 2)) if mask.any() else float(np.mean(speech ** 2))
    p_noise = float(np.mean(noise ** 2)) or 1.0
    return speech + noise * np.sqrt(p_sig / (p_noise * 10 ** (snr_db / 10)))


# --------------------------------------------------------------------------- room


def room_impulse_response(rt60: float, rng: np.random.Generator, sr: int = SAMPLE_RATE, distance_m: float = 2.0,
                          volume_m3: float = 40.0) -> np.ndarray:
    """A synthetic room impulse response: direct path + early reflections + diffuse decaying tail.

    The diffuse tail decays 60 dB in ``rt60`` seconds and is low-passed a little more as it
    decays (air and walls absorb high frequencies); its energy equals the direct path's at the
    critical distance ``0.057·sqrt(Q·V/RT60)`` m (Q = 2.5, the directivity of a talker facing
    the microphone), and the direct path falls as ``1/distance``.

    Args:
        rt60: reverberation time in seconds.
        rng: the seeded generator.
        sr: sample rate.
        distance_m: source–microphone distance in metres.
        volume_m3: room volume in cubic metres.
    """
    from scipy.signal import butter, sosfilt

    n = int(rt60 * sr * 1.2) + 1
    t = np.arange(n) / sr
    delay = int(round(distance_m / 343.0 * sr))
    tail = rng.standard_normal(n) * np.exp(-6.9078 * t / rt60)
    tail = sosfilt(butter(2, 5000, fs=sr, output="sos"), tail)
    onset = delay + int(0.004 * sr)  # the diffuse field builds up a few ms after the direct sound
    tail[:onset] = 0.0
    ramp = min(int(0.02 * sr), n - onset)
    tail[onset:onset + ramp] *= np.linspace(0.0, 1.0, ramp)
    crit = 0.057 * np.sqrt(_TALKER_Q * volume_m3 / rt60)
    tail *= (1.0 / crit) / (np.sqrt(np.sum(tail ** 2)) or 1.0)
    h = tail
    h[delay] += 1.0 / distance_m
    # a handful of early reflections (floor, desk, walls): delayed, attenuated copies
    k = rng.integers(delay + int(0.002 * sr), min(n, delay + int(0.03 * sr)), size=6)
    h[k] += rng.uniform(0.2, 0.5, k.size) * rng.choice([-1.0, 1.0], k.size) / (distance_m + 1.0)
    return h


def apply_room(x: np.ndarray, rt60: float, rng: np.random.Generator, sr: int = SAMPLE_RATE, distance_m: float = 2.0,
               volume_m3: float = 40.0) -> np.ndarray:
    """Speech as a microphone ``distance_m`` away in a room with reverberation time ``rt60`` hears it.

    The output has the input's length (the reverberant tail past the end is cut) and the
    level a distant microphone gets (about −6 dB per doubling of the distance beyond 1 m).
    """
    from scipy.signal import oaconvolve

    h = room_impulse_response(rt60, rng, sr, distance_m, volume_m3)
    return oaconvolve(x, h)[: x.size]


# --------------------------------------------------------------------------- telephone


def apply_phone(x: np.ndarray, rng: np.random.Generator, sr: int = SAMPLE_RATE, packet_loss: float = 0.02,
                packet_ms: int = 20) -> tuple[np.ndarray, dict[str, Any]]:
    """A narrow-band phone call: 300–3,400 Hz, 8 kHz G.711 μ-law, lost packets, back to ``sr``.

    Args:
        x: the signal at the caller's microphone (at ``sr``, 16 kHz).
        rng: the seeded generator (which packets are lost).
        sr: the input and output sample rate.
        packet_loss: fraction of packets lost (each a silent gap of ``packet_ms``).
        packet_ms: packet length in milliseconds.

    Returns:
        ``(y, info)``: the signal at ``sr`` with no energy above 4 kHz, and
        ``{"packets": n, "lost": k}``.
    """
    from scipy.signal import butter, resample_poly, sosfilt

    band = sosfilt(butter(6, [300.0, 3400.0], btype="bandpass", fs=sr, output="sos"), x)
    nb = resample_poly(band, 8000, sr)
    # the handset's automatic gain: the codec sees a well-scaled signal
    peak = float(np.max(np.abs(nb))) or 1.0
    gain = 0.7 / peak
    mu = 255.0
    y = np.sign(nb * gain) * np.log1p(mu * np.abs(nb * gain)) / np.log1p(mu)
    code = np.round((np.clip(y, -1, 1) + 1.0) * 127.5)  # 8-bit code words
    y = code / 127.5 - 1.0
    nb = np.sign(y) * np.expm1(np.abs(y) * np.log1p(mu)) / mu / gain
    size = int(8000 * packet_ms / 1000)
    n_packets = int(np.ceil(nb.size / size))
    lost = rng.random(n_packets) < packet_loss
    gate = np.repeat(~lost, size)[: nb.size]
    nb = nb * gate
    wide = resample_poly(nb, sr, 8000)[: x.size]
    wide = sosfilt(butter(10, 3500.0, fs=sr, output="sos"), wide)
    return wide, {"packets": int(n_packets), "lost": int(lost.sum())}


# --------------------------------------------------------------------------- the chain


def _mask(n: int, turn_times: list[TurnTime], sr: int) -> np.ndarray:
    mask = np.zeros(n, dtype=bool)
    for t in turn_times:
        mask[int(round(t.start * sr)): int(round(t.end * sr))] = True
    return mask


def apply_channel(clean: np.ndarray, turn_times: list[TurnTime], spec: ChannelSpec | str | dict | None, seed: int,
                  sr: int = SAMPLE_RATE) -> tuple[np.ndarray, dict[str, Any]]:
    """Pass clean speech through a channel (room → noise → phone), seeded.

    Args:
        clean: clean speech in [-1, 1] at ``sr``.
        turn_times: the turns' spans (the SNR's speech power is measured inside them).
        spec: the channel (a :class:`ChannelSpec`, a channel name, or a dict of its fields).
        seed: seeds the room, the noise and the packet losses; same inputs → same samples.
        sr: sample rate.

    Returns:
        ``(y, provenance)``: the signal (peak ≤ 0.99) and what was done, including
        ``measured_snr_db`` (SNR at the microphone on the returned samples' scale) and, for
        ``phone``, the packets lost.
    """
    spec = ChannelSpec.coerce(spec)
    rng = np.random.default_rng([int(seed) & 0xFFFFFFFF, 0xC4A7, CHANNELS.index(spec.name)])
    prov: dict[str, Any] = {"channel": spec.to_dict(), "chain": []}
    x = clean.astype(np.float64)
    if spec.name == "room":
        x = apply_room(x, spec.rt60, rng, sr, spec.mic_distance_m, spec.room_volume_m3)
        prov["chain"].append(f"room rt60={spec.rt60:g}s distance={spec.mic_distance_m:g}m")
    mic_speech = x
    y = x
    if spec.snr_db is not None:
        mask = _mask(x.size, turn_times, sr)
        noise = make_noise(spec.noise, x.size, rng, sr, spec.hum_hz)
        y = mix_at_snr(x, noise, spec.snr_db, mask)
        prov["chain"].append(f"{spec.noise} noise at {spec.snr_db:g} dB SNR")
    if spec.name == "phone":
        if spec.snr_db is not None:
            prov["measured_snr_db_at_mic"] = round(measured_snr(mic_speech, y, turn_times, sr), 3)
        y, info = apply_phone(y, rng, sr, spec.packet_loss)
        prov["chain"].append("phone 300-3400 Hz, 8 kHz mu-law, packet loss")
        prov["phone"] = info
    peak = float(np.max(np.abs(y))) or 1.0
    if peak > _PEAK_LIMIT:
        scale = _PEAK_LIMIT / peak
        y, mic_speech = y * scale, mic_speech * scale
    if spec.snr_db is not None and spec.name != "phone":
        quantised = np.round(y * 32767.0) / 32767.0
        prov["measured_snr_db"] = round(measured_snr(mic_speech, quantised, turn_times, sr), 3)
    return y, prov
