"""Medical term lexicon: drugs, conditions, anatomy and units from ``rubrics/vocab/*.txt``.

Each list is a plain text file a clinician can edit: lower-case, one term per line,
multi-word terms allowed, ``#`` starts a comment. Sources are listed in
``rubrics/vocab/README.md``.
"""

from __future__ import annotations

import re
from functools import lru_cache
from pathlib import Path

from ..errors import InputError
from ..paths import rubrics_dir

LISTS = ("drugs", "conditions", "anatomy", "units")


def vocab_dir() -> Path:
    """Folder holding the term lists (``rubrics/vocab``)."""
    return rubrics_dir() / "vocab"


@lru_cache(maxsize=16)
def _load(name: str, directory: str) -> frozenset[str]:
    path = Path(directory) / f"{name}.txt"
    if not path.exists():
        raise InputError(str(path), None, "vocabulary list is missing",
                         f"restore rubrics/vocab/{name}.txt or set EVALKIT_DATA_ROOT")
    terms: set[str] = set()
    for line in path.read_text(encoding="utf-8").splitlines():
        line = line.split("#", 1)[0].strip().lower()
        if line:
            terms.add(re.sub(r"\s+", " ", line))
    return frozenset(terms)


def load_list(name: str, directory: Path | None = None) -> frozenset[str]:
    """Load one term list by name.

    Args:
        name: one of ``drugs``, ``conditions``, ``anatomy``, ``units``.
        directory: folder to read from; defaults to ``rubrics/vocab``.
    """
    if name not in LISTS:
        raise InputError("vocab", "name", f"unknown vocabulary list {name!r}", f"use one of: {', '.join(LISTS)}")
    return _load(name, str(directory or vocab_dir()))


def drugs() -> frozenset[str]:
    """Generic and brand drug names (UK/US/AU), lower-case."""
    return load_list("drugs")


def conditions() -> frozenset[str]:
    """Conditions, diagnoses and common symptoms, lower-case."""
    return load_list("conditions")


def anatomy() -> frozenset[str]:
    """Anatomy terms including laterality and position words, lower-case."""
    return load_list("anatomy")


def units() -> frozenset[str]:
    """Units of measure and dose forms as spoken or written (``mg``, ``milligrams``, ``puffs``)."""
    return load_list("units")


@lru_cache(maxsize=1)
def medical_terms() -> frozenset[str]:
    """Union of every list: drugs, conditions, anatomy and units."""
    return drugs() | conditions() | anatomy() | units()


def term_category(term: str) -> str | None:
    """Name of the first list (``drugs``, ``conditions``, ``anatomy``, ``units``) holding ``term``.

    Args:
        term: a lower-case term, single or multi-word.
    """
    t = re.sub(r"\s+", " ", term.strip().lower())
    for name in LISTS:
        if t in load_list(name):
            return name
    return None
