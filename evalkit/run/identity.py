"""What identifies a run, and a cached scribe output: every input that changes the results.

A run's id is a hash of the suite, the scribe spec and the label, and of what the suite's text
does not show: the scribe's version as it is now (a replay file's content digest, a command's
script digest, a model's name), the judge's name, version and prompt hash, and the content of
the note templates. Running the same suite again continues the same run only when none of
these changed; otherwise a new run starts (the old one is kept).

A scribe output is cached under :func:`input_hash`: the consultation (turns and case), its audio
file's digest when the scribe hears audio, the scribe's name, version and options, and the note
template's name and content.
"""

from __future__ import annotations

import hashlib
from functools import lru_cache
from pathlib import Path
from typing import Any

from ..schema import Consultation, content_hash


def file_hash(path: Path | None) -> str:
    """SHA-256 (16 digits) of a file's content; empty when there is no file."""
    if path is None or not path.exists():
        return ""
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for block in iter(lambda: f.read(1 << 20), b""):
            h.update(block)
    return h.hexdigest()[:16]


@lru_cache(maxsize=256)
def template_digest(name: str | None) -> str:
    """Content digest of a note template (empty for none or an unknown name: the scribe reports that).

    Read once per process, as :func:`evalkit.text.templates.load_template` reads templates.
    """
    if not name:
        return ""
    from ..errors import InputError
    from ..text.templates import load_template

    try:
        return content_hash(load_template(name).model_dump(mode="json"), 12)
    except InputError:
        return ""


@lru_cache(maxsize=1)
def templates_digest() -> str:
    """Digest of every note template's content (adherence is scored against them); read once per process."""
    from ..text.templates import templates_dir

    h = hashlib.sha256()
    for p in sorted(templates_dir().glob("*.yaml")):
        h.update(p.name.encode())
        h.update(file_hash(p).encode())
    return h.hexdigest()[:12]


def input_hash(consultation: Consultation, audio_path: Path | None, scribe: Any, suite: Any) -> str:
    """Content hash of everything that determines a scribe's output (the scribe cache key)."""
    return input_hash_of([t.model_dump(mode="json") for t in consultation.turns],
                         consultation.case.model_dump(mode="json"), consultation.template, audio_path, scribe, suite)


def input_hash_of(turns: list, case: dict, template: str | None, audio_path: Path | None, scribe: Any,
                  suite: Any) -> str:
    """:func:`input_hash` from the consultation's JSON form (``turns`` and ``case`` as plain data)."""
    tpl = suite.template or template
    return content_hash({
        "turns": turns, "case": case,
        "audio": file_hash(audio_path) if scribe.needs_audio else "",
        "scribe": scribe.name, "version": scribe.version,
        "options": suite.scribe_options, "template": tpl, "template_digest": template_digest(tpl),
    }, 24)


def judge_fingerprint(judge: Any) -> list | None:
    """``[name, version, prompt hash]`` of a judge (None: the suite has no judge)."""
    if judge is None:
        return None
    return [getattr(judge, "name", None), str(getattr(judge, "version", "")), getattr(judge, "prompt_hash", None)]


def run_identity(suite: Any, scribe_spec: str, label: str | None, scribe: Any, judge: Any) -> str:
    """The run id of ``suite`` × ``scribe_spec`` × ``label`` with this scribe and judge as they are now.

    Args:
        suite: the suite.
        scribe_spec: e.g. ``whisper+rules``.
        label: the run label (default: the suite's).
        scribe: the scribe object (its name and current version count).
        judge: the judge object, or None.
    """
    return content_hash({"suite": suite.hash(), "scribe": scribe_spec, "label": label or suite.label,
                         "scribe_version": [scribe.name, scribe.version], "judge": judge_fingerprint(judge),
                         "templates": templates_digest()}, 12)


__all__ = ["file_hash", "input_hash", "input_hash_of", "judge_fingerprint", "run_identity", "template_digest",
           "templates_digest"]
