"""What a provider's reply says about its rate limits: ``Retry-After`` and the ``x-ratelimit-*`` family.

Read from every reply, refused or not, by :mod:`evalkit.llm.ratelimit`. Formats seen in practice:

- ``retry-after``: seconds (``"2"``, ``"0.5"``) or an HTTP date; ``retry-after-ms`` (OpenAI,
  Azure): milliseconds. The larger of the two wins when both are sent.
- OpenAI and the servers that copy it (vLLM gateways, LiteLLM proxy, Azure, Groq, Together):
  ``x-ratelimit-limit-requests`` / ``-tokens`` (per minute), ``x-ratelimit-remaining-requests`` /
  ``-tokens``, ``x-ratelimit-reset-requests`` / ``-tokens`` as a duration (``"1s"``, ``"6m0s"``,
  ``"20ms"``, ``"1h2m3.5s"``, or plain seconds).
- Anthropic: ``anthropic-ratelimit-requests-limit`` / ``-remaining`` / ``-reset`` (an RFC 3339
  time), the same for ``tokens``, ``input-tokens`` and ``output-tokens``.

Unparseable values are ignored (a proxy mangling a header must not stop a run).
"""

from __future__ import annotations

import re
import time
from dataclasses import dataclass
from datetime import datetime, timezone
from email.utils import parsedate_to_datetime
from typing import Mapping

_DURATION = re.compile(r"(\d+(?:\.\d+)?)(ms|h|m|s)")


def parse_duration(value: str | None) -> float | None:
    """Seconds from ``"1s"``, ``"6m0s"``, ``"20ms"``, ``"1h2m3.5s"`` or ``"2.5"``; None if unreadable."""
    if value is None:
        return None
    v = value.strip().lower()
    try:
        return max(0.0, float(v))
    except ValueError:
        pass
    parts = _DURATION.findall(v)
    if not parts or "".join(a + b for a, b in parts) != v.replace(" ", ""):
        return None
    scale = {"ms": 0.001, "s": 1.0, "m": 60.0, "h": 3600.0}
    return sum(float(a) * scale[b] for a, b in parts)


def _seconds_until(value: str | None, now_wall: float) -> float | None:
    """Seconds from now until an RFC 3339 / HTTP date, or a duration/number of seconds."""
    if value is None:
        return None
    d = parse_duration(value)
    if d is not None:
        return d
    for parse in (lambda s: datetime.fromisoformat(s.replace("Z", "+00:00")), parsedate_to_datetime):
        try:
            t = parse(value.strip())
        except (ValueError, TypeError, IndexError):
            continue
        if t.tzinfo is None:
            t = t.replace(tzinfo=timezone.utc)
        return max(0.0, t.timestamp() - now_wall)
    return None


def _number(value: str | None) -> float | None:
    if value is None:
        return None
    try:
        n = float(value.strip())
    except ValueError:
        return None
    return n if n >= 0 else None


@dataclass(frozen=True)
class LimitSignal:
    """The limit-related facts in one reply (None: the reply did not say)."""

    retry_after: float | None = None  # seconds to wait before the next request
    limit_requests: float | None = None  # per minute
    limit_tokens: float | None = None  # per minute
    remaining_requests: float | None = None
    remaining_tokens: float | None = None
    reset_requests: float | None = None  # seconds until the request allowance is whole again
    reset_tokens: float | None = None

    @property
    def empty(self) -> bool:
        return all(v is None for v in self.__dict__.values())


_FAMILIES = (  # (limit, remaining, reset) header names, per kind
    ("requests", "x-ratelimit-limit-requests", "x-ratelimit-remaining-requests", "x-ratelimit-reset-requests"),
    ("tokens", "x-ratelimit-limit-tokens", "x-ratelimit-remaining-tokens", "x-ratelimit-reset-tokens"),
    ("requests", "anthropic-ratelimit-requests-limit", "anthropic-ratelimit-requests-remaining",
     "anthropic-ratelimit-requests-reset"),
    ("tokens", "anthropic-ratelimit-tokens-limit", "anthropic-ratelimit-tokens-remaining",
     "anthropic-ratelimit-tokens-reset"),
    ("tokens", "anthropic-ratelimit-input-tokens-limit", "anthropic-ratelimit-input-tokens-remaining",
     "anthropic-ratelimit-input-tokens-reset"),
)


def read_signal(headers: Mapping[str, str] | None, now_wall: float | None = None) -> LimitSignal:
    """The :class:`LimitSignal` in a reply's headers (names in any case)."""
    if not headers:
        return LimitSignal()
    h = {str(k).lower(): str(v) for k, v in headers.items()}
    now_wall = time.time() if now_wall is None else now_wall
    waits = [w for w in (_seconds_until(h.get("retry-after"), now_wall),
                         (_number(h.get("retry-after-ms")) or 0) / 1000 if "retry-after-ms" in h else None)
             if w is not None]
    got: dict[str, float | None] = {"retry_after": max(waits) if waits else None}
    for kind, lim, rem, reset in _FAMILIES:
        if f"limit_{kind}" in got and got[f"limit_{kind}"] is not None:
            continue  # the first family present wins (OpenAI's before Anthropic's)
        if lim not in h and rem not in h:
            continue
        got[f"limit_{kind}"] = _number(h.get(lim))
        got[f"remaining_{kind}"] = _number(h.get(rem))
        got[f"reset_{kind}"] = _seconds_until(h.get(reset), now_wall)
    return LimitSignal(**got)  # type: ignore[arg-type]
