"""Helpers shared by the command modules."""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

#: width of the console when it is not a terminal and COLUMNS is not set (CI logs, pipes, files):
#: rich's default there is 80 columns, which cuts tables
WIDE = 240


class _WideConsole(Console):
    """Not a terminal: at least :data:`WIDE` columns, and a table wider than that gets its natural width."""

    def print(self, *objects: Any, **kwargs: Any) -> None:  # type: ignore[override]
        tables = [o for o in objects if isinstance(o, Table)]
        natural = max((self.measure(t, options=self.options.update_width(10_000)).maximum for t in tables),
                      default=0)
        if natural <= WIDE:
            super().print(*objects, **kwargs)
            return
        self.width = natural  # rich caps print(width=) at the console's width
        try:
            super().print(*objects, **kwargs)
        finally:
            self.width = WIDE


def _console(stderr: bool) -> Console:
    """A console that never turns ``:x:`` in printed text into an emoji, and is wide when not a terminal."""
    stream = sys.stderr if stderr else sys.stdout
    try:
        tty = stream.isatty()
    except (AttributeError, ValueError):
        tty = False
    if tty or os.environ.get("COLUMNS"):
        return Console(stderr=stderr, emoji=False)
    return _WideConsole(stderr=stderr, emoji=False, width=WIDE)


console = _console(stderr=False)
err_console = _console(stderr=True)

DB_OPTION = typer.Option("evalkit.duckdb", "--db", help="DuckDB file (created if missing).",
                         envvar="EVALKIT_DB")
RPM_OPTION = typer.Option(None, "--rpm", min=0.001, help="The provider's requests per minute for each model "
                          "called (a model's own rpm wins); calls are paced to it. Default: learnt from the "
                          "server's rate-limit replies.")
TPM_OPTION = typer.Option(None, "--tpm", min=1, help="The provider's tokens per minute for each model called "
                          "(prompt + max_tokens, as providers count them); calls are paced to it.")


def pace(rpm: float | None, tpm: float | None) -> None:
    """Apply ``--rpm``/``--tpm`` to every model this command calls that sets no limits of its own."""
    from ..llm.ratelimit import set_default_limits

    set_default_limits(rpm, tpm)


def error_line(message: str) -> None:
    """Print a one-line error to stderr: never wrapped, and user text in it ("[/]" in a label) is not markup."""
    err_console.print(f"[bold red]error:[/] {escape(message)}", highlight=False, soft_wrap=True)


def warning_line(message: str) -> None:
    """Print a one-line warning to stderr (input taken with a repair; never transcript or note text)."""
    err_console.print(f"[yellow]warning:[/] {escape(message)}", highlight=False, soft_wrap=True)


def fail(message: str, code: int = 2) -> NoReturn:
    """Print a one-line error and exit (2 = bad input or configuration)."""
    error_line(message)
    raise typer.Exit(code)


def open_store(db: str | Path):
    from ..store import Store

    if not Path(db).resolve().parent.is_dir():
        fail(f"--db {db}: folder {Path(db).resolve().parent} does not exist — fix: create it, or give a path "
             "in an existing folder (the file itself is created when missing)")
    raw = os.environ.get("EVALKIT_BUSY_TIMEOUT", "60")  # seconds to wait for another writer
    try:
        timeout = float(raw)
    except ValueError:
        fail(f"EVALKIT_BUSY_TIMEOUT: {raw!r} is not a number of seconds — fix: e.g. EVALKIT_BUSY_TIMEOUT=120")
    return Store(db, busy_timeout=timeout,
                 on_busy=lambda msg: err_console.print(f"[yellow]{escape(msg)}[/]", highlight=False, soft_wrap=True))


def _lines(fh: Any, max_bytes: int) -> Iterator[tuple[int, bytes | None]]:
    """``(line number, bytes)`` per line; ``None`` for a line longer than ``max_bytes`` (skipped unread)."""
    n = 0
    while True:
        raw = fh.readline(max_bytes + 1)
        if not raw:
            return
        n += 1
        if len(raw) > max_bytes and not raw.endswith(b"\n"):
            while raw and not raw.endswith(b"\n"):  # skip the rest of the line, a block at a time
                raw = fh.readline(1 << 20)
            yield n, None
            continue
        yield n, raw


def iter_jsonl(path: Path, shape: str, warn: Callable[[str], None] | None = None,
               ) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield ``(line number, object, None)`` or ``(line number, None, problem — fix)`` per non-blank line.

    A line longer than :data:`~evalkit.security.limits.MAX_LINE_BYTES` or nested deeper than
    :data:`~evalkit.security.limits.MAX_JSON_DEPTH` is a bad line like any other; a lone surrogate escape
    (half an emoji) is repaired to U+FFFD and reported through ``warn``.

    Args:
        path: the JSONL file.
        shape: the expected object, shown in the fix (e.g. ``{"id", "reference", "hypothesis"}``).
        warn: called with a one-line warning (no text from the line) for a line taken with a repair.
    """
    from ..security import safe_json
    from ..errors import InputError
    from ..security.limits import MAX_LINE_BYTES, mb

    with Path(path).open("rb") as fh:
        for n, raw in _lines(fh, MAX_LINE_BYTES):
            if raw is None:
                yield n, None, (f"is longer than {mb(MAX_LINE_BYTES)} — fix: one case per line; split a longer "
                                "consultation into parts")
                continue
            try:
                line = raw.decode("utf-8-sig" if n == 1 else "utf-8")  # a byte-order mark is not JSON
            except UnicodeDecodeError as e:
                yield n, None, (f"is not UTF-8 (byte 0x{raw[e.start]:02x} at column {e.start + 1}) "
                                "— fix: save the file as UTF-8")
                continue
            if not line.strip():
                continue
            try:
                rec, repaired = safe_json.loads(line, str(path), f"line {n}")
            except json.JSONDecodeError as e:
                yield n, None, f"is not valid JSON ({e.msg} at column {e.colno}) — fix: one JSON object per line"
                continue
            except InputError as e:
                yield n, None, f"{e.problem} — fix: {e.fix}"
                continue
            if not isinstance(rec, dict):
                yield n, None, f"must be a JSON object — fix: {shape}"
                continue
            if repaired and warn is not None:
                warn(f"{path}:{n}: {safe_json.repaired_note(repaired)}")
            yield n, rec, None
