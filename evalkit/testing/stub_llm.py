"""A loopback OpenAI-compatible chat-completions server, scripted, for tests and benchmarks.

It speaks just enough HTTP/1.1 (keep-alive, ``Content-Length`` bodies) to serve
``POST /v1/chat/completions`` to litellm's ``openai/`` provider through ``api_base``, so
tests exercise the real litellm path end to end with no network and no model.

Replies come from a script (a list consumed in order), then from a *responder*
(``request dict -> reply``), then from a default reply. Each reply can be slow, an HTTP
error (429, 500...), a timeout (the server never answers), malformed JSON, a truncated
reply (``finish_reason="length"``) or a dropped connection.

Use it in a thread (tests)::

    with StubLLM([ok({"claims": []}), error(429)], latency=0.01) as stub:
        litellm.completion(model="openai/stub", api_base=stub.api_base, api_key="x", ...)
        assert stub.calls == 1

or in its own process (benchmarks: the client keeps a whole core)::

    stub = StubLLM.spawn(latency=0.05, responder="evalkit.testing.stub_llm:judge_responder")
    ...
    stub.stop()

``python -m evalkit.testing.stub_llm --port 8765 --latency 0.05`` serves from the command line.
"""

from __future__ import annotations

import asyncio
import importlib
import json
import re
import subprocess
import sys
import threading
import time
from collections import deque
from dataclasses import asdict, dataclass, field
from typing import Any, Callable, Literal

ReplyKind = Literal["ok", "error", "timeout", "truncated", "malformed", "disconnect"]


@dataclass
class StubReply:
    """One scripted reply.

    Args:
        content: the assistant message text (``json`` is serialised into it when given).
        json: any JSON-able object to send as the message content.
        kind: ``ok``, ``error`` (HTTP ``status``), ``timeout`` (never answers), ``truncated``
            (content cut in half, ``finish_reason="length"``), ``malformed`` (content is not
            JSON) or ``disconnect`` (the connection is closed with no reply).
        status: HTTP status for ``kind="error"``.
        delay: seconds before answering (overrides the server's latency).
        prompt_tokens, completion_tokens: usage to report (estimated from text otherwise).
    """

    content: str | None = None
    json: Any = None
    kind: ReplyKind = "ok"
    status: int = 200
    delay: float | None = None
    prompt_tokens: int | None = None
    completion_tokens: int | None = None

    def text(self) -> str:
        if self.content is not None:
            return self.content
        if self.json is not None:
            return json.dumps(self.json)
        return ""


def ok(obj: Any = None, *, delay: float | None = None) -> StubReply:
    """A normal reply: ``obj`` as JSON content (a ``str`` is sent as is)."""
    if isinstance(obj, str):
        return StubReply(content=obj, delay=delay)
    return StubReply(json=obj if obj is not None else {}, delay=delay)


def error(status: int = 500, *, delay: float | None = None) -> StubReply:
    """An HTTP error reply (429 rate limit, 500 server error, 400 bad request...)."""
    return StubReply(kind="error", status=status, delay=delay)


def timeout() -> StubReply:
    """The server accepts the request and never answers (the client must time out)."""
    return StubReply(kind="timeout")


def malformed(text: str = '{"claims": [ {"sentence_id": oops') -> StubReply:
    """A 200 reply whose content is not valid JSON."""
    return StubReply(kind="malformed", content=text)


def truncated(obj: Any) -> StubReply:
    """A 200 reply cut short: half of ``obj``'s JSON, ``finish_reason="length"``."""
    return StubReply(kind="truncated", json=obj)


def disconnect() -> StubReply:
    """Close the connection without replying."""
    return StubReply(kind="disconnect")


Responder = Callable[[dict], "StubReply | str | dict | list | None"]


def _as_reply(r: Any) -> StubReply:
    if isinstance(r, StubReply):
        return r
    if isinstance(r, dict) and r.get("__stub__"):
        d = dict(r)
        d.pop("__stub__")
        return StubReply(**d)
    return ok(r)


