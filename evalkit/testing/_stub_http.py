"""The stub server's HTTP side on ``aiohttp.web``: routes, the optional gate, latency, replies
rendered as OpenAI chat completions. The state shared by all requests is :class:`Core`."""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import deque
from typing import TYPE_CHECKING, Any

from aiohttp import web

if TYPE_CHECKING:
    from .stub_replies import Responder, StubReply

#: request bodies the stub accepts (aiohttp's default is 1 MB; a long transcript's judge prompt is more)
MAX_REQUEST_BYTES = 256 * 2**20
_ERROR_TYPES = {429: "rate_limit_error", 400: "invalid_request_error"}


def _json(status: int, body: bytes, headers: dict[str, str] | None = None) -> web.Response:
    return web.Response(status=status, body=body, content_type="application/json", headers=headers)


def error_body(status: int) -> bytes:
    """An OpenAI-style error body (``rate_limit_error`` for 429)."""
    return json.dumps({"error": {"message": f"stub {status}", "type": _ERROR_TYPES.get(status, "server_error"),
                                 "code": str(status)}}).encode()


class Core:
    """Server state shared by all connections: the script, gate, counters, received requests."""

    def __init__(self, replies: list[StubReply], responder: Responder | None, default: StubReply,
                 latency: float, keep_requests: bool, gate: Any = None):
        self.script: deque[StubReply] = deque(replies)
        self.responder = responder
        self.default = default
        self.latency = latency
        self.keep_requests = keep_requests
        self.gate = gate
        self.requests: list[dict] = []
        self.calls = 0
        self.refused = 0
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

    def stats(self) -> dict:
        return {"calls": self.calls, "max_inflight": self.max_inflight, "refused": self.refused}

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

    def render(self, reply: StubReply, req_model: str, n: int, headers: dict[str, str] | None) -> web.Response:
        status, body = self.render_body(reply, req_model, n)
        if status != 200:
            extra = dict(headers) if headers else ({"retry-after": "0"} if status == 429 else {})
            return _json(status, body, extra)
        return _json(200, body, headers)

    def render_body(self, reply: StubReply, req_model: str, n: int) -> tuple[int, bytes]:
        """(HTTP status, JSON body) of a reply: an OpenAI chat completion, or an error object."""
        if reply.kind == "error":
            return reply.status, error_body(reply.status)
        text = reply.text()
        finish = "stop"
        if reply.kind == "truncated":
            text, finish = text[: max(1, len(text) // 2)], "length"
        pt = reply.prompt_tokens if reply.prompt_tokens is not None else 100
        ct = reply.completion_tokens if reply.completion_tokens is not None else max(1, len(text) // 4)
        return 200, json.dumps({
            "id": f"chatcmpl-stub-{n}", "object": "chat.completion", "created": int(time.time()),
            "model": req_model, "system_fingerprint": "stub",
            "choices": [{"index": 0, "message": {"role": "assistant", "content": text},
                         "finish_reason": finish, "logprobs": None}],
            "usage": {"prompt_tokens": pt, "completion_tokens": ct, "total_tokens": pt + ct},
        }).encode()

    # -- aiohttp handler
    async def handle(self, request: web.Request) -> web.StreamResponse:
        loop = asyncio.get_running_loop()
        arrived = loop.time()  # latency counts from here, not from when the reply was computed
        path = request.path.rstrip("/")
        if path.endswith("/stub/stats"):
            return _json(200, json.dumps(self.stats()).encode())
        if path.endswith("/models"):
            return _json(200, b'{"object":"list","data":[{"id":"stub","object":"model"}]}')
        if not path.endswith("/chat/completions"):
            return _json(404, b'{"error":{"message":"not found"}}')
        body = await request.read() if request.method == "POST" else b""
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            return _json(400, b'{"error":{"message":"body is not JSON"}}')
        gate_headers: dict[str, str] | None = None
        if self.gate is not None:
            status, gate_headers = self.gate.check(req)
            if status is not None:
                with self.lock:
                    self.refused += 1
                return _json(int(status), error_body(int(status)), dict(gate_headers or {}))
        reply = self.next_reply(req)
        model = str(req.get("model", "stub")) if isinstance(req, dict) else "stub"
        self.begin()
        try:
            if reply.kind == "timeout":  # never answer; the client times out and closes (which cancels this)
                await asyncio.Event().wait()
            if reply.kind == "disconnect":
                if request.transport is not None:
                    request.transport.close()
                await asyncio.Event().wait()  # cancelled as the connection goes
            response = self.render(reply, model, self.calls, gate_headers)
            delay = (self.latency if reply.delay is None else reply.delay) - (loop.time() - arrived)
            if delay > 0:
                await asyncio.sleep(delay)
        finally:
            self.end()
        return response


def make_app(core: Core) -> web.Application:
    app = web.Application(client_max_size=MAX_REQUEST_BYTES)
    app.router.add_route("*", "/{tail:.*}", core.handle)
    return app
