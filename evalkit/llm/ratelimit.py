"""Pacing model calls to a provider's limits: requests and tokens per minute, per model.

Hosted models and hospital gateways allow so many requests (RPM) and tokens (TPM) per minute
and refuse the rest with HTTP 429. Every LLM call evalkit makes (judge, jury, PDQI-9, the ``llm``
scribe, generation, calibration) asks :func:`limiter_for` for its model's :class:`RateLimiter`
before it is sent, so all of them — and the worker processes of ``--processes N`` — share one
allowance per model (``model`` + ``api_base``).

How it paces:

- **Configured limits** (``rpm``/``tpm`` on the model spec, in a suite, or ``--rpm``/``--tpm``):
  requests leave evenly spaced (a generic cell-rate algorithm: one request every ``60/rpm``
  seconds; each request's tokens — its prompt estimated at 4 characters a token plus
  ``max_tokens``, as OpenAI counts them at admission — spread at ``tpm/60`` a second). After the
  reply the real usage replaces the estimate when it is larger.
- **What the server says**, on every reply: ``Retry-After`` (or ``retry-after-ms``) pauses every
  call to that model for exactly that long; ``x-ratelimit-remaining-*: 0`` pauses until the
  matching ``x-ratelimit-reset-*``; ``x-ratelimit-limit-requests``/``-tokens`` (per minute) set the
  pace when none was configured (Anthropic's ``anthropic-ratelimit-*`` likewise;
  :mod:`evalkit.llm.limit_headers`).
- **Nothing known** (no setting, no limit headers): calls go as fast as ``concurrency`` allows
  until the first 429. Then the pace is set just under the rate the server was accepting, rises
  slowly while calls succeed, never past the rate that was refused (which itself creeps up ~3 %
  a minute, so a raised quota is found again), and drops again on the next refusal.

The state of every model lives in one small table of floats: in a single process a plain list;
for worker processes a ``multiprocessing`` array created by the parent (:func:`share_table`)
so the workers pace together. ``time.monotonic`` is system-wide on Linux, so the workers' clocks
agree.
"""

from __future__ import annotations

import asyncio
import math
import multiprocessing as mp
import threading
import time
import zlib
from typing import Any, Iterable

from .limit_headers import LimitSignal, read_signal

SLOTS = 64  # models tracked at once
(_KEY, _RATE_R, _RATE_T, _TAT_R, _TAT_T, _BLOCKED, _SRC_R, _SRC_T, _CEIL, _LAST_CUT, _LAST_OK, _WIN_START,
 _WIN_SENT, _PREV_RATE, _REFUSED, _WAITED, _WIN_REFUSED) = range(17)
WIDTH = 20
# sources of a rate, in order of authority (a lower source never overrides a higher one)
NONE, LEARNED, HEADER, CONFIGURED = 0.0, 1.0, 2.0, 3.0
CUT = 0.9  # after a refusal with no limit known: this share of the rate the server was accepting
RISE = 0.02  # then the pace rises by this share a second while calls succeed...
UNDER = 0.97  # ...up to this share of the rate that was refused,
CREEP = 0.0005  # which itself rises by this share a second (≈ 3 % a minute)
MIN_RATE = 0.05  # requests a second: never slower than one every 20 s


class _LocalTable:
    """The table in this process only."""

    def __init__(self) -> None:
        self.values = [0.0] * (SLOTS * WIDTH)
        self.lock = threading.Lock()


class _SharedTable:
    """The table in shared memory, for a parent and its worker processes (picklable to them)."""

    def __init__(self, ctx: Any = None) -> None:
        ctx = ctx or mp.get_context()
        self.lock = ctx.Lock()
        self.values = ctx.RawArray("d", SLOTS * WIDTH)


_TABLE: Any = _LocalTable()
_LIMITERS: dict[tuple[str, str], "RateLimiter"] = {}  # on the current table (emptied when it changes)
_DEFAULTS: dict[str, float | None] = {"rpm": None, "tpm": None}


def share_table(ctx: Any = None) -> _SharedTable:
    """Move this process's pacing state into shared memory and return it: give it to worker
    processes (:func:`install_table`) so they pace together with this one."""
    global _TABLE
    if isinstance(_TABLE, _SharedTable):
        return _TABLE
    shared = _SharedTable(ctx)
    with _TABLE.lock:
        shared.values[:] = _TABLE.values
    _TABLE = shared
    _LIMITERS.clear()
    return shared


def install_table(table: Any) -> None:
    """Use a table shared by the parent process (in a worker's initializer)."""
    global _TABLE
    _TABLE = table
    _LIMITERS.clear()


def set_default_limits(rpm: float | None = None, tpm: float | None = None) -> None:
    """Limits for every model whose spec sets none (``--rpm``/``--tpm`` on the command line)."""
    _DEFAULTS.update(rpm=rpm, tpm=tpm)


def default_limits() -> tuple[float | None, float | None]:
    return _DEFAULTS["rpm"], _DEFAULTS["tpm"]


