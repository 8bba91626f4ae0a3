"""One HTTP request under a total deadline, with the answer's size bounded.

``urllib``'s ``timeout`` bounds each socket operation, not the request: a server that sends one
byte every half second never trips it. :func:`request` arms a watchdog when the connection is
made; at the deadline it shuts the socket down, which ends whatever read is waiting, and the
request fails as timed out. The answer is read in chunks and refused once it passes
``max_bytes`` (or at once, when its ``Content-Length`` says it would).
"""

from __future__ import annotations

import http.client
import socket
import threading
import time
import urllib.request
from typing import Any

_CHUNK = 1 << 16


class DeadlineExceeded(TimeoutError):
    """The request did not complete before its deadline."""


class TooLarge(Exception):
    """The answer is larger than allowed (``size``: bytes announced or read so far)."""

    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


class _Watchdog:
    """Shuts down the sockets it watches when the deadline passes."""

    def __init__(self, deadline: float):
        self.deadline = deadline
        self.fired = False
        self._socks: list[socket.socket] = []
        self._lock = threading.Lock()
        self._timer = threading.Timer(max(0.0, deadline - time.monotonic()), self._fire)
        self._timer.daemon = True
        self._timer.start()

    def watch(self, sock: Any) -> None:
        with self._lock:
            self._socks.append(sock)
            fired = self.fired
        if fired:
            self._shutdown(sock)

    @staticmethod
    def _shutdown(sock: Any) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass

    def _fire(self) -> None:
        with self._lock:
            self.fired = True
            socks = list(self._socks)
        for s in socks:
            self._shutdown(s)

    def cancel(self) -> None:
        self._timer.cancel()


def _watched(base: type, dog: _Watchdog) -> Any:
    class Connection(base):  # type: ignore[misc, valid-type]
        def connect(self) -> None:
            super().connect()
            dog.watch(self.sock)

    return Connection


class _HTTP(urllib.request.HTTPHandler):
    def __init__(self, dog: _Watchdog):
        super().__init__()
        self.dog = dog

    def http_open(self, req: Any) -> Any:
        return self.do_open(_watched(http.client.HTTPConnection, self.dog), req)


class _HTTPS(urllib.request.HTTPSHandler):
    def __init__(self, dog: _Watchdog):
        super().__init__()
        self.dog = dog

    def https_open(self, req: Any) -> Any:
        kw = {"context": self._context}
        if hasattr(self, "_check_hostname"):
            kw["check_hostname"] = self._check_hostname
        return self.do_open(_watched(http.client.HTTPSConnection, self.dog), req, **kw)


def request(url: str, *, data: bytes, headers: dict[str, str], method: str, deadline: float,
            max_bytes: int) -> tuple[int, str, bytes]:
    """Send one request; return ``(status, content type, body)`` once the whole body is in.

    Args:
        url: the endpoint.
        data: the request body.
        headers: request headers.
        method: HTTP method.
        deadline: ``time.monotonic()`` value by which the whole answer must be read.
        max_bytes: largest body accepted.

    Raises:
        DeadlineExceeded: the deadline passed (connecting, waiting or reading).
        TooLarge: the body is larger than ``max_bytes``.
        urllib.error.HTTPError, urllib.error.URLError, OSError: as ``urllib`` raises them.
    """
    remaining = deadline - time.monotonic()
    if remaining <= 0:
        raise DeadlineExceeded()
    dog = _Watchdog(deadline)
    opener = urllib.request.build_opener(_HTTP(dog), _HTTPS(dog))
    req = urllib.request.Request(url, data=data, headers=headers, method=method)
    try:
        try:
            resp = opener.open(req, timeout=remaining)
        except (OSError, http.client.HTTPException) as e:
            if dog.fired or time.monotonic() >= deadline:
                raise DeadlineExceeded() from None
            if isinstance(e, http.client.HTTPException):
                raise ConnectionError(type(e).__name__) from None
            raise
        with resp:
            length = resp.headers.get("Content-Length")
            if length and length.strip().isdigit() and int(length) > max_bytes:
                raise TooLarge(int(length))
            body = bytearray()
            while True:
                try:
                    chunk = resp.read1(_CHUNK)
                except (OSError, http.client.HTTPException, ValueError):
                    if dog.fired or time.monotonic() >= deadline:
                        raise DeadlineExceeded() from None
                    raise
                if dog.fired:
                    raise DeadlineExceeded()
                if not chunk:
                    break
                body += chunk
                if len(body) > max_bytes:
                    raise TooLarge(len(body))
            if dog.fired:  # the socket was shut mid-answer: what was read is not the whole body
                raise DeadlineExceeded()
            return resp.status, resp.headers.get("Content-Type", ""), bytes(body)
    finally:
        dog.cancel()


__all__ = ["DeadlineExceeded", "TooLarge", "request"]
