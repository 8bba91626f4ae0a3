"""Audio files checked from their header before a sample is decoded.

A WAV header is a promise about the samples: a 400 KB file whose header says 3 Hz holds 18 hours
of "audio", which resampled to 16 kHz is a billion samples. :func:`checked_info` reads the header
only and refuses a sample rate outside :data:`~evalkit.security.limits.MIN_SAMPLE_RATE`–
:data:`~evalkit.security.limits.MAX_SAMPLE_RATE`, more than :data:`~evalkit.security.limits.MAX_AUDIO_CHANNELS`
channels, or a duration over :data:`~evalkit.security.limits.MAX_AUDIO_SECONDS`, each with an
:class:`~evalkit.errors.InputError` naming the file, the field and the fix.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from ..errors import InputError
from .limits import MAX_AUDIO_CHANNELS, MAX_AUDIO_SECONDS, MAX_SAMPLE_RATE, MIN_SAMPLE_RATE

_REEXPORT = "re-export it as a 16 kHz mono PCM WAV, or regenerate the audio"


def checked_info(path: str | Path) -> Any:
    """The ``soundfile`` header info of an audio file whose rate, channels and duration are sane.

    Args:
        path: the audio file.

    Raises:
        InputError: unreadable header (field ``audio``), or a rate, channel count or duration out of
            bounds (fields ``sample rate``, ``channels``, ``duration``).
    """
    import soundfile as sf

    p = str(path)
    try:
        info = sf.info(p)
    except Exception as e:  # soundfile.LibsndfileError, RuntimeError, TypeError on odd headers
        raise InputError(p, "audio", f"cannot be decoded as audio ({type(e).__name__})", _REEXPORT) from None
    rate, channels, frames = int(info.samplerate), int(info.channels), int(info.frames)
    if not MIN_SAMPLE_RATE <= rate <= MAX_SAMPLE_RATE:
        raise InputError(p, "sample rate", f"header says {rate:,} Hz, outside the {MIN_SAMPLE_RATE:,}–"
                         f"{MAX_SAMPLE_RATE:,} Hz evalkit reads (a damaged or mislabelled file)", _REEXPORT)
    if not 1 <= channels <= MAX_AUDIO_CHANNELS:
        raise InputError(p, "channels", f"header says {channels} channels; evalkit reads 1 to {MAX_AUDIO_CHANNELS}",
                         _REEXPORT)
    seconds = frames / rate
    if seconds > MAX_AUDIO_SECONDS:
        raise InputError(p, "duration", f"header says {seconds / 3600:.1f} hours, more than the "
                         f"{MAX_AUDIO_SECONDS / 3600:g} hours evalkit reads in one recording",
                         "split the recording into consultations, or check the file is not damaged")
    return info


__all__ = ["checked_info"]
