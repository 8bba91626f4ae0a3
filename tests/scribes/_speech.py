"""Test helper: speak dialogue turns to a 16 kHz WAV with the libespeak-ng bundled in espeakng_loader.

Uses ``evalkit.synth.tts`` when it exists would be nicer; this tiny ctypes binding keeps the scribe
tests independent of it. Returns the per-turn times so role assignment can be tested.
"""

from __future__ import annotations

import ctypes
import threading
from pathlib import Path

import numpy as np

_LOCK = threading.Lock()
_LIB = None
_RATE = 0
_CHUNKS: list[np.ndarray] = []

_CB = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)


@_CB
def _callback(wav, n, _events):  # pragma: no cover - called from C
    if n > 0 and wav:
        _CHUNKS.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
    return 0


def _lib():
    global _LIB, _RATE
    if _LIB is None:
        import espeakng_loader

        lib = ctypes.CDLL(espeakng_loader.get_library_path())
        lib.espeak_Initialize.restype = ctypes.c_int
        lib.espeak_Initialize.argtypes = [ctypes.c_int, ctypes.c_int, ctypes.c_char_p, ctypes.c_int]
        _RATE = lib.espeak_Initialize(2, 0, espeakng_loader.get_data_path().encode(), 0)  # 2 = SYNCHRONOUS
        if _RATE <= 0:
            raise RuntimeError("espeak_Initialize failed")
        lib.espeak_SetSynthCallback(_callback)
        lib.espeak_SetVoiceByName.argtypes = [ctypes.c_char_p]
        lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                     ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
        _LIB = lib
    return _LIB


def speak(text: str, voice: str = "en-us") -> np.ndarray:
    """Float32 samples at 16 kHz for ``text``."""
    from scipy.signal import resample_poly

    with _LOCK:
        lib = _lib()
        lib.espeak_SetVoiceByName(voice.encode())
        _CHUNKS.clear()
        b = text.encode("utf-8") + b"\0"
        lib.espeak_Synth(b, len(b), 0, 0, 0, 0x1, None, None)  # 0x1 = espeakCHARS_UTF8
        pcm = np.concatenate(_CHUNKS) if _CHUNKS else np.zeros(0, dtype=np.int16)
        rate = _RATE
    x = pcm.astype(np.float32) / 32768.0
    from math import gcd

    g = gcd(rate, 16000)
    return resample_poly(x, 16000 // g, rate // g).astype(np.float32)


def dialogue_wav(turns: list[tuple[str, str]], path: Path, gap_s: float = 0.9,
                 voices: dict[str, str] | None = None) -> list[tuple[float, float]]:
    """Write a WAV of ``(role, text)`` turns separated by silence; return each turn's (start, end)."""
    import soundfile as sf

    voices = voices or {"CLINICIAN": "en-us", "PATIENT": "en-gb-x-rp"}
    parts: list[np.ndarray] = []
    times: list[tuple[float, float]] = []
    t = 0.3
    parts.append(np.zeros(int(0.3 * 16000), dtype=np.float32))
    for role, text in turns:
        x = speak(text, voices.get(role, "en-us"))
        times.append((t, t + len(x) / 16000))
        parts.append(x)
        parts.append(np.zeros(int(gap_s * 16000), dtype=np.float32))
        t += len(x) / 16000 + gap_s
    sf.write(str(path), np.concatenate(parts), 16000, subtype="PCM_16")
    return times
