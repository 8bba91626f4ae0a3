"""One HTTP request (httpx) under a total deadline, with the answer's size bounded.

A per-operation timeout bounds each socket operation, not the request: a server that sends one
byte every half second never trips it. Here every socket operation httpx makes — connecting,
TLS, each write and each read — is given the time left before the deadline (an httpcore network
backend that clamps its timeouts), so the whole request ends at the deadline at the latest and
fails as timed out. The answer is read in chunks and refused once it passes ``max_bytes`` (or at
once, when its ``Content-Length`` says it would). Bodies, multipart forms included, are encoded by
httpx (:func:`encode_multipart`).
"""

from __future__ import annotations

import logging
import ssl
import threading
import time
import urllib.request
from typing import Any

import httpcore
import httpx

_CHUNK = 1 << 16

# httpx logs each request's status line at INFO and httpcore each header at DEBUG: a server's reason
# phrase or headers may quote the case, and case text stays out of logs (set a level to see them).
for _name in ("httpx", "httpcore"):
    if logging.getLogger(_name).level == logging.NOTSET:
        logging.getLogger(_name).setLevel(logging.WARNING)


class DeadlineExceeded(TimeoutError):
    """The request did not complete before its deadline."""


class TooLarge(Exception):
    """The answer is larger than allowed (``size``: bytes announced or read so far)."""

    def __init__(self, size: int):
        super().__init__(size)
        self.size = size


class _DeadlineStream(httpcore.NetworkStream):
    """A network stream whose every operation waits at most until the deadline."""

    def __init__(self, stream: httpcore.NetworkStream, deadline: float):
        self._stream, self._deadline = stream, deadline

    def _left(self, timeout: float | None, exc: type[Exception]) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise exc("deadline passed")
        return left if timeout is None else min(timeout, left)

    def read(self, max_bytes: int, timeout: float | None = None) -> bytes:
        return self._stream.read(max_bytes, self._left(timeout, httpcore.ReadTimeout))

    def write(self, buffer: bytes, timeout: float | None = None) -> None:
        self._stream.write(buffer, self._left(timeout, httpcore.WriteTimeout))

    def close(self) -> None:
        self._stream.close()

    def start_tls(self, ssl_context: ssl.SSLContext, server_hostname: str | None = None,
                  timeout: float | None = None) -> httpcore.NetworkStream:
        tls = self._stream.start_tls(ssl_context, server_hostname, self._left(timeout, httpcore.ConnectTimeout))
        return _DeadlineStream(tls, self._deadline)

    def get_extra_info(self, info: str) -> Any:
        return self._stream.get_extra_info(info)


class _DeadlineBackend(httpcore.NetworkBackend):
    """httpcore's blocking sockets, each operation bounded by the time left before ``deadline``."""

    def __init__(self, deadline: float):
        self._backend = httpcore.SyncBackend()
        self._deadline = deadline

    def _left(self, timeout: float | None) -> float:
        left = self._deadline - time.monotonic()
        if left <= 0:
            raise httpcore.ConnectTimeout("deadline passed")
        return left if timeout is None else min(timeout, left)

    def connect_tcp(self, host: str, port: int, timeout: float | None = None, local_address: str | None = None,
                    socket_options: Any = None) -> httpcore.NetworkStream:
        return _DeadlineStream(self._backend.connect_tcp(host, port, self._left(timeout), local_address,
                                                         socket_options), self._deadline)

    def connect_unix_socket(self, path: str, timeout: float | None = None,
                            socket_options: Any = None) -> httpcore.NetworkStream:  # pragma: no cover - no uds option
        return _DeadlineStream(self._backend.connect_unix_socket(path, self._left(timeout), socket_options),
                               self._deadline)

    def sleep(self, seconds: float) -> None:  # pragma: no cover - httpcore retries are off
        self._backend.sleep(seconds)


_SSL: ssl.SSLContext | None = None
_SSL_LOCK = threading.Lock()


