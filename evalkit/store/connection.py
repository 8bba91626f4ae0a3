"""The store's connection: one DuckDB file, opened per call, with waiting and retrying while another process holds it.

Concurrency: DuckDB lets one process at a time open a file for writing. evalkit therefore
never holds a connection open between operations: every call opens the file, does one short
transaction and closes it. When another process holds the file (a CLI run while clinicians
annotate), the call waits and retries with backoff, printing a "database busy, retrying"
message, and raises :class:`StoreBusy` only after ``busy_timeout`` seconds.
"""

from __future__ import annotations

import logging
import os
import random
import threading
import time
from contextlib import contextmanager
from pathlib import Path
from typing import Callable, Iterator

import duckdb
import pandas as pd

from .migrations import init_schema

log = logging.getLogger("evalkit.store")

__all__ = ["StoreBase", "StoreBusy"]


class StoreBusy(RuntimeError):
    """Another process held the database for longer than the busy timeout."""


def _is_lock_error(e: Exception) -> bool:
    msg = str(e).lower()
    return "lock" in msg and ("could not set" in msg or "conflicting" in msg or "being used" in msg)


class _KeepOpen:
    """Keeps one DuckDB connection per database file open between Store calls in this process.

    Opening a DuckDB file costs ~25-30 ms of CPU (more under load); while any connection to the
    file is open, ``duckdb.connect`` on it reuses the open database and costs ~0.03 ms. The held
    connection also holds DuckDB's file lock, so another process (a CLI run) cannot write while
    it is held: it is closed after ``idle_s`` without a call, and after at most ``max_s`` it is
    closed and not re-opened for ``gap_s`` (a writer's retry loop gets in then). Only for
    processes that do not fork while holding a file (the app); a forked child drops the parent's.
    """

    _lock = threading.Lock()
    _held: dict[str, list] = {}  # path -> [connection, opened_at, last_used, idle_s, max_s, gap_s]
    _gap_until: dict[str, float] = {}
    _reaper: threading.Thread | None = None

    @classmethod
    def touch(cls, path: str, idle_s: float, max_s: float, gap_s: float) -> None:
        with cls._lock:
            now = time.monotonic()
            held = cls._held.get(path)
            if held is None:
                if now < cls._gap_until.get(path, 0.0):
                    return
                held = cls._held[path] = [duckdb.connect(path), now, now, idle_s, max_s, gap_s]
                if cls._reaper is None or not cls._reaper.is_alive():
                    cls._reaper = threading.Thread(target=cls._reap, name="evalkit-store-keepopen", daemon=True)
                    cls._reaper.start()
            held[2] = now

    @classmethod
    def release(cls, path: str | None = None) -> None:
        """Close the held connection(s) now (all files when ``path`` is None)."""
        with cls._lock:
            for p in [path] if path else list(cls._held):
                held = cls._held.pop(p, None)
                if held:
                    held[0].close()

    @classmethod
    def _after_fork_in_child(cls) -> None:
        # a forked child must not use (or close: closing checkpoints) the parent's open files
        cls._orphans = list(cls._held.values())
        cls._held, cls._gap_until, cls._reaper, cls._lock = {}, {}, None, threading.Lock()

    @classmethod
    def _reap(cls) -> None:
        while True:
            time.sleep(0.1)
            with cls._lock:
                now = time.monotonic()
                for p, (con, opened, used, idle_s, max_s, gap_s) in list(cls._held.items()):
                    if now - used > idle_s or now - opened > max_s:
                        con.close()
                        del cls._held[p]
                        if now - opened > max_s:
                            cls._gap_until[p] = now + gap_s
                if not cls._held:
                    cls._reaper = None
                    return


if hasattr(os, "register_at_fork"):
    os.register_at_fork(after_in_child=_KeepOpen._after_fork_in_child)


