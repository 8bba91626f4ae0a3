"""espeak-ng speech through the ``espeakng-loader`` wheel (bundled libespeak-ng + voice data).

Reproducibility: espeak-ng keeps synthesis state in static variables (glottal phase, pitch
flutter, echo buffer, its noise generator) that survive ``espeak_Terminate``, so the same text
sounds slightly different depending on what was said before. :class:`EspeakSession` therefore
loads a *private copy* of the library, seeds its noise generator, speaks one consultation and
unloads it again: the same call sequence then gives the same samples, byte for byte, in any
process. Sessions are serialised by a lock (the library is not thread-safe); loading costs ~1 ms.
"""

from __future__ import annotations

import _ctypes
import atexit
import ctypes
import os
import shutil
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError

SAMPLE_RATE = 22050
_AUDIO_OUTPUT_SYNCHRONOUS = 2
_INIT_DONT_EXIT = 0x8000
_POS_CHARACTER = 1
_CHARS_UTF8 = 1
_RATE, _PITCH, _RANGE = 1, 3, 4
_CALLBACK = ctypes.CFUNCTYPE(ctypes.c_int, ctypes.POINTER(ctypes.c_short), ctypes.c_int, ctypes.c_void_p)

_LOCK = threading.Lock()
_PRIVATE: dict[int, str] = {}  # pid → path of this process's private copy of the library


@dataclass(frozen=True)
class VoiceSpec:
    """An espeak voice with its speaking rate (words per minute), pitch and pitch range (0-100)."""

    voice: str
    rate: int = 170
    pitch: int = 50
    range: int = 50

    def label(self) -> str:
        return f"{self.voice}@rate={self.rate},pitch={self.pitch}"


def _paths() -> tuple[str, str]:
    try:
        import espeakng_loader
    except ImportError:
        raise InputError("tts", "engine", "espeak-ng is not installed",
                         "pip install espeakng-loader (an evalkit dependency)") from None
    data = Path(espeakng_loader.get_data_path())
    return espeakng_loader.get_library_path(), str(data.parent)


def _private_library() -> str:
    pid = os.getpid()
    if pid not in _PRIVATE or not os.path.exists(_PRIVATE[pid]):  # (a tmp cleaner may remove it)
        src, _ = _paths()
        d = tempfile.mkdtemp(prefix="evalkit-espeak-")
        dst = os.path.join(d, "libespeak-ng-evalkit.so")
        shutil.copyfile(src, dst)
        _PRIVATE[pid] = dst
        atexit.register(shutil.rmtree, d, True)
    return _PRIVATE[pid]


def version() -> str:
    """The libespeak-ng version string, e.g. ``"1.52.0"``."""
    with EspeakSession(seed=0) as s:
        s.lib.espeak_Info.restype = ctypes.c_char_p
        return (s.lib.espeak_Info(None) or b"").decode()


class EspeakSession:
    """A fresh, seeded espeak-ng instance for one consultation (use as a context manager).

    Args:
        seed: seeds espeak's noise generator (breathy voices use it).
    """

    def __init__(self, seed: int = 0):
        self.seed = seed
        self.lib: ctypes.CDLL | None = None
        self._chunks: list[np.ndarray] = []
        self._cb = _CALLBACK(self._collect)

    def _collect(self, wav, n, _events) -> int:
        if wav and n > 0:
            self._chunks.append(np.ctypeslib.as_array(wav, shape=(n,)).copy())
        return 0

    def __enter__(self) -> "EspeakSession":
        _LOCK.acquire()
        try:
            lib_path = _private_library()
            _, data = _paths()
            lib = ctypes.CDLL(lib_path, mode=ctypes.RTLD_LOCAL)
            lib.espeak_Initialize.restype = ctypes.c_int
            sr = lib.espeak_Initialize(_AUDIO_OUTPUT_SYNCHRONOUS, 0, data.encode(), _INIT_DONT_EXIT)
            if sr != SAMPLE_RATE:
                raise RuntimeError(f"espeak-ng failed to initialise (returned {sr})")
            lib.espeak_SetSynthCallback(self._cb)
            lib.espeak_Synth.argtypes = [ctypes.c_char_p, ctypes.c_size_t, ctypes.c_uint, ctypes.c_int,
                                         ctypes.c_uint, ctypes.c_uint, ctypes.c_void_p, ctypes.c_void_p]
            lib.espeak_ng_SetRandSeed(ctypes.c_long(self.seed))
            self.lib = lib
        except BaseException:
            _LOCK.release()
            raise
        return self

    def __exit__(self, *exc) -> None:
        try:
            if self.lib is not None:
                self.lib.espeak_Terminate()
                _ctypes.dlclose(self.lib._handle)  # POSIX; the next session loads a fresh copy
        finally:
            self.lib = None
            _LOCK.release()

    def speak(self, text: str, voice: VoiceSpec) -> np.ndarray:
        """Synthesise ``text`` (already in spoken form) → int16 samples at 22,050 Hz."""
        assert self.lib is not None, "use EspeakSession as a context manager"
        lib = self.lib
        if lib.espeak_SetVoiceByName(voice.voice.encode()) != 0:
            raise InputError("tts", "voice", f"espeak-ng has no voice {voice.voice!r}",
                             "use a voice such as 'en-gb-x-rp', 'en-us', 'en+f3' or 'en-us+m3'")
        lib.espeak_SetParameter(_RATE, int(voice.rate), 0)
        lib.espeak_SetParameter(_PITCH, int(voice.pitch), 0)
        lib.espeak_SetParameter(_RANGE, int(voice.range), 0)
        self._chunks = []
        b = text.encode("utf-8")
        rc = lib.espeak_Synth(b, len(b) + 1, 0, _POS_CHARACTER, 0, _CHARS_UTF8, None, None)
        if rc != 0:
            raise RuntimeError(f"espeak_Synth failed with status {rc}")
        lib.espeak_Synchronize()
        return np.concatenate(self._chunks) if self._chunks else np.zeros(0, np.int16)
