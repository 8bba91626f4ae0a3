"""The lean route's HTTP/1.1 client against raw servers (reply framings the stub does not use),
and litellm prices read once per model."""

from __future__ import annotations

import asyncio
import gzip
import json

import pytest

from evalkit.llm import LLMCallError, ModelSpec
from evalkit.llm.http1 import HTTP1Pool

BODY = json.dumps({"id": "x", "object": "chat.completion", "model": "m",
                   "choices": [{"index": 0, "message": {"role": "assistant", "content": '{"ok": 1}'},
                                "finish_reason": "stop"}],
                   "usage": {"prompt_tokens": 7, "completion_tokens": 3}}).encode()


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
    if kind == "continue":
        return b"HTTP/1.1 100 Continue\r\n\r\n" + _reply("length")
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
                for i in range(0, len(data), 50):  # in pieces, so the parser must wait for more
                    writer.write(data[i:i + 50])
                    await writer.drain()
                    await asyncio.sleep(0)
                if self.kind == "close":
                    writer.close()
                    return
        except (asyncio.IncompleteReadError, ConnectionError):
            writer.close()


def _run(kind: str, n: int = 3) -> tuple[list, RawServer]:
    async def main():
        srv = RawServer(kind)
        server = await asyncio.start_server(srv.handle, "127.0.0.1", 0)
        port = server.sockets[0].getsockname()[1]
        pool = HTTP1Pool()
        out = []
        for _ in range(n):
            out.append(await pool.post(f"http://127.0.0.1:{port}/v1/chat/completions", b'{"a":1}',
                                       {"Authorization": "Bearer k", "Content-Type": "application/json"}, 5.0))
        await pool.close()
        server.close()
        return out, srv

    return asyncio.run(main())


@pytest.mark.parametrize("kind", ["length", "chunked", "gzip", "close", "continue"])
def test_reply_framings(kind):
    out, srv = _run(kind)
    assert [o[0] for o in out] == [200, 200, 200]
    assert all(json.loads(o[2]) == json.loads(BODY) for o in out)
    head = srv.heads[0]
    assert head.startswith("POST /v1/chat/completions HTTP/1.1\r\n")
    assert "Authorization: Bearer k" in head and "Content-Length: 7" in head
    # keep-alive connections are reused; a connection the server closes is not
    assert srv.connections == (3 if kind == "close" else 1)


def test_header_with_line_break_is_refused():
    async def main():
        await HTTP1Pool().post("http://127.0.0.1:9/x", b"{}", {"X-Key": "a\r\nInjected: 1"}, 1.0)

    with pytest.raises(ValueError, match="line break"):
        asyncio.run(main())


def test_timeout_and_refused_connection_are_retryable_call_errors(make_client):
    async def silent(reader, writer):
        await asyncio.sleep(10)

    async def start():
        return await asyncio.start_server(silent, "127.0.0.1", 0)

    c = make_client(retries=0)
    server = c.run(start())
    port = server.sockets[0].getsockname()[1]
    spec = ModelSpec(model="openai/stub", api_base=f"http://127.0.0.1:{port}/v1", transport="lean", timeout=0.3)
    with pytest.raises(LLMCallError) as ei:
        c.complete(spec, [{"role": "user", "content": "hi"}])
    assert ei.value.kind == "timeout" and ei.value.retryable
    server.close()
    spec2 = ModelSpec(model="openai/stub", api_base="http://127.0.0.1:9/v1", transport="lean", timeout=0.3)
    with pytest.raises(LLMCallError) as ei:
        c.complete(spec2, [{"role": "user", "content": "hi"}])
    assert ei.value.retryable and "hi" not in str(ei.value)


@pytest.mark.parametrize("model", ["openai/gpt-4o-mini", "anthropic/claude-sonnet-4-5", "gemini/gemini-2.5-pro"])
def test_litellm_price_read_once_equals_cost_per_token(model):
    from evalkit.llm.transport import litellm_module, price

    litellm = litellm_module()
    spec = ModelSpec(model=model)
    for pt, ct in [(1, 0), (1234, 567), (250_000, 4000)]:
        a, b = litellm.cost_per_token(model=model, prompt_tokens=pt, completion_tokens=ct)
        assert price(spec, None, pt, ct) == pytest.approx(a + b, rel=1e-9, abs=1e-15)
    assert price(ModelSpec(model="openai/not-a-priced-model"), None, 10, 10) is None