class StoreBase:
    """The connection every table family's methods go through (see :class:`evalkit.store.Store`)."""

    def __init__(self, path: str | Path = "evalkit.duckdb", busy_timeout: float = 60.0,
                 on_busy: Callable[[str], None] | None = None, keep_open: float = 0.0):
        self.path = Path(path)
        self.busy_timeout = busy_timeout
        self.on_busy = on_busy
        self.keep_open = float(keep_open)
        self._lock = threading.RLock()
        self._initialised = False
        self._held: duckdb.DuckDBPyConnection | None = None  # see holding()

    @property
    def root(self) -> Path:
        """Folder next to the database where audio and artefacts live."""
        return self.path.resolve().parent

    def _open(self) -> duckdb.DuckDBPyConnection:
        """Open the file, waiting (with backoff) while another process holds it."""
        deadline = time.monotonic() + self.busy_timeout
        delay = 0.05
        while True:
            try:
                if self.keep_open > 0:
                    _KeepOpen.touch(str(self.path), self.keep_open, max(10.0, self.keep_open), 2.0)
                return duckdb.connect(str(self.path))
            except (duckdb.IOException, duckdb.ConnectionException) as e:  # type: ignore[attr-defined]
                if not _is_lock_error(e) or time.monotonic() > deadline:
                    if _is_lock_error(e):
                        raise StoreBusy(f"{self.path}: database busy for {self.busy_timeout:.0f}s "
                                        "(another evalkit process is writing) — fix: wait for it to "
                                        "finish or set EVALKIT_BUSY_TIMEOUT=<seconds>") from None
                    raise
                msg = f"{self.path.name}: database busy, retrying in {delay:.2f}s"
                log.info(msg)
                if self.on_busy:
                    self.on_busy(msg)
                time.sleep(delay + random.uniform(0, delay / 2))
                delay = min(delay * 2, 1.0)

    @contextmanager
    def holding(self) -> Iterator[None]:
        """Keep one connection open across the Store calls made inside (each still its own transaction).

        Saves the ~30 ms open (and the checkpoint on close) of every call in a burst of calls, such
        as the start of a run; other processes wait for the file meanwhile, so keep it short.
        """
        with self._lock:
            if self._held is not None:  # already holding: nested use is a no-op
                yield
                return
            self._held = self._open()
            try:
                yield
            finally:
                con, self._held = self._held, None
                con.close()

    @contextmanager
    def connect(self) -> Iterator[duckdb.DuckDBPyConnection]:
        """Open the file, yield a connection inside a transaction, commit and close."""
        with self._lock:
            con = self._held
            own = con is None
            if own:
                con = self._open()
            try:
                if not self._initialised:
                    self._init(con)
                con.execute("BEGIN TRANSACTION")
                try:
                    yield con
                    con.execute("COMMIT")
                except BaseException:
                    con.execute("ROLLBACK")
                    raise
            finally:
                if own:
                    con.close()

    def _init(self, con: duckdb.DuckDBPyConnection) -> None:
        init_schema(con)
        self._initialised = True

    def data_version(self) -> tuple:
        """A cheap token that changes whenever the file's data may have changed (any process's commit).

        Built from the size and modification time of the database file and its write-ahead log,
        without opening the database: a cache key for read results (the app's dashboards).
        """
        out: list = []
        for f in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                st = f.stat()
                out += [st.st_size, st.st_mtime_ns]
            except FileNotFoundError:
                out += [None, None]
        return tuple(out)

    def schema_version(self) -> int:
        with self.connect() as con:
            return int(con.execute("SELECT value FROM meta WHERE key='schema_version'").fetchone()[0])

    @staticmethod
    def _insert_df(con: duckdb.DuckDBPyConnection, table: str, df: pd.DataFrame) -> None:
        if df.empty:
            return
        con.register("_ins", df)
        cols = ", ".join(df.columns)
        con.execute(f"INSERT INTO {table} ({cols}) SELECT {cols} FROM _ins")
        con.unregister("_ins")
