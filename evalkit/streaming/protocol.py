"""The streaming scribe protocol: audio in chunks, partial and final transcript events out, on a clock.

A *streaming scribe* is opened once per consultation and fed the audio a chunk at a time, as a
microphone would deliver it. After each chunk it may emit :class:`TranscriptEvent` s:

- ``partial``: the scribe's current guess at words not yet settled; a later partial or final
  replaces it on screen;
- ``final``: words the scribe will not change again.

:func:`run_stream` drives a session on a clock and stamps every event with the stream time at
which it was available:

- ``pace="simulated"`` (the default, faster than real time): no waiting. The chunk ending at
  audio time *b* arrives at stream time *b*; the scribe starts on it when it is free
  (``max(b, busy_until)``) and its events are stamped when its work is done (start + the
  measured compute time). A scribe slower than real time falls behind and its latencies grow,
  exactly as it would live.
- ``pace="realtime"``: chunks are sent on the wall clock, one chunk duration apart, and events
  are stamped when received (for remote services, whose compute is not ours to measure).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from typing import Any, Callable, Literal, Protocol, runtime_checkable

import numpy as np

from ..errors import InputError
from ..schema import Turn

__all__ = ["TranscriptEvent", "StreamSession", "StreamingScribe", "StreamResult", "SimulatedClock", "RealClock",
           "run_stream", "PACES"]

EventKind = Literal["partial", "final"]
PACES = ("simulated", "realtime")


@dataclass
class TranscriptEvent:
    """One transcript update from a streaming scribe.

    Args:
        kind: ``partial`` (may still change) or ``final`` (settled).
        text: the words of this update (a partial holds every unsettled word, a final the
            words it settles).
        t: stream time (s from the start of the audio) at which the event was available; set by
            :func:`run_stream` (or by an adapter that stamps on receipt).
        start: audio time (s) of the first word, when the scribe says.
        end: audio time (s) of the last word, when the scribe says; for a final, the audio up to
            here is settled.
        segment_id: the segment the update belongs to (partials of one segment replace each other).
        speaker: the speaker label, when the scribe gives one.
    """

    kind: EventKind
    text: str
    t: float | None = None
    start: float | None = None
    end: float | None = None
    segment_id: str = "0"
    speaker: str | None = None

    def to_dict(self) -> dict[str, Any]:
        return {"kind": self.kind, "text": self.text, "t": self.t, "start": self.start, "end": self.end,
                "segment_id": self.segment_id, "speaker": self.speaker}

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> "TranscriptEvent":
        return cls(kind=d["kind"], text=str(d.get("text") or ""), t=d.get("t"), start=d.get("start"),
                   end=d.get("end"), segment_id=str(d.get("segment_id", "0")), speaker=d.get("speaker"))


@runtime_checkable
class StreamSession(Protocol):
    """One consultation being streamed."""

    def feed(self, chunk: np.ndarray, audio_end: float) -> list[TranscriptEvent]:
        """Take the next chunk (16 kHz mono float32) ending at ``audio_end`` seconds; return new events."""
        ...

    def finish(self) -> list[TranscriptEvent]:
        """The audio has ended: settle everything and return the last events (all finals)."""
        ...


@runtime_checkable
class StreamingScribe(Protocol):
    """Opens a :class:`StreamSession` per consultation.

    ``remote`` is true for services whose compute happens elsewhere (their real-time factor is
    not measured here). ``open`` receives the clock so an adapter can stamp events on receipt.
    """

    name: str
    version: str
    remote: bool

    def open(self, item: Any, clock: "SimulatedClock | RealClock") -> StreamSession:
        ...


class SimulatedClock:
    """Stream time without waiting: advanced by the audio's arrival and the measured compute."""

    simulated = True

    def __init__(self) -> None:
        self._now = 0.0
        self._lock = threading.Lock()

    def now(self) -> float:
        with self._lock:
            return self._now

    def arrive(self, audio_end: float) -> None:
        """The chunk ending at ``audio_end`` has arrived: the scribe starts on it no earlier than that."""
        with self._lock:
            self._now = max(self._now, audio_end)

    def spend(self, seconds: float) -> None:
        """The scribe worked this long."""
        with self._lock:
            self._now += max(0.0, seconds)


class RealClock:
    """Wall time since the stream started; chunks are sent when their audio would have been spoken."""

    simulated = False

    def __init__(self, sleep: Callable[[float], None] = time.sleep) -> None:
        self._t0 = time.perf_counter()
        self._sleep = sleep

    def now(self) -> float:
        return time.perf_counter() - self._t0

    def arrive(self, audio_end: float) -> None:
        wait = audio_end - self.now()
        if wait > 0:
            self._sleep(wait)

    def spend(self, seconds: float) -> None:  # the wall clock has moved by itself
        return None