def _ssl_context() -> ssl.SSLContext:
    """httpx's default verifying context, made once (loading the CA bundle takes milliseconds)."""
    global _SSL
    with _SSL_LOCK:
        if _SSL is None:
            _SSL = httpx.create_ssl_context()
        return _SSL


class _DeadlineTransport(httpx.HTTPTransport):
    """httpx's transport over :class:`_DeadlineBackend` (through the environment's proxy for
    the URL, as urllib would, when one is set)."""

    def __init__(self, url: str, deadline: float):
        ctx = _ssl_context()
        super().__init__(verify=ctx, retries=0)
        backend = _DeadlineBackend(deadline)
        proxy = _env_proxy(url)
        if proxy is None:
            self._pool = httpcore.ConnectionPool(ssl_context=ctx, retries=0, network_backend=backend)
        else:
            p = httpx.Proxy(proxy)
            self._pool = httpcore.HTTPProxy(
                proxy_url=httpcore.URL(scheme=p.url.raw_scheme, host=p.url.raw_host, port=p.url.port,
                                       target=p.url.raw_path),
                proxy_auth=p.raw_auth, proxy_headers=p.headers.raw, ssl_context=ctx, network_backend=backend)


def _env_proxy(url: str) -> str | None:
    """The ``http_proxy``/``https_proxy`` for ``url`` from the environment, unless ``no_proxy`` covers it."""
    u = httpx.URL(url)
    proxies = urllib.request.getproxies()
    proxy = proxies.get(u.scheme)
    if not proxy or not proxy.startswith(("http://", "https://")) or urllib.request.proxy_bypass(u.host):
        return None
    return proxy


def encode_multipart(fields: dict[str, str], file_field: str, filename: str, data: bytes,
                     content_type: str = "application/octet-stream") -> tuple[bytes, str]:
    """A ``multipart/form-data`` body (form fields and one file part) and its Content-Type, encoded by httpx."""
    req = httpx.Request("POST", "http://localhost/", data=fields, files={file_field: (filename, data, content_type)})
    return req.read(), req.headers["content-type"]


def request(url: str, *, data: bytes, headers: dict[str, str], method: str, deadline: float,
            max_bytes: int) -> tuple[int, str, dict[str, str], bytes]:
    """Send one request; return ``(status, content type, headers, body)`` once the whole body is in.

    Any status is returned (redirects are followed); the body of a status of 400 or more is not
    read (it is returned empty).

    Args:
        url: the endpoint.
        data: the request body.
        headers: request headers (``Accept-Encoding: identity`` unless given: the size limit is
            on what the server sends).
        method: HTTP method.
        deadline: ``time.monotonic()`` value by which the whole answer must be read.
        max_bytes: largest body accepted.

    Raises:
        DeadlineExceeded: the deadline passed (connecting, waiting or reading).
        TooLarge: the body is larger than ``max_bytes``.
        httpx.TransportError: the connection failed or dropped, or the answer is not HTTP.
    """
    if deadline - time.monotonic() <= 0:
        raise DeadlineExceeded()
    headers = {"Accept-Encoding": "identity", **headers}
    try:
        with httpx.Client(transport=_DeadlineTransport(url, deadline), timeout=None, follow_redirects=True,
                          trust_env=False) as client:
            with client.stream(method, url, content=data, headers=headers) as resp:
                out_headers = {k.lower(): v for k, v in resp.headers.items()}
                ctype = resp.headers.get("content-type", "")
                if resp.status_code >= 400:
                    return resp.status_code, ctype, out_headers, b""
                length = resp.headers.get("content-length")
                if length and length.strip().isdigit() and int(length) > max_bytes:
                    raise TooLarge(int(length))
                body = bytearray()
                for chunk in resp.iter_bytes(_CHUNK):
                    body += chunk
                    if len(body) > max_bytes:
                        raise TooLarge(len(body))
                return resp.status_code, ctype, out_headers, bytes(body)
    except httpx.TimeoutException:
        raise DeadlineExceeded() from None


__all__ = ["DeadlineExceeded", "TooLarge", "encode_multipart", "request"]
