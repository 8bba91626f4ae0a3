"""Running a backend program under a total deadline, with its output bounded.

:func:`run_program` starts the program in its own session and reads its stdout and stderr as
they come, until both are closed and it has exited, or until the deadline. stdout is kept up to
a size limit; stderr is never kept (it may quote the transcript): only its size and SHA-256
digest. At the deadline, or once stdout passes its limit, the program's whole process group is
killed — and so is any other process still holding its stdout or stderr open, such as a child
that left the group with ``setsid`` (found through ``/proc`` on Linux).
"""

from __future__ import annotations

import hashlib
import os
import selectors
import signal
import subprocess
import time
from dataclasses import dataclass

_CHUNK = 1 << 16


@dataclass
class Finished:
    """How a program ended and what it wrote.

    Attributes:
        returncode: the exit status (negative: killed by that signal); None if it had to be killed by evalkit.
        stdout: what it wrote to stdout (at most the limit).
        stderr_size: bytes it wrote to stderr.
        stderr_sha256: first 12 hex digits of the SHA-256 of its stderr.
        timed_out: the deadline passed first.
        stdout_overflow: stdout passed the limit (the program was killed then).
        seconds: wall time.
    """

    returncode: int | None
    stdout: bytes
    stderr_size: int
    stderr_sha256: str
    timed_out: bool = False
    stdout_overflow: bool = False
    seconds: float = 0.0


def _pipe_holders(inodes: set[int]) -> set[int]:
    """Pids of this user's processes (other than this one) holding any of these pipes open (Linux /proc)."""
    me, found = os.getpid(), set()
    wanted = {f"pipe:[{i}]" for i in inodes}
    try:
        pids = [p for p in os.listdir("/proc") if p.isdigit()]
    except OSError:
        return found
    for p in pids:
        pid = int(p)
        if pid == me:
            continue
        try:
            for fd in os.listdir(f"/proc/{p}/fd"):
                if os.readlink(f"/proc/{p}/fd/{fd}") in wanted:
                    found.add(pid)
                    break
        except OSError:  # gone, or another user's
            continue
    return found


def _kill(pid: int) -> None:
    """SIGKILL a process and its own process group (never this process's group)."""
    try:
        pgid = os.getpgid(pid)
        if pgid != os.getpgid(0):
            os.killpg(pgid, signal.SIGKILL)
    except OSError:  # gone already, or not ours
        pass
    try:
        os.kill(pid, signal.SIGKILL)
    except OSError:
        pass


def kill_all(proc: subprocess.Popen, inodes: set[int]) -> None:
    """Kill the program's process group and every process still holding its output pipes."""
    try:
        os.killpg(proc.pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass
    for pid in _pipe_holders(inodes):
        _kill(pid)


def run_program(argv: list[str], *, timeout_s: float, max_stdout: int, cwd: str | None = None,
                env: dict[str, str] | None = None) -> Finished:
    """Run ``argv`` with stdin closed; see the module docstring.

    Args:
        argv: the program and its arguments (no shell).
        timeout_s: total seconds for the program and everything it started to finish.
        max_stdout: bytes of stdout kept; more kills the program.
        cwd: working directory.
        env: the whole environment.

    Raises:
        FileNotFoundError, PermissionError: the program cannot be started.
    """
    t0 = time.monotonic()
    deadline = t0 + timeout_s
    proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                            cwd=cwd, env=env, start_new_session=True)
    assert proc.stdout is not None and proc.stderr is not None
    out_fd, err_fd = proc.stdout.fileno(), proc.stderr.fileno()
    inodes = {os.fstat(out_fd).st_ino, os.fstat(err_fd).st_ino}
    out, err_n, err_h = bytearray(), 0, hashlib.sha256()
    timed_out = overflow = False
    sel = selectors.DefaultSelector()
    sel.register(out_fd, selectors.EVENT_READ)
    sel.register(err_fd, selectors.EVENT_READ)
    try:
        while sel.get_map():
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                timed_out = True
                break
            for key, _ in sel.select(timeout=min(remaining, 1.0)):
                chunk = os.read(key.fd, _CHUNK)
                if not chunk:
                    sel.unregister(key.fd)
                elif key.fd == out_fd:
                    out += chunk
                    if len(out) > max_stdout:
                        overflow = True
                else:
                    err_n += len(chunk)
                    err_h.update(chunk)
            if overflow:
                break
        if not (timed_out or overflow):
            try:  # output closed: give the program what is left of the deadline to exit
                proc.wait(timeout=max(0.0, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                timed_out = True
        if timed_out or overflow:
            kill_all(proc, inodes)
            proc.wait()
    finally:
        sel.close()
        proc.stdout.close()
        proc.stderr.close()
        if proc.returncode is None:  # an exception in between: leave nothing running
            kill_all(proc, inodes)
            proc.wait()
    return Finished(None if (timed_out or overflow) else proc.returncode, bytes(out[:max_stdout]), err_n,
                    err_h.hexdigest()[:12], timed_out, overflow, time.monotonic() - t0)


__all__ = ["Finished", "kill_all", "run_program"]