@dataclass
class StreamResult:
    """What one streamed consultation produced.

    Args:
        events: every event, stamped, in the order emitted.
        audio_s: seconds of audio streamed.
        compute_s: time spent inside the scribe's ``feed``/``finish`` (its real-time factor's
            numerator; ``None`` for a remote scribe).
        end_t: stream time at which the last event was available.
        chunk_s: the chunk length used.
        pace: ``simulated`` or ``realtime``.
        turns: the final transcript as turns (set by the transcriber that turns finals into turns).
    """

    events: list[TranscriptEvent]
    audio_s: float
    compute_s: float | None
    end_t: float
    chunk_s: float
    pace: str
    turns: list[Turn] = field(default_factory=list)
    scribe: str = ""

    @property
    def rtf(self) -> float | None:
        return None if self.compute_s is None or self.audio_s <= 0 else self.compute_s / self.audio_s

    def final_text(self) -> str:
        return " ".join(e.text.strip() for e in self.events if e.kind == "final" and e.text.strip())

    def to_metadata(self) -> dict[str, Any]:
        """Plain data kept in ``ScribeOutput.metadata["stream"]`` (the scores are computed from it)."""
        return {"events": [e.to_dict() for e in self.events], "audio_s": self.audio_s, "compute_s": self.compute_s,
                "end_t": self.end_t, "chunk_s": self.chunk_s, "pace": self.pace, "scribe": self.scribe}

    @classmethod
    def from_metadata(cls, d: dict[str, Any]) -> "StreamResult":
        return cls(events=[TranscriptEvent.from_dict(e) for e in d.get("events") or []],
                   audio_s=float(d.get("audio_s") or 0.0), compute_s=d.get("compute_s"),
                   end_t=float(d.get("end_t") or 0.0), chunk_s=float(d.get("chunk_s") or 0.0),
                   pace=str(d.get("pace") or "simulated"), scribe=str(d.get("scribe") or ""))


def _checked(events: Any, scribe: str) -> list[TranscriptEvent]:
    if events is None:
        return []
    out = list(events)
    for e in out:
        if not isinstance(e, TranscriptEvent) or e.kind not in ("partial", "final"):
            raise InputError(scribe, "events", f"returned {type(e).__name__} {getattr(e, 'kind', '')!r}, not a "
                             "partial or final TranscriptEvent",
                             "return evalkit.streaming.TranscriptEvent(kind='partial'|'final', text=...)")
    return out


def run_stream(scribe: StreamingScribe, item: Any, audio: np.ndarray, sample_rate: int = 16000,
               chunk_s: float = 0.5, pace: str = "simulated", clock: Any = None) -> StreamResult:
    """Stream one consultation's audio through a streaming scribe and stamp its events.

    Args:
        scribe: the streaming scribe.
        item: the :class:`~evalkit.scribes.base.ScribeInput` (passed to ``scribe.open``).
        audio: mono float32 samples.
        sample_rate: their rate.
        chunk_s: chunk length in seconds (0.02–10).
        pace: ``simulated`` (faster than real time, see the module doc) or ``realtime``.
        clock: a clock to use instead of the pace's own (tests).
    """
    if pace not in PACES:
        raise InputError("stream", "pace", f"unknown pace {pace!r}", f"use one of: {', '.join(PACES)}")
    if not 0.02 <= chunk_s <= 10:
        raise InputError("stream", "chunk_s", f"{chunk_s} s is out of range", "use a chunk of 0.02 to 10 seconds")
    clock = clock or (SimulatedClock() if pace == "simulated" else RealClock())
    remote = bool(getattr(scribe, "remote", False))
    name = str(getattr(scribe, "name", "stream"))
    session = scribe.open(item, clock)
    n = int(audio.shape[0])
    step = max(1, int(round(chunk_s * sample_rate)))
    events: list[TranscriptEvent] = []
    compute = 0.0

    def call(fn: Callable[[], Any]) -> None:
        nonlocal compute
        t0 = time.perf_counter()
        new = _checked(fn(), name)
        spent = time.perf_counter() - t0
        compute += spent
        clock.spend(spent)
        now = clock.now()
        for e in new:
            if e.t is None:  # not stamped on receipt by the adapter: available once the work is done
                e.t = now
            events.append(e)

    for start in range(0, n, step):
        end = min(n, start + step)
        audio_end = end / sample_rate
        clock.arrive(audio_end)
        chunk = audio[start:end]
        call(lambda: session.feed(chunk, audio_end))
    call(session.finish)
    end_t = max([clock.now()] + [e.t or 0.0 for e in events])
    return StreamResult(events=events, audio_s=n / sample_rate, compute_s=None if remote else compute, end_t=end_t,
                        chunk_s=chunk_s, pace=pace, scribe=name)
