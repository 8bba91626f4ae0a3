"""Reading JSON written by someone else: bounded nesting, and text that can always be stored.

JSON may hold a lone surrogate escape (``"better \\ud83d."``: what a JavaScript export that cut
an emoji in half writes). Python reads it into a string that cannot be encoded as UTF-8, so
it could not be stored, hashed or written out. :func:`loads` repairs such text as it is read:
each lone surrogate becomes U+FFFD (�, the visible "replacement character") and the caller is
told how many were replaced, so it can say so. A document nested deeper than
:data:`~evalkit.security.limits.MAX_JSON_DEPTH` is refused with an :class:`~evalkit.errors.InputError`
instead of a ``RecursionError``.
"""

from __future__ import annotations

import json
import re
from typing import Any

from ..errors import InputError
from .limits import MAX_JSON_DEPTH

_SURROGATE = re.compile("[\ud800-\udfff]")


def repair_text(s: str) -> tuple[str, int]:
    """``s`` with each lone surrogate replaced by U+FFFD (a valid pair is joined); and how many were replaced.

    Args:
        s: any string.
    """
    if s.isascii() or not _SURROGATE.search(s):
        return s, 0
    fixed = s.encode("utf-16", "surrogatepass").decode("utf-16", "replace")
    return fixed, fixed.count("\ufffd") - s.count("\ufffd")


def _too_deep(source: str, field: str | None, max_depth: int) -> InputError:
    return InputError(source, field, f"JSON is nested deeper than {max_depth} levels",
                      "flatten the JSON (evalkit reads at most "
                      f"{max_depth} levels of nested objects and lists)")


def repair(obj: Any, source: str = "JSON", field: str | None = None,
           max_depth: int = MAX_JSON_DEPTH) -> tuple[Any, int]:
    """Repair every string (keys too) in parsed JSON and check its nesting; returns ``(obj, repaired)``.

    Containers are repaired in place. Iterative: any depth is measured without recursion.

    Args:
        obj: parsed JSON (dicts, lists, strings, numbers, None).
        source: names the file or backend in an error.
        field: names the line or field in an error.
        max_depth: deepest nesting accepted.

    Raises:
        InputError: nested deeper than ``max_depth``.
    """
    if isinstance(obj, str):
        return repair_text(obj)
    if not isinstance(obj, (dict, list)):
        return obj, 0
    n = 0
    stack: list[tuple[Any, int]] = [(obj, 1)]
    while stack:
        node, depth = stack.pop()
        if depth > max_depth:
            raise _too_deep(source, field, max_depth)
        if isinstance(node, dict):
            bad_keys = [k for k in node if isinstance(k, str) and not k.isascii() and _SURROGATE.search(k)]
            for k in bad_keys:
                fixed, m = repair_text(k)
                node[fixed] = node.pop(k)
                n += m
        # values are replaced in place (no key is added or removed while iterating)
        slot: Any
        for slot, v in (node.items() if isinstance(node, dict) else enumerate(node)):
            if isinstance(v, str):
                if not v.isascii():
                    fixed, m = repair_text(v)
                    if m:
                        node[slot], n = fixed, n + m
            elif isinstance(v, (dict, list)):
                stack.append((v, depth + 1))
    return obj, n


def loads(text: str | bytes, source: str = "JSON", field: str | None = None,
          max_depth: int = MAX_JSON_DEPTH) -> tuple[Any, int]:
    """``json.loads`` for untrusted text: nesting bounded, lone surrogates repaired.

    Returns ``(value, repaired)``: the parsed value and how many lone surrogates became U+FFFD.

    Args:
        text: the JSON text (bytes are read as UTF-8).
        source: names the file or backend in an error.
        field: names the line or field in an error.
        max_depth: deepest nesting accepted.

    Raises:
        json.JSONDecodeError: not JSON (as ``json.loads``; callers word their own message).
        UnicodeDecodeError: bytes that are not UTF-8.
        InputError: nested deeper than ``max_depth``.
    """
    try:
        value = json.loads(text)
    except RecursionError:
        raise _too_deep(source, field, max_depth) from None
    return repair(value, source, field, max_depth)


def repaired_note(n: int) -> str:
    """What to tell a user about ``n`` repaired characters (no text quoted)."""
    return (f"{n} lone surrogate{'s' if n != 1 else ''} (half an emoji) replaced with U+FFFD (�)")


__all__ = ["loads", "repair", "repair_text", "repaired_note"]
