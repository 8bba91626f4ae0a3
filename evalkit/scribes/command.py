"""``command``: run a local program on each case and read its JSON answer.

Suite example::

    scribes: [command]
    scribe_options:
      command:
        command: ["python", "my_scribe.py", "{input}", "--template", "{template}"]
        input: transcript      # the program gets a JSON file; or audio: it gets the WAV
        timeout_s: 300
        response: {note_text: "$.note"}   # optional; default evalkit's shape

Placeholders: ``{input}`` (the JSON case file, or the WAV with audio input), ``{case}`` (the JSON
case file, always), ``{audio}`` (the WAV), ``{output}`` (a path the program may write its JSON
to; otherwise stdout is read), ``{template}``, ``{consultation_id}``. The case file holds
``consultation_id, template, transcript, turns, specialty``.

``timeout_s`` is a total deadline: when it passes, the program's whole process group is killed,
with any process still holding its output open (a child started with ``setsid``), and the case
fails. stdout (or the output file) larger than ``max_reply_mb`` (default 32) is refused: the
program is killed as soon as it passes the limit.

The program's stderr may quote the transcript or the note, so it is never kept, logged or
stored: a failed case's error holds the exit status, the size of stderr and its SHA-256 digest
(run the program by hand on the case to read it).
"""

from __future__ import annotations

import hashlib
import json
import os
import re
import shlex
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..security.limits import MAX_REPLY_BYTES, mb
from ..security.redact import sized
from ..schema import ScribeOutput
from ._json_output import ResponseMapping, ScribeError, output_from_json, parse_reply, request_values
from ._subprocess import Finished, run_program
from .base import ScribeInput, register

_FILE_DIGESTS: dict[tuple[str, int, int], str] = {}


def _file_digest(path: Path) -> str:
    """SHA-256 (12 digits) of a file, cached by path, size and modification time."""
    st = path.stat()
    key = (str(path.resolve()), st.st_size, st.st_mtime_ns)
    if key not in _FILE_DIGESTS:
        h = hashlib.sha256()
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        _FILE_DIGESTS[key] = h.hexdigest()[:12]
    return _FILE_DIGESTS[key]


