"""A streaming scribe used as an evalkit transcriber: ``whisper-stream+rules`` in a suite.

:class:`StreamingTranscriber` streams a consultation's WAV through a
:class:`~evalkit.streaming.protocol.StreamingScribe` (:func:`~evalkit.streaming.protocol.run_stream`),
turns the final events into transcript turns, and hands the stamped event log to the pipeline,
which keeps it in ``ScribeOutput.metadata["stream"]``. The scoring step computes the streaming
figures from it (:mod:`evalkit.streaming.metrics`), so a streaming run is stored, compared,
gated and swept like any other run.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError
from ..schema import Turn
from ..scribes._audio import SAMPLE_RATE, Word, audio_path, load_wav, words_to_turns
from ..scribes.base import ScribeInput, register
from ..text.parse import speaker_role
from .protocol import PACES, StreamResult, StreamingScribe, run_stream

__all__ = ["StreamingTranscriber", "final_turns"]


def _final_words(result: StreamResult) -> list[Word]:
    """The final events' words, each given a time spread evenly over its event's audio span."""
    out: list[Word] = []
    for e in result.events:
        if e.kind != "final":
            continue
        ws = e.text.split()
        if not ws:
            continue
        start = e.start if e.start is not None else (e.t or 0.0)
        end = e.end if e.end is not None and e.end >= start else start
        step = (end - start) / len(ws)
        out.extend(Word(w, start + i * step, start + (i + 1) * step) for i, w in enumerate(ws))
    return out


def final_turns(result: StreamResult, item: ScribeInput, pause_s: float = 0.8) -> list[Turn]:
    """The final transcript as turns.

    With speaker labels on the final events (a diarising service), consecutive finals of one
    label make a turn; without, words get roles the way the batch ASR scribes give them (turn
    times of the audio, or pauses: :func:`evalkit.scribes._audio.words_to_turns`).
    """
    finals = [e for e in result.events if e.kind == "final" and e.text.strip()]
    if finals and all(e.speaker for e in finals):
        turns: list[Turn] = []
        for e in finals:
            role = speaker_role(str(e.speaker))
            if turns and turns[-1].speaker == role:
                last = turns[-1]
                turns[-1] = last.model_copy(update={"text": f"{last.text} {e.text.strip()}",
                                                    "end": e.end if e.end is not None else last.end})
            else:
                turns.append(Turn(id=len(turns), speaker=role, text=e.text.strip(), start=e.start, end=e.end))
        return turns
    return words_to_turns(_final_words(result), item, pause_s=pause_s)


class StreamingTranscriber:
    """A streaming scribe as a transcriber (``transcribe``) that also hands over its event log (``stream``).

    Args:
        scribe: the streaming scribe.
        chunk_s: audio chunk length fed at a time.
        pace: ``simulated`` (faster than real time, compute measured) or ``realtime``.
    """

    def __init__(self, scribe: StreamingScribe, chunk_s: float = 0.5, pace: str = "simulated"):
        if pace not in PACES:
            raise InputError(scribe.name, "pace", f"unknown pace {pace!r}", f"use one of: {', '.join(PACES)}")
        self.scribe, self.chunk_s, self.pace = scribe, float(chunk_s), pace
        self.name = scribe.name
        self.version = f"{scribe.version}/c{self.chunk_s:g}/{pace}"

    def settings(self) -> dict[str, Any]:
        extra = self.scribe.settings() if hasattr(self.scribe, "settings") else {}
        return {"chunk_s": self.chunk_s, "pace": self.pace, **extra}

    def stream(self, item: ScribeInput) -> StreamResult:
        """Stream the consultation's audio; the result carries the final turns."""
        audio = load_wav(audio_path(item))
        res = run_stream(self.scribe, item, audio, SAMPLE_RATE, chunk_s=self.chunk_s, pace=self.pace)
        res.turns = final_turns(res, item)
        return res

    def transcribe(self, item: ScribeInput) -> list[Turn]:
        return self.stream(item).turns


_STREAM_KEYS = ("chunk_s", "pace")


def _split(options: dict[str, Any]) -> tuple[dict[str, Any], dict[str, Any]]:
    return ({k: v for k, v in options.items() if k not in _STREAM_KEYS},
            {k: v for k, v in options.items() if k in _STREAM_KEYS})


@register("whisper-stream")
def make_whisper_stream(**options: Any) -> StreamingTranscriber:
    """``whisper-stream``: options ``window_s``, ``step_s``, ``beam_size``, ``vad_filter``, ``prompt_words``,
    ``model_dir``, ``cpu_threads`` (the streamer) and ``chunk_s``, ``pace`` (the stream)."""
    from .whisper_stream import WhisperStreamer

    own, stream = _split(options)
    return StreamingTranscriber(WhisperStreamer(**own), **stream)


@register("websocket-stream")
def make_websocket_stream(**options: Any) -> StreamingTranscriber:
    """``websocket-stream``: a streaming service behind a WebSocket (see :mod:`evalkit.streaming.websocket`);
    ``pace`` defaults to ``realtime``."""
    from .websocket import WebSocketStreamer

    own, stream = _split(options)
    stream.setdefault("pace", "realtime")
    return StreamingTranscriber(WebSocketStreamer(**own), **stream)