# ---------------------------------------------------------------------------- responders

_SENTENCE_LINE = re.compile(r"^\s*\[S:([^\]]+)\]", re.M)
_TURN_LINE = re.compile(r"^\s*\[T(\d+)\b", re.M)


def _user_text(req: dict) -> str:
    return "\n".join(str(m.get("content") or "") for m in req.get("messages", []) if m.get("role") == "user")


def judge_responder(req: dict) -> dict:
    """A judge that finds every note sentence supported by the first transcript turn.

    It reads the sentence ids (``[S:plan.0]`` lines) and turn ids (``[T3 ...]`` lines) the
    evalkit judge prompts contain, so its replies validate for any note.
    """
    text = _user_text(req)
    turns = [int(t) for t in _TURN_LINE.findall(text)]
    ev = turns[:1]
    claims = [{"sentence_id": sid, "text": "claim", "verdict": "supported", "type": None, "severity": None,
               "evidence": ev, "rationale": ""} for sid in requested_sentence_ids(req)]
    return {"claims": claims, "salient_facts": 0, "omissions": []}


_ASKED = re.compile(r"Judge all \d+ sentences: (.*?)\.?\s*$", re.M)


def requested_sentence_ids(req: dict) -> list[str]:
    """The note sentence ids a judge request asks verdicts for (from its last user message)."""
    users = [str(m.get("content") or "") for m in req.get("messages", []) if m.get("role") == "user"]
    text = users[0] if users else ""
    m = _ASKED.search(text)
    if m:
        return [x.strip() for x in m.group(1).split(",") if x.strip()]
    return _SENTENCE_LINE.findall(text)


def evalkit_responder(req: dict) -> dict:
    """A valid reply to any evalkit prompt: judge (all supported), PDQI-9 (all 4), adherence (all
    appropriate), notes (one sentence per section key, citing turn 0) and dialogues (saying every
    planted keyword). For wiring tests and demos, not for measuring anything."""
    system = str((req.get("messages") or [{}])[0].get("content") or "")
    text = _user_text(req)
    if "Judge all" in text:
        return judge_responder(req)
    if "PDQI-9" in system:
        keys = re.search(r"Item keys: (.*?)\.\s*$", text, re.M)
        return {"items": {k.strip(): {"score": 4, "rationale": ""} for k in (keys.group(1) if keys else "").split(",")
                          if k.strip()}}
    keys_m = re.search(r"Section keys(?: in this note)?: (.*?)\.\s*$", text, re.M)
    keys = [k.strip() for k in keys_m.group(1).split(",")] if keys_m else []
    if '"appropriate"' in text:
        return {"sections": [{"section": k, "appropriate": True, "problems": [], "severity": None} for k in keys]}
    if '"turns"' in text:
        said = [w.strip() for m in re.findall(r"\(say: (.*?)\)\s*$", text, re.M) for w in m.split(",")]
        return {"turns": [{"speaker": "doctor", "text": "Hello, what brings you in today?"},
                          {"speaker": "patient", "text": "I wanted to talk about " + (", ".join(said) or "my health") + "."}]}
    if keys:
        said = [w.strip() for m in re.findall(r"\(say: (.*?)\)\s*$", text, re.M) for w in m.split(",")]
        body = "Discussed " + (", ".join(said) if said else "the consultation") + "."
        return {"sections": [{"key": k, "sentences": [{"text": body if i == 0 else "Reviewed.", "evidence": [0]}]}
                             for i, k in enumerate(keys)]}
    return {}


def echo_responder(req: dict) -> dict:
    """Reply with a summary of the request (model, message count, response_format type)."""
    rf = req.get("response_format") or {}
    return {"model": req.get("model"), "messages": len(req.get("messages", [])),
            "response_format": rf.get("type") if isinstance(rf, dict) else None}


