"""A small keep-alive HTTP/1.1 client for the lean route to plain ``http://`` servers.

Local and private model servers (vLLM, Ollama, llama.cpp, the test stub) are reached over plain
HTTP on a trusted network. For them the lean route posts over these connections instead of
aiohttp: one ``asyncio.Protocol`` per connection, the request written in one call, the reply
parsed in place (``Content-Length``, chunked, or read to close; gzip/deflate decoded). aiohttp's
per-request machinery (request and response objects, header multidicts, tracing, cookie jar,
timeout handles) was ~0.4 ms of client CPU per call, the largest cost left on the lean route
(``bench/bench_llm.py``). ``https://`` servers keep aiohttp.

A reply larger than :data:`~evalkit.security.limits.MAX_REPLY_BYTES` (32 MB, announced, sent, or once
decompressed) is refused as soon as that is known.

Failures raise ``ConnectionResetError`` or ``TimeoutError`` for the client's retry policy (a
POST is never re-sent here: a dropped request may still have been paid for); idle connections
the server closed are noticed and not reused.
"""

from __future__ import annotations

import asyncio
import zlib
from typing import Any
from urllib.parse import urlsplit

from ..security.limits import MAX_REPLY_BYTES

_TOO_LARGE = f"HTTP reply larger than {MAX_REPLY_BYTES >> 20} MB"


class _TooLarge(ValueError):
    """The reply announces, sends or inflates to more than MAX_REPLY_BYTES."""


class _Conn(asyncio.Protocol):
    """One keep-alive connection; one request at a time."""

    __slots__ = ("transport", "buf", "fut", "head", "status", "ctype", "length", "chunked", "to_close",
                 "encoding", "closed", "timer")

    def __init__(self) -> None:
        self.transport: Any = None
        self.buf = bytearray()
        self.fut: asyncio.Future | None = None
        self.closed = False
        self._reset()

    def _reset(self) -> None:
        self.head = False
        self.status = 0
        self.ctype = ""
        self.length = -1
        self.chunked = False
        self.to_close = False
        self.encoding = ""
        self.timer: asyncio.TimerHandle | None = None

    # -- asyncio.Protocol
    def connection_made(self, transport: Any) -> None:  # type: ignore[override]
        self.transport = transport

    def data_received(self, data: bytes) -> None:  # type: ignore[override]
        self.buf += data
        if len(self.buf) > MAX_REPLY_BYTES + 65536:  # a reply no model sends: refuse it before it fills memory
            self._fail(ConnectionResetError(_TOO_LARGE))
            return
        if self.fut is not None:
            try:
                self._parse()
            except _TooLarge:
                self._fail(ConnectionResetError(_TOO_LARGE))
            except Exception as e:  # a reply this client cannot read: fail the request, drop the connection
                self._fail(ConnectionResetError(f"unreadable HTTP reply ({type(e).__name__})"))

    def connection_lost(self, exc: BaseException | None) -> None:  # type: ignore[override]
        self.closed = True
        if self.fut is not None and not self.fut.done():
            if self.head and self.length < 0 and not self.chunked:  # a body read to the close
                try:
                    self._finish(bytes(self.buf))
                except _TooLarge:
                    self._settle(None, ConnectionResetError(_TOO_LARGE))
                except Exception as e:
                    self._settle(None, ConnectionResetError(f"unreadable HTTP reply ({type(e).__name__})"))
            else:
                self._settle(None, ConnectionResetError("server disconnected"))

    # -- request
    def send(self, data: bytes, fut: asyncio.Future, timeout: float | None, loop: Any) -> None:
        self._reset()
        self.buf.clear()
        self.fut = fut
        if timeout:
            self.timer = loop.call_later(timeout, self._timeout)
        self.transport.write(data)

    def _timeout(self) -> None:
        self.timer = None
        self._fail(TimeoutError("request timed out"))

    def _fail(self, e: BaseException) -> None:
        self.closed = True
        if self.transport is not None:
            self.transport.abort()
        self._settle(None, e)

    def _settle(self, result: Any, exc: BaseException | None) -> None:
        fut, self.fut = self.fut, None
        if self.timer is not None:
            self.timer.cancel()
            self.timer = None
        if fut is not None and not fut.done():
            if exc is not None:
                fut.set_exception(exc)
            else:
                fut.set_result(result)

    def _finish(self, body: bytes) -> None:
        if self.encoding in ("gzip", "x-gzip", "deflate"):
            z = zlib.decompressobj(16 + zlib.MAX_WBITS if "gzip" in self.encoding else zlib.MAX_WBITS)
            body = z.decompress(body, MAX_REPLY_BYTES + 1)  # bounded: a small gzip may inflate to gigabytes
            if len(body) > MAX_REPLY_BYTES or z.unconsumed_tail:
                raise _TooLarge()
        elif self.encoding not in ("", "identity"):
            raise ValueError(f"content-encoding {self.encoding}")
        if self.to_close:
            self.closed = True
            if self.transport is not None:
                self.transport.close()
        self._settle((self.status, self.ctype, body), None)

    def _parse(self) -> None:
        buf = self.buf
        if not self.head:
            end = buf.find(b"\r\n\r\n")
            if end < 0:
                return
            lines = bytes(buf[:end]).decode("latin-1").split("\r\n")
            del buf[:end + 4]
            version, status = lines[0].split(" ", 2)[:2]
            self.status = int(status)
            if 100 <= self.status < 200:  # an interim reply (100 Continue): the real one follows
                self._parse()
                return
            self.head = True
            self.to_close = version == "HTTP/1.0"
            for line in lines[1:]:
                k, _, v = line.partition(":")
                k = k.strip().lower()
                if k == "content-length":
                    self.length = int(v)
                    if self.length > MAX_REPLY_BYTES:
                        raise _TooLarge()
                elif k == "transfer-encoding":
                    self.chunked = "chunked" in v.lower()
                elif k == "content-type":
                    self.ctype = v.strip()
                elif k == "connection":
                    low = v.lower()
                    self.to_close = "close" in low or (self.to_close and "keep-alive" not in low)
                elif k == "content-encoding":
                    self.encoding = v.strip().lower()
            if self.status in (204, 304):
                self.length = 0
        if self.chunked:
            self._parse_chunks()
        elif self.length >= 0 and len(buf) >= self.length:
            body = bytes(buf[:self.length])
            del buf[:self.length]
            self._finish(body)

    def _parse_chunks(self) -> None:
        buf, pos, parts = self.buf, 0, []
        while True:
            eol = buf.find(b"\r\n", pos)
            if eol < 0:
                return
            size = int(bytes(buf[pos:eol]).split(b";", 1)[0].strip() or b"0", 16)
            if size == 0:  # the last chunk, then optional trailers and a blank line
                end = buf.find(b"\r\n\r\n", eol)
                if end < 0:
                    return
                del buf[:end + 4]
                self._finish(b"".join(parts))
                return
            if len(buf) < eol + 2 + size + 2:
                return
            parts.append(bytes(buf[eol + 2:eol + 2 + size]))
            pos = eol + 2 + size + 2


