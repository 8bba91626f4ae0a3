"""Size and time limits on what evalkit reads from files and backends.

Each limit keeps one hostile or broken input from taking the machine's memory or the run's time;
each is refused with one :class:`~evalkit.errors.InputError` (or, for a backend's answer, a
failed session) naming the file or backend, the field and the fix. docs/reliability.md lists
them with what a user sees at each.
"""

from __future__ import annotations

#: a backend's answer: command stdout or its output file, an HTTP body, an S3 output file
#: (per backend: ``max_reply_mb`` in the scribe's options)
MAX_REPLY_BYTES = 32 * 2**20
#: nesting of JSON objects/arrays in a backend answer, a replay file or a JSONL line
MAX_JSON_DEPTH = 64
#: one line of a JSONL input (``evalkit judge``, ``evalkit wer``, replay files)
MAX_LINE_BYTES = 32 * 2**20
#: YAML files (suites, case cards, gate files, templates, rubrics): bytes on disk ...
MAX_YAML_BYTES = 4 * 2**20
#: ... and values after every alias (``*name``) is expanded ("billion laughs")
MAX_YAML_NODES = 100_000
#: characters of one transcript (about 15 hours of speech)
MAX_TRANSCRIPT_CHARS = 1_000_000
#: audio: sample rates accepted before decoding, longest recording, most channels
MIN_SAMPLE_RATE = 4_000
MAX_SAMPLE_RATE = 192_000
MAX_AUDIO_SECONDS = 4 * 3600
MAX_AUDIO_CHANNELS = 16


def mb(n: float) -> str:
    """A byte count as ``12.3 MB`` (for messages)."""
    return f"{n / 2**20:.1f} MB" if n < 10 * 2**20 else f"{n / 2**20:.0f} MB"


__all__ = ["MAX_AUDIO_CHANNELS", "MAX_AUDIO_SECONDS", "MAX_JSON_DEPTH", "MAX_LINE_BYTES", "MAX_REPLY_BYTES",
           "MAX_SAMPLE_RATE", "MAX_TRANSCRIPT_CHARS", "MAX_YAML_BYTES", "MAX_YAML_NODES", "MIN_SAMPLE_RATE", "mb"]