def load_responder(spec: str | Responder | None) -> Responder | None:
    """A responder from a callable or a ``module:function`` path."""
    if spec is None or callable(spec):
        return spec
    mod, _, fn = spec.partition(":")
    return getattr(importlib.import_module(mod), fn)


# ---------------------------------------------------------------------------- HTTP server


def _http(status: int, body: bytes, extra: str = "") -> bytes:
    reason = {200: "OK", 400: "Bad Request", 404: "Not Found", 429: "Too Many Requests",
              500: "Internal Server Error", 503: "Service Unavailable"}.get(status, "Error")
    head = (f"HTTP/1.1 {status} {reason}\r\ncontent-type: application/json\r\n"
            f"content-length: {len(body)}\r\n{extra}\r\n")
    return head.encode() + body


class _Core:
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
                return _as_reply(r)
        return self.default

    def respond(self, path: str, body: bytes) -> tuple[StubReply | None, bytes | None]:
        """Return (reply, None) for a chat request or (None, raw response) for anything else."""
        if path.rstrip("/").endswith("/stub/stats"):
            return None, _http(200, json.dumps({"calls": self.calls}).encode())
        if path.rstrip("/").endswith("/models"):
            return None, _http(200, b'{"object":"list","data":[{"id":"stub","object":"model"}]}')
        if not path.rstrip("/").endswith("/chat/completions"):
            return None, _http(404, b'{"error":{"message":"not found"}}')
        try:
            req = json.loads(body or b"{}")
        except ValueError:
            return None, _http(400, b'{"error":{"message":"body is not JSON"}}')
        return self.next_reply(req), None

    def render(self, reply: StubReply, req_model: str, n: int) -> bytes:
        if reply.kind == "error":
            kind = {429: "rate_limit_error", 400: "invalid_request_error"}.get(reply.status, "server_error")
            body = json.dumps({"error": {"message": f"stub {reply.status}", "type": kind,
                                         "code": str(reply.status)}}).encode()
            return _http(reply.status, body, "retry-after: 0\r\n" if reply.status == 429 else "")
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
        return _http(200, body)


class _Conn(asyncio.Protocol):
    def __init__(self, core: _Core, loop: asyncio.AbstractEventLoop):
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
        reply, raw = self.core.respond(path, body if method == "POST" else b"")
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
        try:
            model = json.loads(body).get("model", "stub")
        except ValueError:
            model = "stub"
        payload = self.core.render(reply, model, self.core.calls)
        delay = self.core.latency if reply.delay is None else reply.delay
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


