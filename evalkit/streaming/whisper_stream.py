"""``whisper-stream``: the built-in offline streaming scribe — faster-whisper on a sliding window.

The reference streaming scribe, to read other scribes' streaming figures against. It holds the
audio received so far; every ``step_s`` seconds of new audio it re-recognises the unsettled
part (at most the last ``window_s`` seconds) with the bundled Whisper tiny.en, and:

- words on which two successive hypotheses agree (the longest common prefix, compared on
  normalised words — the *LocalAgreement-2* policy of Macháček et al., "Turning Whisper into
  Real-Time Transcription System", 2023) become **final**;
- words that would slide out of the next window are made final as they stand;
- the rest is shown as a **partial**.

At the end of the audio the unsettled rest is recognised once more and made final. A shorter
window costs less per step (partials come sooner) but gives Whisper less context, so partials
change more; a longer step waits longer for each update (``bench/bench_streaming.py``).
"""

from __future__ import annotations

import math
import threading
from typing import Any

import numpy as np

from ..errors import InputError
from ..text.normalize import normalize_words
from ..scribes._audio import SAMPLE_RATE, Word
from .protocol import TranscriptEvent

__all__ = ["WhisperStreamer", "WhisperStreamSession"]


_FRAMES = threading.local()  # encoder frames for this thread's passes (unset: faster-whisper's 30 s)
_PATCH_LOCK = threading.Lock()


def _short_context() -> None:
    """Let faster-whisper encode fewer than 3,000 mel frames (30 s) when this thread asks for it.

    faster-whisper pads every pass to 30 s; CTranslate2's encoder takes shorter input, and on a
    10 s window that is ~6× less encoder work (whisper.cpp's ``audio_ctx``). The pad function is
    wrapped once per process; threads that set no frame count (every batch transcription) get
    faster-whisper's own behaviour.
    """
    import faster_whisper.transcribe as fwt

    with _PATCH_LOCK:
        if getattr(fwt.pad_or_trim, "_evalkit", False):
            return
        original = fwt.pad_or_trim

        def pad_or_trim(array: Any, length: int = 3000, *, axis: int = -1) -> Any:
            frames = getattr(_FRAMES, "n", None)
            return original(array, frames if frames and length == 3000 else length, axis=axis)

        pad_or_trim._evalkit = True  # type: ignore[attr-defined]
        fwt.pad_or_trim = pad_or_trim


def _key(w: Word) -> tuple[str, ...]:
    return tuple(normalize_words(w.text))


def _agree(a: list[Word], b: list[Word]) -> int:
    """Number of leading words of ``b`` that agree with ``a`` (normalised; punctuation and case ignored)."""
    n = 0
    for x, y in zip(a, b):
        if _key(x) != _key(y):
            break
        n += 1
    return n


def _text(words: list[Word]) -> str:
    return " ".join(" ".join(w.text.strip() for w in words if w.text.strip()).split())


class WhisperStreamSession:
    """One consultation streamed through :class:`WhisperStreamer`."""

    def __init__(self, streamer: "WhisperStreamer"):
        self.s = streamer
        self.buf = np.zeros(0, dtype=np.float32)
        self.settled_t = 0.0  # audio before this is final
        self.prev: list[Word] = []  # the last hypothesis of the unsettled words
        self.shown = ""  # the partial on screen
        self.last_step = 0.0
        self.seg = 0
        self.context: list[str] = []  # recent final words (the next recognition's prompt)
        self.final_words: list[Word] = []

    # ----------------------------------------------------------------------------- protocol

    def feed(self, chunk: np.ndarray, audio_end: float) -> list[TranscriptEvent]:
        self.buf = np.concatenate([self.buf, np.asarray(chunk, dtype=np.float32)])
        if audio_end - self.last_step < self.s.step_s - 1e-9:
            return []
        new = self.buf[int(self.last_step * SAMPLE_RATE):]
        self.last_step = audio_end
        if not self.prev and (new.size == 0 or float(np.sqrt(np.mean(new * new))) < self.s.silence_rms):
            return []  # silence and nothing unsettled: no pass needed
        return self._step(audio_end)

    def finish(self) -> list[TranscriptEvent]:
        end = self.buf.shape[0] / SAMPLE_RATE
        words = self._recognise(self.settled_t, end) if end - self.settled_t > 0.05 else []
        return self._settle(words, end)

    # ----------------------------------------------------------------------------- steps

    def _recognise(self, start: float, end: float) -> list[Word]:
        """Unsettled words recognised in ``[start, end]``, read with ``context_s`` of audio before (so the
        first word is not cut in two), words settled already dropped."""
        if end - start < 0.2:
            return []
        lead = max(0.0, start - self.s.context_s)
        audio = self.buf[int(lead * SAMPLE_RATE):int(end * SAMPLE_RATE)]
        prompt = (" ".join(self.context[-self.s.prompt_words:]) or None) if self.s.prompt_words else None
        words = self.s.recognise(audio, prompt)
        return [Word(w.text, w.start + lead, w.end + lead) for w in words
                if w.mid + lead >= max(start, self.settled_t) - 0.05]

    def _step(self, now: float) -> list[TranscriptEvent]:
        start = max(self.settled_t, now - self.s.window_s)
        words = self._recognise(start, now)
        k = _agree(self.prev, words)
        horizon = now + self.s.step_s - self.s.window_s  # the next window starts here: settle what lies before
        while k < len(words) and words[k].end <= horizon:
            k += 1
        events = self._settle(words[:k], None) if k else []
        rest = words[k:]
        self.prev = rest
        text = _text(rest)
        if text != self.shown:
            self.shown = text
            if text:
                events.append(TranscriptEvent("partial", text, start=rest[0].start, end=rest[-1].end,
                                              segment_id=str(self.seg)))
        return events

    def _settle(self, words: list[Word], end: float | None) -> list[TranscriptEvent]:
        """Make ``words`` final (one event); ``end`` set: the audio ended, everything up to it is final."""
        words = [w for w in words if w.text.strip()]
        out: list[TranscriptEvent] = []
        if words:
            reach = words[-1].end if end is None else max(end, words[-1].end)
            out.append(TranscriptEvent("final", _text(words), start=words[0].start, end=reach,
                                       segment_id=str(self.seg)))
            self.final_words.extend(words)
            self.context.extend(w.text.strip() for w in words)
            self.settled_t = max(self.settled_t, words[-1].end)
            self.seg += 1
            self.shown = ""
        elif end is not None and self.shown:  # the last partial had words the final pass did not keep
            out.append(TranscriptEvent("final", "", start=None, end=end, segment_id=str(self.seg)))
        if end is not None:
            self.settled_t = end
            self.prev = []
        return out