class HTTP1Pool:
    """Keep-alive connections to plain-HTTP servers, for one event loop.

    Args:
        limit: idle connections kept per server (the caller bounds requests in flight).
    """

    def __init__(self, limit: int = 64):
        self.limit = limit
        self._idle: dict[tuple[str, int], list[_Conn]] = {}
        self._heads: dict[tuple[str, tuple], tuple[tuple[str, int], bytes]] = {}
        self._all: set[_Conn] = set()

    def _head(self, url: str, headers: dict[str, str]) -> tuple[tuple[str, int], bytes]:
        """The server address and the request head (all but Content-Length), cached per URL and headers."""
        key = (url, tuple(headers.items()))
        got = self._heads.get(key)
        if got is None:
            u = urlsplit(url)
            if u.scheme != "http" or not u.hostname:
                raise ValueError("HTTP1Pool serves plain http:// URLs only")
            port = u.port or 80
            path = (u.path or "/") + (f"?{u.query}" if u.query else "")
            lines = [f"POST {path} HTTP/1.1", f"Host: {u.netloc.rpartition('@')[2]}"]
            seen = set()
            for k, v in headers.items():
                k, v = str(k), str(v)
                if any(c in k + v for c in "\r\n\x00"):
                    raise ValueError(f"header {k!r} holds a line break")
                lk = k.lower()
                if lk in ("host", "content-length", "transfer-encoding", "connection"):
                    continue
                seen.add(lk)
                lines.append(f"{k}: {v}")
            if "content-type" not in seen:
                lines.append("Content-Type: application/json")
            if "accept" not in seen:
                lines.append("Accept: application/json")
            head = ("\r\n".join(lines) + "\r\nContent-Length: ").encode("latin-1")
            got = self._heads[key] = ((u.hostname, port), head)
            if len(self._heads) > 256:
                self._heads.clear()
        return got

    async def post(self, url: str, body: bytes, headers: dict[str, str], timeout: float | None
                   ) -> tuple[int, str, bytes]:
        """POST ``body``; returns (status, content type, body bytes).

        Raises:
            ConnectionResetError: the connection dropped or the reply could not be read.
            TimeoutError: no complete reply within ``timeout`` seconds.
        """
        addr, head = self._head(url, headers)
        data = head + str(len(body)).encode() + b"\r\n\r\n" + body
        loop = asyncio.get_running_loop()
        conn = await self._acquire(addr, loop)
        fut = loop.create_future()
        conn.send(data, fut, timeout, loop)
        try:
            result = await fut
        except BaseException:
            self._drop(conn)
            raise
        self._release(addr, conn)
        return result

    async def _acquire(self, addr: tuple[str, int], loop: Any) -> _Conn:
        idle = self._idle.get(addr)
        while idle:
            conn = idle.pop()
            if not conn.closed and conn.transport is not None and not conn.transport.is_closing():
                return conn
            self._all.discard(conn)
        _, conn = await loop.create_connection(_Conn, addr[0], addr[1])
        self._all.add(conn)
        return conn

    def _release(self, addr: tuple[str, int], conn: _Conn) -> None:
        if conn.closed or conn.buf:  # closed, or the server sent more than one reply: do not reuse
            self._drop(conn)
            return
        idle = self._idle.setdefault(addr, [])
        if len(idle) >= self.limit:
            self._drop(conn)
        else:
            idle.append(conn)

    def _drop(self, conn: _Conn) -> None:
        self._all.discard(conn)
        conn.closed = True
        conn.fut = None
        if conn.timer is not None:
            conn.timer.cancel()
            conn.timer = None
        if conn.transport is not None:
            conn.transport.close()

    async def close(self) -> None:
        for conn in list(self._all):
            self._drop(conn)
        self._idle.clear()
        await asyncio.sleep(0)  # let the transports close