class StubLLM:
    """The stub server running on a background thread of this process.

    Args:
        replies: scripted replies, consumed one per request in order.
        responder: ``request dict -> reply`` for requests after the script (or a
            ``module:function`` path).
        latency: seconds before each reply (a reply's own ``delay`` overrides it).
        default: the reply when the script is exhausted and there is no responder.
        host, port: where to listen (port 0 picks a free port).
        keep_requests: keep every request body in :attr:`requests` (turn off for benchmarks).
    """

    def __init__(self, replies: list[StubReply | dict | str] | None = None, *,
                 responder: Responder | str | None = None, latency: float = 0.0,
                 default: StubReply | None = None, host: str = "127.0.0.1", port: int = 0,
                 keep_requests: bool = True):
        self.core = _Core([_as_reply(r) for r in replies or []], load_responder(responder),
                          default or ok({}), latency, keep_requests)
        self.host, self.port = host, port
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.base_events.Server | None = None

    # -- scripting
    def push(self, *replies: StubReply | dict | str) -> None:
        """Append replies to the script."""
        with self.core.lock:
            self.core.script.extend(_as_reply(r) for r in replies)

    @property
    def calls(self) -> int:
        """Chat-completion requests received so far."""
        return self.core.calls

    @property
    def max_inflight(self) -> int:
        """Most chat requests being answered at once so far."""
        return self.core.max_inflight

    @property
    def requests(self) -> list[dict]:
        """Request bodies received so far (when ``keep_requests``)."""
        return self.core.requests

    @property
    def latency(self) -> float:
        return self.core.latency

    @latency.setter
    def latency(self, v: float) -> None:
        self.core.latency = v

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    # -- lifecycle
    def start(self) -> "StubLLM":
        ready = threading.Event()

        def run() -> None:
            loop = asyncio.new_event_loop()
            self._loop = loop
            asyncio.set_event_loop(loop)
            self._server = loop.run_until_complete(loop.create_server(
                lambda: _Conn(self.core, loop), self.host, self.port, backlog=1024))
            self.port = self._server.sockets[0].getsockname()[1]
            ready.set()
            loop.run_forever()
            self._server.close()
            loop.run_until_complete(asyncio.sleep(0))
            loop.close()

        self._thread = threading.Thread(target=run, name="stub-llm", daemon=True)
        self._thread.start()
        ready.wait(10)
        return self

    def stop(self) -> None:
        if self._loop is not None:
            self._loop.call_soon_threadsafe(self._loop.stop)
        if self._thread is not None:
            self._thread.join(5)
        self._loop = self._thread = None

    def __enter__(self) -> "StubLLM":
        return self.start()

    def __exit__(self, *exc: Any) -> None:
        self.stop()

    # -- other process
    @staticmethod
    def spawn(*, latency: float = 0.0, responder: str | None = None,
              replies: list[StubReply] | None = None, port: int = 0) -> "SpawnedStub":
        """Start the stub in its own Python process (so it does not share the client's GIL)."""
        args = [sys.executable, "-m", "evalkit.testing.stub_llm", "--port", str(port),
                "--latency", str(latency)]
        if responder:
            args += ["--responder", responder]
        if replies:
            args += ["--replies", json.dumps([{**asdict(_as_reply(r)), "__stub__": 1} for r in replies])]
        proc = subprocess.Popen(args, stdout=subprocess.PIPE, text=True)
        line = proc.stdout.readline() if proc.stdout else ""
        m = re.search(r"port (\d+)", line)
        if not m:
            proc.kill()
            raise RuntimeError("stub LLM server did not start")
        return SpawnedStub(proc, "127.0.0.1", int(m.group(1)))


@dataclass
class SpawnedStub:
    """A stub server running in a child process (see :meth:`StubLLM.spawn`)."""

    proc: subprocess.Popen
    host: str
    port: int
    _stopped: bool = field(default=False, repr=False)

    @property
    def api_base(self) -> str:
        return f"http://{self.host}:{self.port}/v1"

    @property
    def calls(self) -> int:
        import urllib.request

        with urllib.request.urlopen(f"{self.api_base}/stub/stats", timeout=5) as r:
            return int(json.loads(r.read())["calls"])

    def stop(self) -> None:
        if not self._stopped:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
            self._stopped = True

    def __enter__(self) -> "SpawnedStub":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.stop()


def main(argv: list[str] | None = None) -> None:
    import argparse

    p = argparse.ArgumentParser(description="Loopback OpenAI-compatible stub server")
    p.add_argument("--host", default="127.0.0.1")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--latency", type=float, default=0.0)
    p.add_argument("--responder", default=None, help="module:function building replies")
    p.add_argument("--replies", default=None, help="JSON list of scripted replies")
    a = p.parse_args(argv)
    replies = json.loads(a.replies) if a.replies else None
    stub = StubLLM(replies, responder=a.responder, latency=a.latency, host=a.host, port=a.port,
                   keep_requests=False).start()
    print(f"stub LLM listening on {stub.host} port {stub.port}", flush=True)
    try:
        while True:
            time.sleep(3600)
    except KeyboardInterrupt:
        pass
    finally:
        stub.stop()


if __name__ == "__main__":
    main()
