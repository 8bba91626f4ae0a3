"""Which text normalisation a transcript metric uses: ``evalkit`` (the default) or ``whisper``.

WER depends on what is normalised away, so a figure means something only with its normaliser
named beside it. Two are offered:

- ``evalkit`` (:data:`evalkit.text.normalize.NORMALIZE`, id ``evalkit-norm-1``): built for clinical
  speech — number words to digits, doses and units canonical (``five hundred milligrams`` →
  ``500 mg``), blood pressures (``140 over 90`` → ``140/90``), fillers removed. Right for
  tracking a scribe over time and for medical-term and numeric error rates.
- ``whisper``: Whisper's ``EnglishTextNormalizer`` (the ``whisper-normalizer`` package), the
  normalisation of the Open ASR Leaderboard and most ASR papers. Right when a figure is put
  beside a published one. It spells numbers its own way (``140 over 90`` stays, ``milligrams``
  stays), Americanises spelling and expands ``mr`` to ``mister``.

Every WER-family score stores ``detail["normalizer"]`` (the name) and ``detail["normalization"]``
(the versioned id); a suite's ``normalizer:`` is kept with the run.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Callable, Final

from ..errors import InputError

__all__ = ["NORMALIZERS", "NORMALIZATION_ID", "DEFAULT_NORMALIZER", "Normalizer", "get_normalizer", "run_normalizer"]

NORMALIZERS = ("evalkit", "whisper")
#: the versioned id of evalkit's own normalisation (:data:`evalkit.text.normalize.NORMALIZE`), stored with every WER
NORMALIZATION_ID: Final = "evalkit-norm-1"
DEFAULT_NORMALIZER = "evalkit"

WHISPER_DESCRIPTION = (
    "WER/CER are computed after Whisper's EnglishTextNormalizer (package whisper-normalizer, as on the Open ASR "
    "Leaderboard) applied to reference and hypothesis alike: lower-case; text in brackets and fillers (hmm, uh, "
    "um...) removed; contractions and titles expanded (i'd → i would, mr → mister); British spellings made "
    "American; number words to digits (two point five → 2.5, one thousand → 1000), currencies and '%' kept; "
    "other punctuation and symbols removed; whitespace collapsed. Units are not rewritten (milligrams stays)."
)


@dataclass(frozen=True)
class Normalizer:
    """A named text normalisation.

    Args:
        name: ``evalkit`` or ``whisper`` (what a suite or ``--normalizer`` says).
        id: versioned id stored with the scores (``evalkit-norm-1``, ``whisper-english/0.1.15``).
        description: what it does, printed in reports.
        words: text → normalised words (a new list).
    """

    name: str
    id: str
    description: str
    words: Callable[[str], list[str]]

    def text(self, text: str) -> str:
        """The normalised text: words joined by single spaces."""
        return " ".join(self.words(text))

    def label(self) -> str:
        """``evalkit (evalkit-norm-1)``: the name with its version, for report lines."""
        return f"{self.name} ({self.id})"


_LOCK = threading.Lock()


@lru_cache(maxsize=1)
def _whisper() -> Normalizer:
    try:
        from importlib.metadata import version

        from whisper_normalizer.english import EnglishTextNormalizer
    except ImportError:  # pragma: no cover - a dependency; only a broken install lacks it
        raise InputError("normalizer", "whisper", "the whisper-normalizer package is not installed",
                         "pip install 'whisper-normalizer>=0.1.15,<0.2', or use normalizer: evalkit") from None
    impl = EnglishTextNormalizer()

    def words(text: str) -> list[str]:
        with _LOCK:  # not documented as thread-safe (its number normaliser is a stateful generator): one at a time
            return impl(text or "").split()

    return Normalizer("whisper", f"whisper-english/{version('whisper-normalizer')}", WHISPER_DESCRIPTION, words)


@lru_cache(maxsize=1)
def _evalkit() -> Normalizer:
    from .normalize import NORMALIZATION, normalize_words

    return Normalizer("evalkit", NORMALIZATION_ID, NORMALIZATION, normalize_words)


def get_normalizer(name: str | None = None, source: str = "normalizer") -> Normalizer:
    """The normaliser called ``name`` (default ``evalkit``).

    Args:
        name: ``evalkit`` or ``whisper``; ``None`` is the default.
        source: where the name came from (a file, ``--normalizer``), named in the error.

    Raises:
        InputError: an unknown name.
    """
    name = (name or DEFAULT_NORMALIZER).strip().lower()
    if name == "evalkit":
        return _evalkit()
    if name == "whisper":
        return _whisper()
    raise InputError(source, "normalizer", f"unknown normaliser {name!r}", f"use one of: {', '.join(NORMALIZERS)}")


def run_normalizer(run: dict[str, Any]) -> str:
    """The normaliser name a stored run was scored with (``Store.get_run`` record; ``evalkit`` before the choice existed)."""
    suite = run.get("suite") or {}
    return str(suite.get("normalizer") or DEFAULT_NORMALIZER) if isinstance(suite, dict) else DEFAULT_NORMALIZER
