"""``websocket-stream``: a streaming ASR or scribe service behind a WebSocket, as a streaming scribe.

Many streaming services share one shape: open a WebSocket, send a start message, send the audio
as binary frames of 16-bit PCM, send an end message, and read JSON transcript messages — some
partial, some final — until the server closes. This adapter speaks that shape; the message
fields are options, so one adapter covers services that name them differently:

```yaml
scribes: [websocket-stream+rules]
scribe_options:
  websocket-stream:
    url: ws://asr.internal:8080/stream
    headers: {Authorization: "Bearer ${TOKEN}"}      # optional
    start_message: {type: start, sample_rate: 16000, encoding: pcm_s16le}
    end_message: {type: end}
    fields: {kind: type, text: text, start: start, end: end, segment_id: segment_id, speaker: speaker}
    final_values: [final]        # values of the kind field that mean final (others listed in partial_values)
    partial_values: [partial]
    is_partial_field: null       # or a boolean field, e.g. IsPartial (AWS) / is_final_field: is_final
    time_scale: 1.0              # multiply times by this (0.001 for milliseconds)
    chunk_s: 0.1
    pace: realtime               # the service sees real-time audio
```

Events are stamped when they arrive (on the stream's clock). Messages of another kind (acks,
metadata) are ignored; a message that is not JSON, or a final without text, fails the session
with a one-line error naming the field.
"""

from __future__ import annotations

import json
import queue
import threading
from typing import Any

import numpy as np

from ..errors import InputError
from ..scribes._json_output import ScribeError
from .protocol import TranscriptEvent

__all__ = ["WebSocketStreamer", "map_message", "DEFAULT_FIELDS"]

DEFAULT_FIELDS = {"kind": "type", "text": "text", "start": "start", "end": "end", "segment_id": "segment_id",
                  "speaker": "speaker"}


def _num(v: Any, scale: float, field: str) -> float | None:
    if v is None:
        return None
    try:
        return float(v) * scale
    except (TypeError, ValueError):
        raise ScribeError(f"websocket-stream: message field {field!r} is {type(v).__name__}, not a number "
                          "— fix: map it with fields: or send seconds") from None


def map_message(msg: Any, fields: dict[str, str] | None = None, final_values: tuple[str, ...] = ("final",),
                partial_values: tuple[str, ...] = ("partial",), is_partial_field: str | None = None,
                is_final_field: str | None = None, time_scale: float = 1.0) -> TranscriptEvent | None:
    """One service message → a :class:`TranscriptEvent`, or ``None`` for a message of another kind.

    Args:
        msg: the decoded JSON message.
        fields: event attribute → message field (defaults :data:`DEFAULT_FIELDS`).
        final_values: values of the kind field that mean a final.
        partial_values: values of the kind field that mean a partial.
        is_partial_field: a boolean field saying "partial" (wins over the kind field).
        is_final_field: a boolean field saying "final" (wins over the kind field).
        time_scale: factor from the message's time unit to seconds.
    """
    if not isinstance(msg, dict):
        return None
    f = {**DEFAULT_FIELDS, **(fields or {})}
    kind: str | None = None
    if is_partial_field and is_partial_field in msg:
        kind = "partial" if msg[is_partial_field] else "final"
    elif is_final_field and is_final_field in msg:
        kind = "final" if msg[is_final_field] else "partial"
    else:
        v = msg.get(f["kind"])
        kind = "final" if v in final_values else "partial" if v in partial_values else None
    if kind is None:
        return None
    text = msg.get(f["text"])
    if not isinstance(text, str):
        if kind == "partial" and text is None:
            text = ""
        else:
            raise ScribeError(f"websocket-stream: a {kind} message has no text in field {f['text']!r} "
                              "— fix: set fields: {text: <the service's field>}")
    seg = msg.get(f["segment_id"])
    spk = msg.get(f["speaker"])
    return TranscriptEvent(kind, text, start=_num(msg.get(f["start"]), time_scale, f["start"]),
                           end=_num(msg.get(f["end"]), time_scale, f["end"]),
                           segment_id=str(seg) if seg is not None else "0",
                           speaker=str(spk) if spk not in (None, "") else None)


