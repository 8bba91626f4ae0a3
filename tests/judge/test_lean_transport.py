"""The model transports against servers: reply framings the stub does not use (aiohttp reads them),
timeouts and dropped connections, a POST never re-sent, response headers on both routes, the
stub's gate, and litellm prices read once per model."""

from __future__ import annotations

import asyncio
import gzip
import json

import pytest

from evalkit.llm import LLMCallError, ModelSpec
from evalkit.llm.transport import LeanRoute, RawReply, call_lean, call_litellm, new_session
from evalkit.testing.stub_llm import StubLLM, disconnect, error, ok

BODY = json.dumps({"id": "x", "object": "chat.completion", "model": "m",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": '{"ok": 1}'},
                                "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 7, "completion_tokens": 3}}).encode()
HI = [{"role": "user", "content": "hi"}]


def _reply(kind: str) -> bytes:
    if kind == "length":
        return b"HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: %d\r\n\r\n" % len(BODY) + BODY
    if kind == "chunked":
        a, b = BODY[:40], BODY[40:]
        return (b"HTTP/1.1 200 OK\r\ncontent-type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n"
                + b"%x\r\n" % len(a) + a + b"\r\n" + b"%x;ext=1\r\n" % len(b) + b + b"\r\n0\r\nX-Trailer: 1\r\n\r\n")
    if kind == "gzip":
        z = gzip.compress(BODY)
        return b"HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: %d\r\n\r\n" % len(z) + z
    if kind == "close":  # HTTP/1.0, no length: the body runs to the close
        return b"HTTP/1.0 200 OK\r\nContent-Type: application/json\r\n\r\n" + BODY
    raise ValueError(kind)


class RawServer:
    """Answers every request with one framing, in small pieces; records request heads."""

    def __init__(self, kind: str):
        self.kind, self.heads, self.connections = kind, [], 0

    async def handle(self, reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        self.connections += 1
        try:
            while True:
                head = await reader.readuntil(b"\r\n\r\n")
                self.heads.append(head.decode("latin-1"))
                n = int(next(line.split(":")[1] for line in head.decode().split("\r\n")
                             if line.lower().startswith("content-length")))
                await reader.readexactly(n)
                data = _reply(self.kind)
                for i in range(0, len(data), 50):  # in pieces, so the reader must wait for more
                    writer.write(data[i:i + 50])
                    await writer.drain()
                    await asyncio.sleep(0)
                if self.kind == "close":
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


@pytest.mark.parametrize("kind", ["length", "chunked", "gzip", "close"])
def test_reply_framings_over_the_shared_session(make_client, kind):
    srv = RawServer(kind)

    async def start():
        return await asyncio.start_server(srv.handle, "127.0.0.1", 0)

    c = make_client(retries=0)
    server = c.run(start())
    port = server.sockets[0].getsockname()[1]
    spec = ModelSpec(model="openai/raw", api_base=f"http://127.0.0.1:{port}/v1", transport="lean", timeout=5,
                     api_key="k")
    replies = [c.complete(spec, [{"role": "user", "content": f"q{i}"}]) for i in range(3)]
    server.close()
    assert [r.content for r in replies] == ['{"ok": 1}'] * 3 and replies[0].prompt_tokens == 7
    head = srv.heads[0]
    assert head.startswith("POST /v1/chat/completions HTTP/1.1\r\n")
    assert "Authorization: Bearer k" in head and "Content-Length:" in head
    # keep-alive connections are reused; a connection the server closes is not
    assert srv.connections == (3 if kind == "close" else 1)


def test_timeout_and_refused_connection_are_retryable_call_errors(make_client):
    async def silent(reader, writer):  # reads the request, never answers
        await reader.read()
        writer.close()

    async def start():
        return await asyncio.start_server(silent, "127.0.0.1", 0)

    c = make_client(retries=0)
    server = c.run(start())
    port = server.sockets[0].getsockname()[1]
    spec = ModelSpec(model="openai/stub", api_base=f"http://127.0.0.1:{port}/v1", transport="lean", timeout=0.3)
    with pytest.raises(LLMCallError) as ei:
        c.complete(spec, HI)
    assert ei.value.kind == "timeout" and ei.value.retryable
    server.close()
    spec2 = ModelSpec(model="openai/stub", api_base="http://127.0.0.1:9/v1", transport="lean", timeout=0.3)
    with pytest.raises(LLMCallError) as ei:
        c.complete(spec2, HI)
    assert ei.value.retryable and ei.value.kind == "connection error" and "hi" not in str(ei.value)


@pytest.mark.parametrize("transport", ["lean", "litellm"])
def test_a_dropped_connection_is_retryable_and_the_post_is_not_re_sent(make_client, transport):
    with StubLLM([ok({"warm": 1}), disconnect(), ok({"after": 1})]) as s:
        c = make_client(retries=0)
        spec = ModelSpec(model="openai/stub", api_base=s.api_base, transport=transport, timeout=5)
        c.complete(spec, [{"role": "user", "content": "warm"}])  # a kept-alive connection the next call reuses
        with pytest.raises(LLMCallError) as ei:
            c.complete(spec, HI)
        assert ei.value.retryable  # lean: "connection error"; litellm reports it as a 500
        assert ei.value.kind == "connection error" or transport == "litellm"
        assert s.calls == 2  # the dropped request reached the server once; nobody sent it again
        assert json.loads(c.complete(spec, [{"role": "user", "content": "next"}]).content) == {"after": 1}


class Gate:
    """Refuses the first ``refuse`` chat requests with 429; adds ``ok_headers`` to answered ones."""

    def __init__(self, refuse: int, headers: dict[str, str], ok_headers: dict[str, str] | None = None):
        self.refuse, self.headers, self.ok_headers, self.seen = refuse, headers, ok_headers or {}, []

    def check(self, req: dict):
        self.seen.append(req.get("model"))
        if self.refuse > 0:
            self.refuse -= 1
            return 429, self.headers
        return None, self.ok_headers


LIMITED = {"retry-after": "3", "X-RateLimit-Remaining-Requests": "0"}


def _one_attempt(spec: ModelSpec) -> RawReply:
    """One attempt on the spec's transport, with no client around it (no retries, no pacing)."""
    async def one() -> RawReply:
        if spec.transport == "litellm":
            return await call_litellm(spec, HI, None)
        session = new_session(4)
        try:
            return await call_lean(LeanRoute(spec, None), session, HI)
        finally:
            await session.close()

    return asyncio.run(one())


@pytest.mark.parametrize("transport", ["lean", "litellm"])
def test_a_429s_headers_surface_on_the_call_error(transport):
    gate = Gate(1, LIMITED)
    with StubLLM([ok({"a": 1})], gate=gate) as s:
        spec = ModelSpec(model="openai/stub", api_base=s.api_base, transport=transport, timeout=5, api_key="k")
        with pytest.raises(LLMCallError) as ei:
            _one_attempt(spec)
        e = ei.value
        assert e.status == 429 and e.retryable
        assert e.headers["retry-after"] == "3" and e.headers["x-ratelimit-remaining-requests"] == "0"
        assert s.refused == 1 and s.calls == 0  # refused by the gate: no scripted reply used
        assert json.loads(_one_attempt(spec).content) == {"a": 1}
        assert s.calls == 1 and gate.seen == ["stub", "stub"]


@pytest.mark.parametrize("transport", ["lean", "litellm"])
def test_a_200s_headers_surface_on_the_raw_reply(transport):
    gate = Gate(0, {}, {"X-RateLimit-Remaining-Tokens": "9000"})
    with StubLLM([ok({"a": 1})], gate=gate) as s:
        spec = ModelSpec(model="openai/stub", api_base=s.api_base, transport=transport, timeout=5, api_key="k")
        raw = _one_attempt(spec)
    assert raw.content == '{"a": 1}'
    assert raw.headers is not None and raw.headers["x-ratelimit-remaining-tokens"] == "9000"
    assert all(k == k.lower() and not k.startswith("llm_provider-") for k in raw.headers)


def test_an_error_reply_without_gate_headers_keeps_retry_after_0():
    with StubLLM([error(429), error(500)]) as s:
        spec = ModelSpec(model="openai/stub", api_base=s.api_base, transport="lean", timeout=5)
        with pytest.raises(LLMCallError) as ei:
            _one_attempt(spec)
        assert ei.value.status == 429 and ei.value.headers["retry-after"] == "0"
        with pytest.raises(LLMCallError) as ei:
            _one_attempt(spec)
        assert ei.value.status == 500 and "retry-after" not in ei.value.headers


def test_call_error_headers_are_lower_cased():
    e = LLMCallError("m", "rate limited", 429, True, headers={"Retry-After": "2", "llm_provider-X-A": "1"})
    assert e.headers == {"retry-after": "2", "x-a": "1"}
    assert LLMCallError("m", "timeout").headers is None


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-pro"])
def test_litellm_price_read_once_equals_cost_per_token(model):
    from evalkit.llm.transport import litellm_module, price

    litellm = litellm_module()
    spec = ModelSpec(model=model)
    for pt, ct in [(1, 0), (1234, 567), (250_000, 4000)]:
        a, b = litellm.cost_per_token(model=model, prompt_tokens=pt, completion_tokens=ct)
        assert price(spec, None, pt, ct) == pytest.approx(a + b, rel=1e-9, abs=1e-15)
    assert price(ModelSpec(model="openai/not-a-priced-model"), None, 10, 10) is None
