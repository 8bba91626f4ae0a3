"""Shared helpers for the ASR transcribers: read a WAV safely, and give recognised words speaker roles.

Two ways to assign roles to recognised words:

- with the TTS turn times (``Audio.turn_times``): each word goes to the turn whose time span
  holds its midpoint (or the nearest turn when it falls in a gap), and takes that turn's role
  from the consultation;
- without them: words are split into turns at pauses and roles alternate, starting with the
  clinician.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ..errors import InputError
from ..schema import SpeakerRole, Turn
from .base import ScribeInput

SAMPLE_RATE = 16000


@dataclass(frozen=True)
class Word:
    """One recognised word with its times in seconds."""

    text: str
    start: float
    end: float

    @property
    def mid(self) -> float:
        return (self.start + self.end) / 2.0

    @property
    def spoken_end(self) -> float:
        """End time capped by the word's length: ASR stretches a turn's last word over the pause after it."""
        letters = sum(c.isalnum() for c in self.text)
        return min(self.end, self.start + 0.15 + 0.08 * letters)


def audio_path(item: ScribeInput) -> Path:
    """The WAV file of a scribe input, or an InputError saying none was given or it is missing.

    Args:
        item: the scribe input; ``audio_path`` wins over ``audio.path``.
    """
    p = item.audio_path or (Path(item.audio.path) if item.audio is not None else None)
    if p is None:
        raise InputError(f"consultation {item.consultation.id}", "audio",
                         "no audio was given to an ASR scribe",
                         "generate speech first (evalkit generate --audio) or use a text scribe such as 'reference'")
    p = Path(p)
    if not p.is_file():
        raise InputError(str(p), "audio_path", "WAV file not found",
                         "check the path, or regenerate the audio for this consultation")
    return p


def load_wav(path: Path, sample_rate: int = SAMPLE_RATE) -> np.ndarray:
    """Read an audio file as mono float32 at ``sample_rate``; decode failures become InputError.

    Args:
        path: the WAV (or any libsndfile format) file.
        sample_rate: rate to resample to (16 kHz for both ASR engines).
    """
    import soundfile as sf

    from ..security.audio_check import checked_info

    checked_info(path)  # rate, channels and duration sane before a sample is decoded
    try:
        data, sr = sf.read(str(path), dtype="float32", always_2d=True)
    except Exception as e:  # soundfile.LibsndfileError, RuntimeError, TypeError on odd headers
        kind = type(e).__name__
        raise InputError(str(path), "audio", f"cannot be decoded as audio ({kind})",
                         "re-export it as a 16 kHz mono PCM WAV, or regenerate the audio") from None
    if data.shape[0] == 0:
        raise InputError(str(path), "audio", "has no samples", "regenerate the audio for this consultation")
    mono = data.mean(axis=1).astype(np.float32)
    if sr != sample_rate:
        from math import gcd

        from scipy.signal import resample_poly

        g = gcd(int(sr), int(sample_rate))
        mono = resample_poly(mono, sample_rate // g, int(sr) // g).astype(np.float32)
    if not np.isfinite(mono).all():
        raise InputError(str(path), "audio", "holds NaN or infinite samples", "regenerate the audio")
    return mono


def _clean_join(words: list[Word]) -> str:
    text = " ".join(w.text.strip() for w in words if w.text.strip())
    return " ".join(text.split())


def words_to_turns(words: list[Word], item: ScribeInput, pause_s: float = 0.8) -> list[Turn]:
    """Group recognised words into speaker turns with roles and times.

    Args:
        words: recognised words in time order.
        item: the scribe input; its ``audio.turn_times`` and consultation turns give roles.
        pause_s: without turn times, a silence at least this long starts a new turn.
    """
    words = [w for w in words if w.text.strip()]
    if not words:
        return []
    times = list(item.audio.turn_times) if item.audio is not None else []
    groups: list[tuple[SpeakerRole, list[Word]]] = []
    if times:
        roles = {t.id: t.speaker for t in item.consultation.turns}
        spans = sorted(times, key=lambda t: t.start)
        starts = np.array([t.start for t in spans])
        ends = np.array([t.end for t in spans])
        current: int | None = None
        for w in words:
            m = w.mid
            inside = np.nonzero((starts <= m) & (m <= ends))[0]
            if len(inside):
                k = int(inside[0])
            else:  # in a gap: nearest span edge
                k = int(np.argmin(np.minimum(np.abs(starts - m), np.abs(ends - m))))
            tid = spans[k].turn_id
            if current != tid or not groups:
                groups.append((roles.get(tid, SpeakerRole.OTHER), []))
                current = tid
            groups[-1][1].append(w)
    else:
        role = SpeakerRole.CLINICIAN
        prev_end: float | None = None
        for w in words:
            if prev_end is None:
                groups.append((role, []))
            elif w.start - prev_end >= pause_s:
                role = SpeakerRole.PATIENT if role == SpeakerRole.CLINICIAN else SpeakerRole.CLINICIAN
                groups.append((role, []))
            groups[-1][1].append(w)
            prev_end = w.spoken_end
    turns: list[Turn] = []
    for role, ws in groups:
        text = _clean_join(ws)
        if text:
            turns.append(Turn(id=len(turns), speaker=role, text=text,
                              start=round(ws[0].start, 3), end=round(ws[-1].end, 3)))
    return turns
