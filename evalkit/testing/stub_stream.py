"""A local WebSocket streaming service that plays a script: for tests and for trying the adapter.

The stub cannot recognise speech; it is given the events to send, each at an *audio* time, and
sends an event as soon as it has received that much audio (16 kHz 16-bit PCM). So what the
adapter sees is fixed by the audio it sends, not by the machine's speed::

    with StubStreamServer(script=[(1.0, {"type": "partial", "text": "hello"}),
                                  (2.0, {"type": "final", "text": "hello there", "start": 0.2, "end": 1.9})]) as srv:
        scribe = WebSocketStreamer(srv.url)

Messages with ``"at": "end"`` (or an audio time past the end) are sent after the end message,
before the server closes. ``srv.received_bytes`` and ``srv.start_messages`` record what came in.
"""

from __future__ import annotations

import json
import threading
from typing import Any

__all__ = ["StubStreamServer"]

BYTES_PER_SECOND = 16000 * 2


class StubStreamServer:
    """Serve one script on ``ws://127.0.0.1:<port>``, one connection at a time.

    Args:
        script: ``(audio_time_s, message)`` pairs, in order; a message is a dict sent as JSON, or a
            str sent as it is (to test malformed messages).
        close_without_end: close the connection right after the first audio frame (to test errors).
    """

    def __init__(self, script: list[tuple[float, Any]], close_without_end: bool = False):
        self.script = list(script)
        self.close_without_end = close_without_end
        self.received_bytes = 0
        self.start_messages: list[Any] = []
        self.connections = 0
        self._server: Any = None
        self._thread: threading.Thread | None = None

    def _handle(self, ws: Any) -> None:
        self.connections += 1
        got = 0
        pending = list(self.script)

        def send(msg: Any) -> None:
            ws.send(msg if isinstance(msg, str) else json.dumps(msg))

        for frame in ws:
            if isinstance(frame, str):
                msg = json.loads(frame)
                if msg.get("type") == "end":
                    break
                self.start_messages.append(msg)
                continue
            got += len(frame)
            self.received_bytes += len(frame)
            if self.close_without_end:
                ws.close()
                return
            heard = got / BYTES_PER_SECOND
            while pending and pending[0][0] != "end" and float(pending[0][0]) <= heard:
                send(pending.pop(0)[1])
        for _, msg in pending:
            send(msg)
        ws.close()

    def __enter__(self) -> "StubStreamServer":
        from websockets.sync.server import serve

        self._server = serve(self._handle, "127.0.0.1", 0)
        self._thread = threading.Thread(target=self._server.serve_forever, daemon=True, name="stub-stream")
        self._thread.start()
        return self

    @property
    def url(self) -> str:
        port = self._server.socket.getsockname()[1]
        return f"ws://127.0.0.1:{port}/stream"

    def __exit__(self, *exc: Any) -> None:
        self._server.shutdown()
        if self._thread is not None:
            self._thread.join(5)
