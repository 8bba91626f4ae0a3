"""The stub server's HTTP/1.1 handling: keep-alive connections, ``Content-Length`` bodies, one
request at a time per connection, replies rendered as OpenAI chat completions."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from .stub_replies import Responder, StubReply


def _http(status: int, body: bytes, extra: str = "") -> bytes:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
              500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Error")
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n{extra}\r\n")
    return head.encode() + body


class Core:
    """Server state shared by all connections: the script, counters, received requests."""

    def __init__(self, replies: list[StubReply], responder: Responder | None, default: StubReply,
                 latency: float, keep_requests: bool):
        self.script: deque[StubReply] = deque(replies)
        self.responder = responder
        self.default = default
        self.latency = latency
        self.keep_requests = keep_requests
        self.requests: list[dict] = []
        self.calls = 0
        self.inflight = 0
        self.max_inflight = 0
        self.lock = threading.Lock()

    def begin(self) -> None:
        with self.lock:
            self.inflight += 1
            self.max_inflight = max(self.max_inflight, self.inflight)

    def end(self) -> None:
        with self.lock:
            self.inflight -= 1

    def next_reply(self, req: dict) -> StubReply:
        with self.lock:
            self.calls += 1
            if self.keep_requests:
                self.requests.append(req)
            if self.script:
                return self.script.popleft()
        if self.responder is not None:
            r = self.responder(req)
            if r is not None:
                from .stub_replies import _as_reply

                return _as_reply(r)
        return self.default

    def respond(self, path: str, body: bytes) -> tuple[StubReply | None, bytes | None, str]:
        """(reply, None, model) for a chat request, or (None, raw response, "") for anything else."""
        if path.rstrip("/").endswith("/stub/stats"):
            return None, _http(200, json.dumps({"calls": self.calls, "max_inflight": self.max_inflight}).encode()), ""
        if path.rstrip("/").endswith("/models"):
            return None, _http(200, b'{"object":"list","data":[{"id":"stub","object":"model"}]}'), ""
        if not path.rstrip("/").endswith("/chat/completions"):
            return None, _http(404, b'{"error":{"message":"not found"}}'), ""
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            return None, _http(400, b'{"error":{"message":"body is not JSON"}}'), ""
        return self.next_reply(req), None, str(req.get("model", "stub")) if isinstance(req, dict) else "stub"

    def render(self, reply: StubReply, req_model: str, n: int) -> bytes:
        status, body = self.render_body(reply, req_model, n)
        return _http(status, body, "retry-after: 0\r\n" if status == 429 else "")

    def render_body(self, reply: StubReply, req_model: str, n: int) -> tuple[int, bytes]:
        """(HTTP status, JSON body) of a reply: an OpenAI chat completion, or an error object."""
        if reply.kind == "error":
            kind = {429: "rate_limit_error", 400: "invalid_request_error"}.get(reply.status, "server_error")
            return reply.status, json.dumps({"error": {"message": f"stub {reply.status}", "type": kind,
                                                       "code": str(reply.status)}}).encode()
        text = reply.text()
        finish = "stop"
        if reply.kind == "truncated":
            text, finish = text[: max(1, len(text) // 2)], "length"
        pt = reply.prompt_tokens if reply.prompt_tokens is not None else 100
        ct = reply.completion_tokens if reply.completion_tokens is not None else max(1, len(text) // 4)
        body = json.dumps({
            "id": f"chatcmpl-stub-{n}", "object": "chat.completion", "created": int(time.time()),
            "model": req_model, "system_fingerprint": "stub",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct},
        }).encode()
        return 200, body


class Conn(asyncio.Protocol):
    def __init__(self, core: Core, loop: asyncio.AbstractEventLoop):
        self.core = core
        self.loop = loop
        self.buf = b""
        self.busy = False
        self.transport: asyncio.Transport | None = None
        self.timer: asyncio.TimerHandle | None = None
        self.pending = False  # a chat request is being answered (counts as in flight)

    def connection_made(self, transport):  # type: ignore[override]
        self.transport = transport

    def connection_lost(self, exc):  # type: ignore[override]
        if self.timer:
            self.timer.cancel()
        if self.pending:
            self.core.end()
            self.pending = False
        self.transport = None

    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        self.buf += data
        self._next()

    def _next(self) -> None:
        if self.busy or self.transport is None:
            return
        end = self.buf.find(b"\r\n\r\n")
        if end < 0:
            return
        head = self.buf[:end].decode("latin-1").split("\r\n")
        try:
            method, path, _ = head[0].split(" ", 2)
        except ValueError:
            self.transport.close()
            return
        headers = {}
        for line in head[1:]:
            k, _, v = line.partition(":")
            headers[k.strip().lower()] = v.strip()
        n = int(headers.get("content-length", "0") or 0)
        if len(self.buf) < end + 4 + n:
            return
        body = self.buf[end + 4: end + 4 + n]
        self.buf = self.buf[end + 4 + n:]
        self.busy = True
        arrived = self.loop.time()  # latency counts from here, not from when the reply was computed
        reply, raw, model = self.core.respond(path, body if method == "POST" else b"")
        if raw is not None:
            self._send(raw)
            return
        assert reply is not None
        self.core.begin()
        self.pending = True
        if reply.kind == "timeout":
            return  # never answer; the client times out and closes
        if reply.kind == "disconnect":
            self.transport.close()
            return
        payload = self.core.render(reply, model, self.core.calls)
        delay = (self.core.latency if reply.delay is None else reply.delay) - (self.loop.time() - arrived)
        if delay > 0:
            self.timer = self.loop.call_later(delay, self._send, payload)
        else:
            self._send(payload)

    def _send(self, payload: bytes) -> None:
        self.timer = None
        if self.pending:
            self.core.end()
            self.pending = False
        if self.transport is None:
            return
        self.transport.write(payload)
        self.busy = False
        if self.buf:
            self._next()