class CommandScribe:
    """Run ``command`` per case; parse its JSON output into a ScribeOutput.

    Args:
        command: argv list or a shell-like string (split with shlex; no shell is used).
        input: ``transcript`` or ``audio``.
        response: response mapping; default evalkit's shape.
        timeout_s: total seconds for the program (and everything it starts) to finish; then all of it
            is killed and the case fails.
        cwd: working directory.
        env: extra environment variables.
        name: backend name recorded in outputs.
        version: backend version recorded in outputs. The scribe's :attr:`version` (part of the
            cache key and the run's identity) adds the digest of every file the command names,
            so editing the program's script starts afresh.
        max_reply_mb: largest answer (stdout or output file) read, in MB.
    """

    def __init__(self, command: list[str] | str, input: str = "transcript", response: dict | None = None,
                 timeout_s: float = 300.0, cwd: str | None = None, env: dict[str, str] | None = None,
                 name: str = "command", version: str = "1", max_reply_mb: float = MAX_REPLY_BYTES / 2**20):
        argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in (command or [])]
        if not argv:
            raise InputError("command scribe", "command", "is empty", 'set e.g. command: ["python", "s.py", "{input}"]')
        if input not in ("transcript", "audio"):
            raise InputError("command scribe", "input", f"unknown input {input!r}", "use transcript or audio")
        self.argv, self.input = argv, input
        self.mapping = ResponseMapping.from_options(response, "command scribe")
        self.timeout_s, self.cwd, self.env = float(timeout_s), cwd, dict(env or {})
        if not self.timeout_s > 0:
            raise InputError("command scribe", "timeout_s", f"{timeout_s!r} is not a positive number of seconds",
                             "set e.g. timeout_s: 300")
        if not float(max_reply_mb) > 0:
            raise InputError("command scribe", "max_reply_mb", f"{max_reply_mb!r} is not a positive size",
                             "set e.g. max_reply_mb: 32")
        self.max_reply = int(float(max_reply_mb) * 2**20)
        self.name, self.backend_version = name, str(version)
        self.needs_audio = input == "audio"
        self._where = f"command {Path(argv[0]).name}"

    @property
    def version(self) -> str:
        """The given version plus the digest of each file the command line names (a script edited → new version)."""
        base = Path(self.cwd) if self.cwd else Path.cwd()
        digests = []
        for a in self.argv:
            if "{" in a or not a or len(a) > 4096:
                continue
            p = Path(a) if os.path.isabs(a) else base / a
            try:
                if p.is_file():
                    digests.append(_file_digest(p))
            except OSError:
                continue
        return self.backend_version + (f"+{'.'.join(digests)}" if digests else "")

    def run(self, item: ScribeInput) -> ScribeOutput:
        t0 = time.perf_counter()
        cid = item.consultation.id
        if self.needs_audio and (item.audio_path is None or not item.audio_path.exists()):
            raise InputError(cid, "audio", "this command scribe reads audio and the case has none",
                             "generate audio first or set input: transcript")
        with tempfile.TemporaryDirectory(prefix="evalkit-cmd-") as tmp:
            case_file = Path(tmp) / "case.json"
            case_file.write_text(json.dumps(request_values(item), ensure_ascii=False), encoding="utf-8")
            out_file = Path(tmp) / "output.json"
            values = {"case": str(case_file), "output": str(out_file), "template": item.template,
                      "consultation_id": cid, "audio": str(item.audio_path or ""),
                      "input": str(item.audio_path) if self.needs_audio else str(case_file)}
            argv = [re.sub(r"\{(\w+)\}", lambda m: values.get(m.group(1), m.group(0)), a) for a in self.argv]
            uses_output = any("{output}" in a for a in self.argv)
            done = self._exec(argv)
            self._check(done)
            from_file = uses_output and out_file.exists()
            if from_file:
                size = out_file.stat().st_size
                if size > self.max_reply:
                    raise ScribeError(f"{self._where}: its output file is {mb(size)}, more than max_reply_mb "
                                      f"({mb(self.max_reply)}) — fix: raise max_reply_mb in the scribe's options, or "
                                      "check the program writes one JSON answer")
                data = out_file.read_bytes()
            else:
                data = done.stdout
        where = "its output file" if from_file else "stdout"
        doc, _repaired = parse_reply(data, f"{self._where}: {where}", "print one JSON object such as {\"note\": \"...\"}")
        out = output_from_json(doc, self.mapping, consultation_id=cid, template=item.template, backend=self.name,
                               version=self.backend_version,
                               input_turns=None if self.needs_audio else list(item.consultation.turns),
                               where=self._where)
        if _repaired:
            out.metadata["repaired_characters"] = _repaired
        out.latency_s = time.perf_counter() - t0
        return out

    def _check(self, done: Finished) -> None:
        """Raise a ScribeError (no program text in it) unless the program finished in time with status 0."""
        err = sized("stderr", size=done.stderr_size, sha=done.stderr_sha256)
        if done.timed_out:
            raise ScribeError(f"{self._where}: timed out after {self.timeout_s:g}s (total deadline; the program and "
                              f"every process holding its output were killed; {err}) — fix: raise timeout_s, or make "
                              "the program finish without leaving a process that holds its stdout open")
        if done.stdout_overflow:
            raise ScribeError(f"{self._where}: stdout passed max_reply_mb ({mb(self.max_reply)}); the program was "
                              f"killed ({err}) — fix: raise max_reply_mb in the scribe's options, or check the "
                              "program prints one JSON answer")
        rc = done.returncode
        if rc:
            how = f"was killed by signal {-rc}" if rc < 0 else f"exited with code {rc}"
            raise ScribeError(f"{self._where}: {how} ({err}; stderr is not stored: it may quote the case) "
                              "— fix: run the program by hand on this case to read its message")

    def _exec(self, argv: list[str]) -> Finished:
        try:
            return run_program(argv, timeout_s=self.timeout_s, max_stdout=self.max_reply, cwd=self.cwd,
                               env={**os.environ, **self.env})
        except FileNotFoundError:
            raise InputError("command scribe", "command", f"program {argv[0]!r} not found",
                             "give the full path or put it on PATH") from None
        except PermissionError:
            raise InputError("command scribe", "command", f"program {argv[0]!r} is not executable",
                             f"chmod +x {argv[0]}, or run it through its interpreter (e.g. python {argv[0]})") from None


@register("command")
def make_command_scribe(**options: Any) -> CommandScribe:
    """Factory for ``get_scribe("command", {"command": {...}})``."""
    if "command" not in options:
        raise InputError("command scribe", "command", "is required",
                         'set scribe_options: {command: {command: ["prog", "{input}"]}}')
    return CommandScribe(**options)