class WebSocketSession:
    """One consultation streamed to the service: a receiving thread stamps events as they arrive."""

    def __init__(self, streamer: "WebSocketStreamer", clock: Any):
        from websockets.sync.client import connect

        self.s, self.clock = streamer, clock
        try:
            self.ws = connect(streamer.url, additional_headers=streamer.headers or None,
                              open_timeout=streamer.open_timeout_s, max_size=2 ** 24)
        except Exception as e:  # OSError, InvalidURI, InvalidHandshake
            raise ScribeError(f"websocket-stream: cannot connect to {streamer.url} ({type(e).__name__}) "
                              "— fix: check the url and that the service is up") from None
        self.inbox: queue.Queue[TranscriptEvent] = queue.Queue()
        self.error: BaseException | None = None
        if streamer.start_message is not None:
            self.ws.send(json.dumps(streamer.start_message))
        self.reader = threading.Thread(target=self._read, name="evalkit-ws-stream", daemon=True)
        self.reader.start()

    def _read(self) -> None:
        from websockets.exceptions import ConnectionClosed

        try:
            for raw in self.ws:
                t = self.clock.now()
                if isinstance(raw, bytes):
                    continue
                try:
                    msg = json.loads(raw)
                except json.JSONDecodeError:
                    raise ScribeError("websocket-stream: the service sent a message that is not JSON "
                                      "— fix: point url at a service that sends JSON transcript messages") from None
                ev = self.s.map(msg)
                if ev is not None:
                    ev.t = t
                    self.inbox.put(ev)
        except ConnectionClosed:
            pass
        except BaseException as e:  # noqa: BLE001 - handed to the feeding thread
            self.error = e

    def _drain(self) -> list[TranscriptEvent]:
        if self.error is not None:
            self.ws.close()
            raise self.error
        out = []
        while True:
            try:
                out.append(self.inbox.get_nowait())
            except queue.Empty:
                return out

    def feed(self, chunk: np.ndarray, audio_end: float) -> list[TranscriptEvent]:
        pcm = (np.clip(np.asarray(chunk, dtype=np.float32), -1.0, 1.0) * 32767.0).astype("<i2").tobytes()
        try:
            self.ws.send(pcm)
        except Exception as e:  # ConnectionClosed
            if self.error is None:
                raise ScribeError(f"websocket-stream: the service closed the stream at {audio_end:.1f} s "
                                  f"({type(e).__name__}) — fix: see the service's log") from None
        return self._drain()

    def finish(self) -> list[TranscriptEvent]:
        try:
            if self.s.end_message is not None:
                self.ws.send(json.dumps(self.s.end_message))
        except Exception:  # noqa: BLE001 - already closed by the service: read what it sent
            pass
        self.reader.join(self.s.finish_timeout_s)
        if self.reader.is_alive():
            self.ws.close()
            self.reader.join(5)
            raise ScribeError(f"websocket-stream: no end of stream {self.s.finish_timeout_s:g} s after the audio "
                              "ended — fix: check end_message, or raise finish_timeout_s")
        self.ws.close()
        return self._drain()


class WebSocketStreamer:
    """A WebSocket streaming service as a :class:`~evalkit.streaming.protocol.StreamingScribe`.

    Args:
        url: ``ws://`` or ``wss://`` address.
        headers: extra HTTP headers for the handshake (authorisation).
        start_message: JSON sent first (``None``: nothing).
        end_message: JSON sent after the audio (``None``: nothing; the service must close by itself).
        fields, final_values, partial_values, is_partial_field, is_final_field, time_scale: see
            :func:`map_message`.
        open_timeout_s: connection timeout.
        finish_timeout_s: how long to wait for the service to close after the end message.
        version: a version string for the service (kept with the run).
    """

    name = "websocket-stream"
    remote = True

    def __init__(self, url: str, headers: dict[str, str] | None = None,
                 start_message: dict | None = None, end_message: dict | None = None,
                 fields: dict[str, str] | None = None, final_values: list[str] | tuple[str, ...] = ("final",),
                 partial_values: list[str] | tuple[str, ...] = ("partial",), is_partial_field: str | None = None,
                 is_final_field: str | None = None, time_scale: float = 1.0, open_timeout_s: float = 10.0,
                 finish_timeout_s: float = 30.0, version: str = "1"):
        if not isinstance(url, str) or not url.startswith(("ws://", "wss://")):
            raise InputError("websocket-stream", "url", f"{url!r} is not a WebSocket address",
                             "give url: ws://host:port/path (or wss://)")
        bad = set(fields or {}) - set(DEFAULT_FIELDS)
        if bad:
            raise InputError("websocket-stream", "fields", f"unknown event attribute(s) {sorted(bad)}",
                             f"map only: {', '.join(DEFAULT_FIELDS)}")
        self.url, self.headers = url, dict(headers or {})
        self.start_message = start_message if start_message is not None else {
            "type": "start", "sample_rate": 16000, "encoding": "pcm_s16le"}
        self.end_message = end_message if end_message is not None else {"type": "end"}
        self.fields = dict(fields or {})
        self.final_values, self.partial_values = tuple(final_values), tuple(partial_values)
        self.is_partial_field, self.is_final_field = is_partial_field, is_final_field
        self.time_scale = float(time_scale)
        self.open_timeout_s, self.finish_timeout_s = float(open_timeout_s), float(finish_timeout_s)
        self.version = f"ws/{version}"

    def map(self, msg: Any) -> TranscriptEvent | None:
        return map_message(msg, self.fields, self.final_values, self.partial_values, self.is_partial_field,
                           self.is_final_field, self.time_scale)

    def settings(self) -> dict[str, Any]:
        return {"url_scheme": self.url.split(":", 1)[0]}

    def open(self, item: Any, clock: Any) -> WebSocketSession:
        return WebSocketSession(self, clock)
