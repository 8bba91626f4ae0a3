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

The program's stderr may hold note text, so it is never logged or stored: only its size and
last line (cut to 200 characters) go into the error of a failed case.
"""

from __future__ import annotations

import json
import os
import re
import shlex
import signal
import subprocess
import tempfile
import time
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..schema import ScribeOutput
from ._json_output import ResponseMapping, ScribeError, output_from_json, request_values
from .base import ScribeInput, register


def _last_line(data: bytes) -> str:
    lines = [ln for ln in data.decode("utf-8", errors="replace").splitlines() if ln.strip()]
    return lines[-1].strip()[:200] if lines else ""


class CommandScribe:
    """Run ``command`` per case; parse its JSON output into a ScribeOutput.

    Args:
        command: argv list or a shell-like string (split with shlex; no shell is used).
        input: ``transcript`` or ``audio``.
        response: response mapping; default evalkit's shape.
        timeout_s: seconds before the program (and its children) are killed.
        cwd: working directory.
        env: extra environment variables.
        name: backend name recorded in outputs.
        version: backend version recorded in outputs.
    """

    def __init__(self, command: list[str] | str, input: str = "transcript", response: dict | None = None,
                 timeout_s: float = 300.0, cwd: str | None = None, env: dict[str, str] | None = None,
                 name: str = "command", version: str = "1"):
        argv = shlex.split(command) if isinstance(command, str) else [str(a) for a in (command or [])]
        if not argv:
            raise InputError("command scribe", "command", "is empty", 'set e.g. command: ["python", "s.py", "{input}"]')
        if input not in ("transcript", "audio"):
            raise InputError("command scribe", "input", f"unknown input {input!r}", "use transcript or audio")
        self.argv, self.input = argv, input
        self.mapping = ResponseMapping.from_options(response, "command scribe")
        self.timeout_s, self.cwd, self.env = float(timeout_s), cwd, dict(env or {})
        self.name, self.version = name, str(version)
        self.needs_audio = input == "audio"
        self._where = f"command {Path(argv[0]).name}"

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
            stdout, stderr, rc = self._exec(argv)
            if rc != 0:
                tail = _last_line(stderr)
                raise ScribeError(f"{self._where}: exited with code {rc} (stderr {len(stderr)} bytes"
                                  + (f"; last line: {tail}" if tail else "") + ")")
            from_file = uses_output and out_file.exists()
            data = out_file.read_bytes() if from_file else stdout
        try:
            doc = json.loads(data.decode("utf-8"))
        except (UnicodeDecodeError, json.JSONDecodeError):
            where = "its output file" if from_file else "stdout"
            raise ScribeError(f"{self._where}: {where} is not JSON ({len(data)} bytes) — fix: print one JSON "
                              "object such as {\"note\": \"...\"}") from None
        out = output_from_json(doc, self.mapping, consultation_id=cid, template=item.template, backend=self.name,
                               version=self.version,
                               input_turns=None if self.needs_audio else list(item.consultation.turns),
                               where=self._where)
        out.latency_s = time.perf_counter() - t0
        return out

    def _exec(self, argv: list[str]) -> tuple[bytes, bytes, int]:
        try:
            proc = subprocess.Popen(argv, stdout=subprocess.PIPE, stderr=subprocess.PIPE, stdin=subprocess.DEVNULL,
                                    cwd=self.cwd, env={**os.environ, **self.env}, start_new_session=True)
        except FileNotFoundError:
            raise InputError("command scribe", "command", f"program {argv[0]!r} not found",
                             "give the full path or put it on PATH") from None
        try:
            stdout, stderr = proc.communicate(timeout=self.timeout_s)
        except subprocess.TimeoutExpired:
            try:
                os.killpg(proc.pid, signal.SIGKILL)  # the program and anything it started
            except ProcessLookupError:
                pass
            proc.communicate()
            raise ScribeError(f"{self._where}: timed out after {self.timeout_s:g}s — fix: raise timeout_s") from None
        return stdout, stderr, proc.returncode


@register("command")
def make_command_scribe(**options: Any) -> CommandScribe:
    """Factory for ``get_scribe("command", {"command": {...}})``."""
    if "command" not in options:
        raise InputError("command scribe", "command", "is required",
                         'set scribe_options: {command: {command: ["prog", "{input}"]}}')
    return CommandScribe(**options)