def estimate_tokens(messages: Iterable[dict], max_tokens: int) -> int:
    """A request's tokens as providers count them at admission: prompt characters / 4 + max_tokens."""
    chars = 0
    for m in messages:
        c = m.get("content")
        if isinstance(c, str):
            chars += len(c)
        elif isinstance(c, list):  # content parts
            chars += sum(len(p.get("text") or "") for p in c if isinstance(p, dict))
    return math.ceil(chars / 4) + int(max_tokens)


def limiter_for(spec: Any) -> "RateLimiter":
    """The process's limiter for ``spec``'s model and server (configured from its ``rpm``/``tpm``,
    else the command-line defaults)."""
    rpm = getattr(spec, "rpm", None) or _DEFAULTS["rpm"]
    tpm = getattr(spec, "tpm", None) or _DEFAULTS["tpm"]
    key = (spec.model, spec.api_base or "")
    lim = _LIMITERS.get(key)
    if lim is None:
        lim = _LIMITERS[key] = RateLimiter(f"{spec.model}@{spec.api_base or ''}", _TABLE)
    lim.configure(rpm, tpm)
    return lim


class RateLimiter:
    """One model's pace (see the module docstring). Async callers use :meth:`acquire` before a
    call and :meth:`observe` after it."""

    def __init__(self, name: str, table: Any = None):
        self.table = table if table is not None else _TABLE
        self.name = name
        self._crc = float(zlib.crc32(name.encode()) + 1)
        self._base = self._slot()
        self._locks: dict[int, asyncio.Lock] = {}  # per event loop: callers wait their turn in order
        self._configured: tuple[float | None, float | None] = (None, None)

    def _slot(self) -> int:
        v = self.table.values
        with self.table.lock:
            start = int(self._crc) % SLOTS
            for k in range(SLOTS):
                base = ((start + k) % SLOTS) * WIDTH
                if v[base + _KEY] in (0.0, self._crc):
                    v[base + _KEY] = self._crc
                    return base
        raise RuntimeError(f"more than {SLOTS} models paced at once")

    # ------------------------------------------------------------------ settings

    def configure(self, rpm: float | None, tpm: float | None) -> None:
        """Set the configured limits (per minute; None: not configured)."""
        if (rpm, tpm) == self._configured:
            return
        self._configured = (rpm, tpm)
        v, b = self.table.values, self._base
        with self.table.lock:
            for rate, src, per_min in ((_RATE_R, _SRC_R, rpm), (_RATE_T, _SRC_T, tpm)):
                if per_min:
                    v[b + rate], v[b + src] = per_min / 60.0, CONFIGURED
                elif v[b + src] == CONFIGURED:
                    v[b + rate], v[b + src] = 0.0, NONE

    def snapshot(self) -> dict[str, float]:
        """The pace now: requests and tokens per minute (0 = none), their sources, refusals seen,
        seconds calls spent waiting (summed over calls), and how long calls are paused for."""
        v, b = self.table.values, self._base
        with self.table.lock:
            return {"rpm": v[b + _RATE_R] * 60, "tpm": v[b + _RATE_T] * 60, "rpm_source": v[b + _SRC_R],
                    "tpm_source": v[b + _SRC_T], "refused": v[b + _REFUSED], "waited_s": v[b + _WAITED],
                    "paused_s": max(0.0, v[b + _BLOCKED] - time.monotonic())}

    # ------------------------------------------------------------------ before a call

    async def acquire(self, tokens: int = 0) -> float:
        """Wait until a request of ``tokens`` may leave; returns the seconds waited."""
        first = self.reserve(time.monotonic(), tokens)
        if first <= 0:
            return 0.0
        loop = asyncio.get_running_loop()
        lock = self._locks.get(id(loop))
        if lock is None:
            lock = self._locks[id(loop)] = asyncio.Lock()
        t0 = time.monotonic()
        async with lock:  # one waiter at a time, first come first served
            wait = self.reserve(time.monotonic(), tokens)  # (``first`` may be stale by now)
            while wait > 0:
                await asyncio.sleep(min(wait, 5.0))  # re-checked: a pause may be lifted or extended
                wait = self.reserve(time.monotonic(), tokens)
        waited = time.monotonic() - t0
        with self.table.lock:
            self.table.values[self._base + _WAITED] += waited
        return waited

    def reserve(self, now: float, tokens: int = 0) -> float:
        """Take the next place in the pace if it has come (returns 0), else the seconds to wait."""
        v, b = self.table.values, self._base
        with self.table.lock:
            if v[b + _BLOCKED] > now:
                return v[b + _BLOCKED] - now
            rr, rt = v[b + _RATE_R], v[b + _RATE_T]
            if rr > 0 and v[b + _TAT_R] > now:
                return v[b + _TAT_R] - now
            if rt > 0 and tokens and v[b + _TAT_T] > now:
                return v[b + _TAT_T] - now
            if rr > 0:
                v[b + _TAT_R] = max(v[b + _TAT_R], now) + 1.0 / rr
            if rt > 0 and tokens:
                v[b + _TAT_T] = max(v[b + _TAT_T], now) + tokens / rt
            _roll(v, b, now)
            v[b + _WIN_SENT] += 1
            return 0.0

    # ------------------------------------------------------------------ after a call

    def observe(self, headers: Any, refused: bool, *, estimated: int = 0, used: int | None = None,
                now: float | None = None) -> LimitSignal:
        """Learn from a reply: its limit headers, whether it was a refusal (429), and its real token
        use (``used``) against what was reserved (``estimated``). Returns what the headers said."""
        now = time.monotonic() if now is None else now
        sig = read_signal(headers)
        v, b = self.table.values, self._base
        with self.table.lock:
            if used is not None and used > estimated and v[b + _RATE_T] > 0:
                v[b + _TAT_T] += (used - estimated) / v[b + _RATE_T]  # the reply used more than reserved
            for rate, src, limit in ((_RATE_R, _SRC_R, sig.limit_requests), (_RATE_T, _SRC_T, sig.limit_tokens)):
                if limit and v[b + src] < CONFIGURED:
                    v[b + rate], v[b + src] = limit / 60.0, HEADER
            pause = 0.0
            if sig.remaining_requests is not None and sig.remaining_requests < 1 and sig.reset_requests:
                pause = sig.reset_requests
            if sig.remaining_tokens is not None and sig.reset_tokens and sig.remaining_tokens < max(estimated, 1):
                pause = max(pause, sig.reset_tokens)
            if refused:
                v[b + _REFUSED] += 1
                pause = max(pause, sig.retry_after or 0.0)
                if v[b + _SRC_R] <= LEARNED and sig.limit_requests is None and sig.limit_tokens is None:
                    self._cut(v, b, now)
                else:
                    _roll(v, b, now)
                    v[b + _WIN_REFUSED] += 1
            else:
                self._accepted(v, b, now)
            if pause > 0:
                v[b + _BLOCKED] = max(v[b + _BLOCKED], now + pause)
        return sig

    def pause(self, seconds: float, now: float | None = None) -> None:
        """Pause every call to this model for ``seconds`` (a refusal that named no wait)."""
        now = time.monotonic() if now is None else now
        with self.table.lock:
            b = self._base
            self.table.values[b + _BLOCKED] = max(self.table.values[b + _BLOCKED], now + seconds)

    def _accepted(self, v: Any, b: int, now: float) -> None:
        if v[b + _SRC_R] == LEARNED:  # rise slowly while calls succeed, under the refused rate
            dt = min(now - v[b + _LAST_OK], 1.0) if v[b + _LAST_OK] else 0.0
            v[b + _CEIL] *= 1 + CREEP * dt
            v[b + _RATE_R] = min(v[b + _RATE_R] * (1 + RISE * dt), UNDER * v[b + _CEIL])
        v[b + _LAST_OK] = now

    def _cut(self, v: Any, b: int, now: float) -> None:
        """A refusal with no limit known: pace just under what the server was accepting — the
        requests sent in the last ~10 s less those refused, a second at least."""
        _roll(v, b, now)
        v[b + _WIN_REFUSED] += 1
        span = now - v[b + _WIN_START]
        accepting = max(v[b + _WIN_SENT] - v[b + _WIN_REFUSED], 0.0) / max(span, 1.0)
        if span < 1.0 and v[b + _PREV_RATE]:
            accepting = min(accepting, v[b + _PREV_RATE])
        if v[b + _SRC_R] != LEARNED and v[b + _WIN_SENT] - v[b + _WIN_REFUSED] < 2:
            return  # too little seen to tell a rate: the pause alone (Retry-After or backoff) acts
        same_burst = v[b + _SRC_R] == LEARNED and now - v[b + _LAST_CUT] < 1.0
        if v[b + _SRC_R] == LEARNED and not same_burst:  # refused again while paced: lower still
            accepting = min(accepting, v[b + _RATE_R])
        ceiling = max(accepting, MIN_RATE / CUT)
        v[b + _CEIL] = ceiling
        v[b + _RATE_R] = CUT * ceiling
        v[b + _SRC_R] = LEARNED
        if not same_burst:
            v[b + _LAST_CUT] = now


def _roll(v: Any, b: int, now: float) -> None:
    """Start a new ~10 s window of sent and refused counts when the current one is over."""
    if v[b + _WIN_START] == 0.0:
        v[b + _WIN_START] = now
    elif now - v[b + _WIN_START] >= 10.0:
        span = now - v[b + _WIN_START]
        v[b + _PREV_RATE] = max(v[b + _WIN_SENT] - v[b + _WIN_REFUSED], 0.0) / span
        v[b + _WIN_START], v[b + _WIN_SENT], v[b + _WIN_REFUSED] = now, 0.0, 0.0
