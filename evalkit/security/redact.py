"""Error text that never carries patient text.

What a backend says when it fails (a program's stderr, an HTTP reason phrase or body, a cloud
job's failure reason, an exception raised inside a plugin) may quote the transcript or the
note it was given. evalkit never stores or logs that free text: a failed session's error holds
what evalkit itself knows — the backend, an exit status or HTTP status, sizes, where in the code
an exception was raised — and a SHA-256 digest of the free text, so two failures can be told
apart or matched to the backend's own logs without the text leaving the backend.
"""

from __future__ import annotations

import hashlib
import http
import traceback
from pathlib import Path

from ..errors import InputError, ScribeError


def digest(data: bytes | str) -> str:
    """First 12 hex digits of the SHA-256 of ``data`` (text is taken as UTF-8)."""
    if isinstance(data, str):
        data = data.encode("utf-8", "surrogatepass")
    return hashlib.sha256(data).hexdigest()[:12]


def sized(what: str, data: bytes | str | None = None, *, size: int | None = None, sha: str | None = None) -> str:
    """``stderr 2,345 bytes, sha256 0123456789ab`` (or ``stderr empty``): free text described, never quoted.

    Args:
        what: what the text is (``stderr``, ``body``, ``reason``).
        data: the text itself (only its size and digest are used).
        size: its size, when the caller kept only that.
        sha: its digest, when the caller kept only that.
    """
    if data is not None:
        size = len(data.encode("utf-8", "surrogatepass") if isinstance(data, str) else data)
        sha = digest(data)
    if not size:
        return f"{what} empty"
    return f"{what} {size:,} bytes, sha256 {sha}"


def http_status(code: int) -> str:
    """``HTTP 422 Unprocessable Entity``: the standard phrase, never the server's own reason text."""
    try:
        return f"HTTP {code} {http.HTTPStatus(code).phrase}"
    except ValueError:
        return f"HTTP {code}"


def _raised_at(e: BaseException) -> str:
    last = None
    for frame, lineno in traceback.walk_tb(e.__traceback__):  # the innermost frame: where it was raised
        last = (frame.f_code.co_filename, lineno)
    return f" at {Path(last[0]).name}:{last[1]}" if last else ""


def error_text(e: BaseException) -> str:
    """One line for a failed session's ``error``: evalkit's own message, or a description of a foreign one.

    :class:`~evalkit.errors.InputError` and backend errors raised by evalkit (``ScribeError``) are
    worded by evalkit and never quote data, so they are kept. Any other exception (a plugin's, a
    library's) may carry data in its message: only its type, where it was raised, and the
    message's size and digest are kept.

    Args:
        e: the exception.
    """
    if isinstance(e, (InputError, ScribeError)):
        return " ".join(str(e).split())
    msg = str(e)
    what = f"{type(e).__name__}{_raised_at(e)}"
    if not msg:
        return what
    return f"{what} ({sized('message', msg)}; not stored: it may quote the case)"


__all__ = ["digest", "error_text", "http_status", "sized"]
