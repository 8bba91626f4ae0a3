"""A model reply, and the cache key of the request that produced it."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from typing import Any

from .spec import ModelSpec


@dataclass
class LLMReply:
    """A model reply (fresh or from the cache)."""

    content: str
    finish_reason: str = "stop"
    prompt_tokens: int | None = None
    completion_tokens: int | None = None
    cost_usd: float | None = None  # spent by this call: 0 for a cache hit, None when unpriced
    latency_s: float = 0.0
    cached: bool = False
    model: str = ""
    key: str = ""

    @property
    def truncated(self) -> bool:
        return self.finish_reason == "length"


def request_key(spec: ModelSpec, messages: list[dict], response_format: dict | None, prompt_hash: str) -> str:
    """Cache key: ``llm:<model>:<prompt hash>:<input hash>`` (input: messages, response format, and
    the spec's model, server, temperature, max_tokens and params)."""
    h = _key_prefix(spec, response_format).copy()
    for m in messages:
        h.update(f"\x00{m.get('role')}\x00".encode())
        h.update(str(m.get("content")).encode())
    return f"{key_prefix(spec, prompt_hash)}{h.hexdigest()[:32]}"


def key_prefix(spec: ModelSpec, prompt_hash: str) -> str:
    """The part of a cache key shared by every request to one model with one prompt."""
    return f"llm:{spec.model}:{(prompt_hash or '-')[:12]}:"


_PREFIXES: dict[tuple[int, int], tuple[ModelSpec, Any, Any]] = {}


def _key_prefix(spec: ModelSpec, response_format: dict | None) -> Any:
    """sha256 state over the spec identity and response format, memoised per object pair."""
    got = _PREFIXES.get((id(spec), id(response_format)))
    if got is not None and got[0] is spec and got[1] is response_format:
        return got[2]
    h = hashlib.sha256(json.dumps(spec.cache_identity(), sort_keys=True).encode())
    h.update(json.dumps(response_format, sort_keys=True).encode() if response_format is not None else b"-")
    if len(_PREFIXES) > 1024:
        _PREFIXES.clear()
    _PREFIXES[(id(spec), id(response_format))] = (spec, response_format, h)
    return h
