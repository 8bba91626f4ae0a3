"""The stub LLM server's replies: what one scripted reply is, its constructors, and responders' answers as replies."""

from __future__ import annotations

import json
from dataclasses import dataclass
from typing import Any, Callable, Literal

__all__ = ["ReplyKind", "Responder", "StubReply", "disconnect", "error", "malformed", "ok", "timeout", "truncated"]

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
