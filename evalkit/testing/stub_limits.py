"""Rate limits for the stub LLM server, metered the way providers meter them.

A :class:`RateGate` holds two token buckets — requests per second and tokens per minute — each
holding ``window`` seconds' worth (default one second, so a 10 req/s limit allows a burst of
10). A request is admitted when both buckets have room; its tokens are counted as OpenAI counts
them at admission (prompt characters / 4 + ``max_tokens``). A refused request gets HTTP 429 with
``Retry-After`` (whole seconds, rounded up, as the HTTP standard writes it — or exact
``retry-after-ms`` too with ``ms=1``), and with ``headers=1`` every reply carries OpenAI's
``x-ratelimit-limit/remaining/reset-requests`` and ``-tokens``.

``parse_gate("rps=10")``, ``parse_gate("tpm=60000,headers=1")``: the form ``StubLLM.spawn(gate=...)``
and ``python -m evalkit.testing.stub_llm --gate`` take.
"""

from __future__ import annotations

import math
import threading
import time
from typing import Any

from ..llm.ratelimit import estimate_tokens


class _Bucket:
    def __init__(self, rate: float, capacity: float):
        self.rate, self.capacity = rate, capacity
        self.level = capacity
        self.t = time.monotonic()

    def refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.t) * self.rate)
        self.t = now

    def wait_for(self, amount: float) -> float:
        """Seconds until ``amount`` fits (0 if it fits now)."""
        return max(0.0, (min(amount, self.capacity) - self.level) / self.rate)


def request_tokens(req: dict) -> int:
    """A request's tokens at admission, counted as the client estimates them
    (:func:`evalkit.llm.ratelimit.estimate_tokens`: prompt characters / 4 + max_tokens)."""
    messages = [m for m in req.get("messages") or [] if isinstance(m, dict)]
    return estimate_tokens(messages, int(req.get("max_tokens") or req.get("max_completion_tokens") or 0))


class RateGate:
    """Requests-per-second and tokens-per-minute limits (either may be None)."""

    def __init__(self, rps: float | None = None, tpm: float | None = None, *, window: float = 1.0,
                 headers: bool = False, ms: bool = False):
        self.req = _Bucket(rps, rps * window) if rps else None
        self.tok = _Bucket(tpm / 60.0, tpm / 60.0 * window) if tpm else None
        self.rps, self.tpm, self.headers, self.ms = rps, tpm, headers, ms
        self.admitted = self.refused = 0
        self._lock = threading.Lock()

    def check(self, req: dict) -> tuple[int | None, dict[str, str]]:
        """``(None, headers)`` to answer the request, or ``(429, headers)`` to refuse it."""
        need = request_tokens(req) if self.tok else 0
        with self._lock:
            now = time.monotonic()
            wait = 0.0
            for b, amount in ((self.req, 1.0), (self.tok, float(need))):
                if b is not None:
                    b.refill(now)
                    wait = max(wait, b.wait_for(amount))
            if wait > 0:
                self.refused += 1
                h = self._limit_headers()
                h["retry-after"] = str(max(1, math.ceil(wait)))
                if self.ms:
                    h["retry-after-ms"] = str(max(1, math.ceil(wait * 1000)))
                return 429, h
            if self.req is not None:
                self.req.level -= 1
            if self.tok is not None:
                self.tok.level -= min(need, self.tok.capacity)
            self.admitted += 1
            return None, self._limit_headers()

    def _limit_headers(self) -> dict[str, str]:
        if not self.headers:
            return {}
        h: dict[str, str] = {}
        for kind, b, per_min in (("requests", self.req, self.rps and self.rps * 60), ("tokens", self.tok, self.tpm)):
            if b is None:
                continue
            h[f"x-ratelimit-limit-{kind}"] = str(int(per_min or 0))
            h[f"x-ratelimit-remaining-{kind}"] = str(max(0, int(b.level)))
            h[f"x-ratelimit-reset-{kind}"] = f"{max(0.0, (b.capacity - b.level) / b.rate) * 1000:.0f}ms"
        return h


def parse_gate(spec: str | None) -> RateGate | None:
    """A gate from ``"rps=10,tpm=60000,window=1,headers=1,ms=0"`` (None or "" for none).

    Raises:
        ValueError: an unknown or unreadable setting.
    """
    if not spec:
        return None
    kw: dict[str, Any] = {}
    for part in spec.split(","):
        k, sep, v = part.strip().partition("=")
        if not sep or k not in ("rps", "tpm", "window", "headers", "ms"):
            raise ValueError(f"stub gate: {part!r} is not one of rps=, tpm=, window=, headers=, ms=")
        kw[k] = bool(int(v)) if k in ("headers", "ms") else float(v)
    rps, tpm = kw.pop("rps", None), kw.pop("tpm", None)
    return RateGate(rps, tpm, **kw)
