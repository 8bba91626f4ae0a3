"""Run a command in a subprocess under a memory cap, and measure its peak memory.

The cap is an address-space limit (``RLIMIT_AS``) set in the child before it starts: a regression
that tries to hold 2 GB fails inside the child (``MemoryError``) instead of taking the machine's
memory. The child's peak resident memory comes from ``wait4`` (the child itself, not the programs
it starts).
"""

from __future__ import annotations

import os
import resource
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

EVALKIT = Path(sys.executable).with_name("evalkit")
#: address space a child may map: its imports (numpy, pandas, duckdb, pyarrow) and threads take ~0.6 GB
CAP_MB = 2048


@dataclass
class Capped:
    returncode: int
    stdout: str
    stderr: str
    peak_rss_mb: float
    seconds: float

    @property
    def lines(self) -> list[str]:
        """Non-empty stderr lines, minus the notice of a native build older than the sources."""
        return [ln for ln in self.stderr.splitlines() if ln.strip() and not ln.startswith("compiled scoring modules")]


def run_capped(argv: list[str], *, cap_mb: int = CAP_MB, timeout: float = 300, env: dict | None = None) -> Capped:
    """Run ``argv`` (``["evalkit", ...]`` runs the console script) with at most ``cap_mb`` of address space.

    Raises:
        AssertionError: still running after ``timeout`` seconds (it is killed).
    """
    if argv and argv[0] == "evalkit":
        argv = [str(EVALKIT), *argv[1:]]
    cap = cap_mb * 2**20

    def limit() -> None:
        resource.setrlimit(resource.RLIMIT_AS, (cap, cap))

    # two malloc arenas: the address space measures what is used, not per-thread reservations
    full_env = {**os.environ, "MALLOC_ARENA_MAX": "2", **(env or {})}
    t0 = time.monotonic()
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=full_env, preexec_fn=limit,
                            start_new_session=True)
    got: dict[str, bytes] = {}
    readers = [threading.Thread(target=lambda k=k, f=f: got.__setitem__(k, f.read()), daemon=True)
               for k, f in (("out", proc.stdout), ("err", proc.stderr))]
    for r in readers:
        r.start()
    while True:
        pid, status, usage = os.wait4(proc.pid, os.WNOHANG)  # not poll(): wait4 gives the child's peak RSS
        if pid:
            break
        if time.monotonic() - t0 > timeout:
            os.killpg(proc.pid, signal.SIGKILL)
            os.wait4(proc.pid, 0)
            for r in readers:
                r.join(5)
            raise AssertionError(f"{argv[:3]} still running after {timeout}s; stderr: "
                                 f"{got.get('err', b'').decode(errors='replace')[-2000:]}")
        time.sleep(0.02)
    proc.returncode = os.waitstatus_to_exitcode(status)
    for r in readers:
        r.join(10)
    return Capped(proc.returncode, got.get("out", b"").decode("utf-8", "replace"),
                  got.get("err", b"").decode("utf-8", "replace"), usage.ru_maxrss / 1024, time.monotonic() - t0)


def python(code: str, *args: str, **kw) -> Capped:
    """Run a Python snippet (this interpreter) under the cap."""
    return run_capped([sys.executable, "-c", code, *args], **kw)
