"""``sphinx``: a tiny fallback ASR — PocketSphinx 5 with its bundled US English model.

Much less accurate than ``whisper`` (it rarely gets drug names), but small and fast to install.
Audio is cut into speech regions with PocketSphinx's own VAD segmenter, each region decoded, and
the words given roles the same way as ``whisper`` (turn times, else pauses).
"""

from __future__ import annotations

import io
import re
import threading
from typing import Any

import numpy as np

from ..schema import Turn
from ._audio import SAMPLE_RATE, Word, audio_path, load_wav, words_to_turns
from .base import ScribeInput, register

_FILLERS = re.compile(r"^(<s>|</s>|<sil>|\[.*\]|\+\+.*\+\+)$")
_DECODERS: dict[tuple, Any] = {}
_LOCK = threading.Lock()


def _decoder(key: tuple) -> Any:
    from pocketsphinx import Decoder

    dec = _DECODERS.get(key)
    if dec is None:
        dec = Decoder(samprate=SAMPLE_RATE, loglevel="FATAL", **dict(key))
        _DECODERS[key] = dec
    return dec


class SphinxTranscriber:
    """Audio → transcript turns with PocketSphinx (bundled en-us acoustic model, LM and dictionary)."""

    name = "sphinx"

    def __init__(self, vad_mode: int = 0, pause_s: float = 0.8, **decoder_options: Any):
        """Args:
            vad_mode: aggressiveness of the VAD segmenter (0 = loose … 3 = very aggressive).
            pause_s: without turn times, a silence this long starts a new speaker turn.
            decoder_options: extra PocketSphinx config (e.g. ``lm``, ``dict``, ``hmm`` paths).
        """
        import pocketsphinx

        self.vad_mode = int(vad_mode)
        self.pause_s = float(pause_s)
        self.decoder_options = {k: str(v) for k, v in decoder_options.items()}
        ver = getattr(pocketsphinx, "__version__", None)
        if ver is None:
            from importlib.metadata import version

            ver = version("pocketsphinx")
        self.version = f"pocketsphinx-{ver}/en-us"

    def recognise(self, audio: np.ndarray) -> list[Word]:
        """Recognise the words of 16 kHz mono float audio (times in seconds).

        Args:
            audio: samples in [-1, 1] at 16 kHz.
        """
        from pocketsphinx import Segmenter

        pcm = (np.clip(audio, -1.0, 1.0) * 32767).astype("<i2").tobytes()
        seg = Segmenter(sample_rate=SAMPLE_RATE, vad_mode=self.vad_mode)
        key = tuple(sorted(self.decoder_options.items()))
        words: list[Word] = []
        with _LOCK:  # a Decoder is not thread-safe: one utterance at a time per process
            dec = _decoder(key)
            frate = float(dec.config["frate"] or 100)
            for region in seg.segment(io.BytesIO(pcm)):
                dec.start_utt()
                dec.process_raw(region.pcm, full_utt=True)
                dec.end_utt()
                for s in dec.seg():
                    w = re.sub(r"\(\d+\)$", "", s.word)
                    if not w or _FILLERS.match(w):
                        continue
                    words.append(Word(text=w, start=region.start_time + s.start_frame / frate,
                                      end=region.start_time + (s.end_frame + 1) / frate))
        return words

    def transcribe(self, item: ScribeInput) -> list[Turn]:
        """Transcribe the consultation's audio into turns with roles and times.

        Args:
            item: scribe input with ``audio_path`` (and ``audio.turn_times`` for roles).
        """
        audio = load_wav(audio_path(item))
        return words_to_turns(self.recognise(audio), item, pause_s=self.pause_s)


@register("sphinx")
def make_sphinx(**options: Any) -> SphinxTranscriber:
    """Factory for the ``sphinx`` transcriber; options are SphinxTranscriber's arguments."""
    return SphinxTranscriber(**options)
