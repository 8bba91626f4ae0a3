"""``reference``: the ``rules`` note writer on the true dialogue — the upper bound with no ASR error."""

from __future__ import annotations

from typing import Any

from .base import WriterScribe, register
from .rules import RulesWriter


@register("reference")
def make_reference(**options: Any) -> WriterScribe:
    """Factory for the ``reference`` scribe (needs no audio); options are RulesWriter's arguments."""
    return WriterScribe(RulesWriter(**options), name="reference")
