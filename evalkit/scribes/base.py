"""The one ``Scribe`` protocol, the registry, and pipelines such as ``whisper+rules``.

A *scribe* takes a consultation (its audio and/or its true transcript) and returns a
:class:`~evalkit.schema.ScribeOutput`. Many real scribes are two stages, so evalkit also has:

- a *transcriber* (audio → transcript turns), e.g. ``whisper``, ``sphinx``;
- a *note writer* (transcript turns → note in a template), e.g. ``rules``.

``get_scribe("whisper+rules")`` chains them. Third-party backends register a factory under
the entry-point group ``evalkit.scribes``.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from importlib.metadata import entry_points
from pathlib import Path
from typing import Any, Callable, Protocol, runtime_checkable

from ..errors import InputError
from ..schema import Audio, Consultation, Note, ScribeOutput, Turn


@dataclass
class ScribeInput:
    """What a scribe is given for one consultation."""

    consultation: Consultation
    template: str = "SOAP"
    audio: Audio | None = None
    audio_path: Path | None = None  # absolute path of the WAV, when there is audio
    options: dict[str, Any] = field(default_factory=dict)


@runtime_checkable
class Scribe(Protocol):
    """Audio and/or transcript in, ScribeOutput out."""

    name: str
    version: str
    needs_audio: bool

    def run(self, item: ScribeInput) -> ScribeOutput:
        """Produce the transcript and note for one consultation."""
        ...


@runtime_checkable
class Transcriber(Protocol):
    """Audio in, transcript turns (with times and speaker roles) out."""

    name: str
    version: str

    def transcribe(self, item: ScribeInput) -> list[Turn]:
        ...


@runtime_checkable
class NoteWriter(Protocol):
    """Transcript turns in, a note in the requested template out (sentences with evidence)."""

    name: str
    version: str

    def write(self, turns: list[Turn], item: ScribeInput) -> Note:
        ...


class Pipeline:
    """A transcriber followed by a note writer, e.g. ``whisper+rules``."""

    needs_audio = True

    def __init__(self, transcriber: Transcriber, writer: NoteWriter):
        self.transcriber = transcriber
        self.writer = writer
        self.name = f"{transcriber.name}+{writer.name}"

    @property
    def version(self) -> str:
        """Both stages' versions, read each time (a replay transcriber's changes with its file)."""
        return f"{self.transcriber.version}+{self.writer.version}"

    def run(self, item: ScribeInput) -> ScribeOutput:
        t0 = time.perf_counter()
        metadata: dict[str, Any] = {}
        stream = getattr(self.transcriber, "stream", None)
        if callable(stream):  # a streaming transcriber: the final turns and the stamped event log
            res = stream(item)
            turns = res.turns
            settings = self.transcriber.settings() if hasattr(self.transcriber, "settings") else {}
            metadata["stream"] = {**res.to_metadata(), "settings": settings}
        else:
            turns = self.transcriber.transcribe(item)
        note = self.writer.write(turns, item)
        return ScribeOutput(consultation_id=item.consultation.id, transcript=turns, note=note,
                            backend=self.name, backend_version=self.version,
                            latency_s=time.perf_counter() - t0, cost_usd=0.0, metadata=metadata)


class WriterScribe:
    """A note writer used alone on the true transcript (no ASR)."""

    needs_audio = False

    def __init__(self, writer: NoteWriter, name: str | None = None):
        self.writer = writer
        self.name = name or writer.name

    @property
    def version(self) -> str:
        return self.writer.version

    def run(self, item: ScribeInput) -> ScribeOutput:
        t0 = time.perf_counter()
        turns = list(item.consultation.turns)
        note = self.writer.write(turns, item)
        return ScribeOutput(consultation_id=item.consultation.id, transcript=turns, note=note,
                            backend=self.name, backend_version=self.version,
                            latency_s=time.perf_counter() - t0, cost_usd=0.0)


# ---------------------------------------------------------------------------- registry

Factory = Callable[..., Any]  # returns a Scribe, Transcriber or NoteWriter
_REGISTRY: dict[str, Factory] = {}
_BUILTINS_LOADED = False
_LOAD_LOCK = threading.RLock()


def register(name: str) -> Callable[[Factory], Factory]:
    """Decorator: register a factory returning a Scribe, Transcriber or NoteWriter under ``name``."""

    def deco(factory: Factory) -> Factory:
        _REGISTRY[name] = factory
        return factory

    return deco


def _load_builtins() -> None:
    global _BUILTINS_LOADED
    if _BUILTINS_LOADED:
        return
    with _LOAD_LOCK:  # worker threads may ask at once; none may see a half-filled registry
        if _BUILTINS_LOADED:
            return
        _import_builtins()
        _BUILTINS_LOADED = True


def _import_builtins() -> None:
    import importlib

    for mod in ("rules", "reference", "replay", "whisper", "sphinx", "llm", "http", "command", "healthscribe",
                "evalkit.streaming.transcriber"):
        try:
            importlib.import_module(mod if "." in mod else f"evalkit.scribes.{mod}")
        except ModuleNotFoundError as e:  # optional module not written or extra not installed
            if e.name and e.name.startswith(("evalkit.scribes", "evalkit.streaming")):
                continue
            raise
    for ep in entry_points(group="evalkit.scribes"):
        if ep.name not in _REGISTRY:
            _REGISTRY[ep.name] = ep.load()


def available() -> list[str]:
    _load_builtins()
    return sorted(_REGISTRY)


def _make(name: str, options: dict[str, Any]) -> Any:
    _load_builtins()
    if name not in _REGISTRY:
        raise InputError("scribe", "name", f"unknown scribe {name!r}",
                         f"use one of: {', '.join(available())}, or a pipeline like whisper+rules")
    return _REGISTRY[name](**options.get(name, {}))


def get_scribe(spec: str, options: dict[str, dict[str, Any]] | None = None) -> Scribe:
    """Build a scribe from a name (``rules``, ``reference``) or a pipeline (``whisper+rules``).

    Args:
        spec: a registered name, or ``TRANSCRIBER+WRITER``.
        options: per-stage keyword options, e.g. ``{"whisper": {"beam_size": 1}}``.
    """
    options = options or {}
    parts = [p.strip() for p in spec.split("+") if p.strip()]
    if len(parts) == 2:
        t, w = _make(parts[0], options), _make(parts[1], options)
        if not hasattr(t, "transcribe"):
            raise InputError("scribe", spec, f"{parts[0]!r} is not a transcriber", "put an ASR first, e.g. whisper+rules")
        if not hasattr(w, "write"):
            raise InputError("scribe", spec, f"{parts[1]!r} is not a note writer", "put a note writer second, e.g. whisper+rules")
        return Pipeline(t, w)
    if len(parts) != 1:
        raise InputError("scribe", spec, "a pipeline has at most two stages", "use e.g. whisper+rules")
    obj = _make(parts[0], options)
    if hasattr(obj, "run"):
        return obj
    if hasattr(obj, "write"):
        return WriterScribe(obj)
    raise InputError("scribe", spec, f"{parts[0]!r} is a transcriber only", f"add a note writer: {parts[0]}+rules")