class WhisperStreamer:
    """Streaming scribe on faster-whisper: a sliding window over the audio so far.

    Args:
        window_s: longest stretch of unsettled audio re-recognised at each step (2–30 s).
        step_s: re-recognise after this much new audio (0.2–10 s).
        beam_size: Whisper beam width (1 = greedy, the fastest).
        vad_filter: skip silence with faster-whisper's Silero VAD before each pass.
        prompt_words: recent final words given to Whisper as context (0 = none).
        context_s: audio before the unsettled part read again with it (its words are dropped).
        silence_rms: with nothing unsettled, new audio quieter than this (RMS) is not recognised.
        short_context: encode only the window's length of audio rather than Whisper's padded 30 s
            (much less compute; Whisper was trained on 30 s, so set it off to compare).
        model_dir: a CTranslate2 Whisper directory; default the bundled tiny.en.
        compute_type: CTranslate2 compute type.
        cpu_threads: CPU threads for the model (one per stream: a live scribe serves a stream per core).
    """

    name = "whisper-stream"
    remote = False

    def __init__(self, window_s: float = 8.0, step_s: float = 1.0, beam_size: int = 1, vad_filter: bool = False,
                 prompt_words: int = 24, context_s: float = 1.0, silence_rms: float = 0.002,
                 short_context: bool = True, model_dir: str | None = None,
                 compute_type: str = "int8", cpu_threads: int = 1):
        if not 2.0 <= float(window_s) <= 30.0:
            raise InputError("whisper-stream", "window_s", f"{window_s} s is out of range",
                             "use a window of 2 to 30 seconds (Whisper reads at most 30 s at a time)")
        if not 0.2 <= float(step_s) <= min(10.0, float(window_s)):
            raise InputError("whisper-stream", "step_s", f"{step_s} s is out of range",
                             "use a step of 0.2 s up to the window length")
        self.window_s, self.step_s = float(window_s), float(step_s)
        self.beam_size, self.vad_filter = int(beam_size), bool(vad_filter)
        self.prompt_words, self.context_s = int(prompt_words), max(0.0, float(context_s))
        self.silence_rms = max(0.0, float(silence_rms))
        self.short_context = bool(short_context)
        self.model_dir, self.compute_type, self.cpu_threads = model_dir, compute_type, int(cpu_threads)
        import faster_whisper

        self.version = (f"faster-whisper-{faster_whisper.__version__}/tiny.en/w{self.window_s:g}/s{self.step_s:g}"
                        f"/b{self.beam_size}" + ("/vad" if self.vad_filter else "")
                        + ("" if self.short_context else "/ctx30"))

    def settings(self) -> dict[str, Any]:
        return {"window_s": self.window_s, "step_s": self.step_s, "beam_size": self.beam_size,
                "vad_filter": self.vad_filter}

    def recognise(self, audio: np.ndarray, prompt: str | None) -> list[Word]:
        """Words of one stretch of audio, times from its start."""
        from ..scribes.whisper import load_model

        model = load_model(self.model_dir, self.compute_type, self.cpu_threads)
        frames = None
        if self.short_context:
            _short_context()
            # a fixed size per streamer (CTranslate2 reuses its buffers), a whole second above the longest pass
            frames = min(3000, 100 * math.ceil(self.window_s + self.context_s + self.step_s + 1))
        _FRAMES.n = frames
        try:
            # at most ~8 tokens a second of audio, and only a repetitive pass decoded again warmer (a
            # short context makes Whisper loop now and then: "no no no ..."). No pass is dropped as
            # "no speech" or decoded again for a low log-probability: on synthetic voices both fire on
            # real speech, costing passes and words (silence is skipped before, by its RMS)
            segments, _ = model.transcribe(audio, beam_size=self.beam_size, vad_filter=self.vad_filter,
                                           word_timestamps=True, condition_on_previous_text=False,
                                           initial_prompt=prompt, temperature=(0.0, 0.4, 0.8),
                                           compression_ratio_threshold=2.0, log_prob_threshold=None,
                                           no_speech_threshold=None,
                                           max_new_tokens=int(8 * audio.shape[0] / SAMPLE_RATE) + 8)
            return [Word(w.word.strip(), float(w.start), float(w.end)) for seg in segments for w in seg.words or []
                    if w.word.strip()]
        finally:
            _FRAMES.n = None

    def open(self, item: Any, clock: Any) -> WhisperStreamSession:
        return WhisperStreamSession(self)
