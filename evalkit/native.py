"""Compiled (mypyc) builds of the offline scoring modules, with pure Python as the fallback.

The grounding judge, WER and template adherence are plain, type-annotated Python. ``make
install`` compiles them with mypyc (``scripts/build_native.py``) into extension modules next to
their sources, which makes offline scoring ~30 % faster (``bench/bench_scoring.py``). The
compiled modules must behave exactly like their sources: ``tests/test_native.py`` compares the
judge's and WER's output in both modes, byte for byte.

Python imports an extension module in preference to a ``.py`` file of the same name, so a
compiled module that no longer matches its edited source would silently run old code. The
build writes a manifest of the sources' SHA-256; at ``import evalkit`` (≈1 ms) the sources are
hashed again and, unless every one matches, a finder makes all these modules load from their
``.py`` files (one warning says so; ``make install`` rebuilds). ``EVALKIT_PURE=1`` forces pure
Python (debugging, coverage, profiling).
"""

from __future__ import annotations

import hashlib
import importlib.abc
import importlib.machinery
import importlib.util
import json
import logging
import os
import sys
from pathlib import Path

log = logging.getLogger("evalkit.native")

ROOT = Path(__file__).resolve().parent
#: modules compiled by scripts/build_native.py (the offline scoring path)
MODULES = (
    "evalkit.grounding.allergies", "evalkit.grounding.checks", "evalkit.grounding.claims",
    "evalkit.grounding.coverage", "evalkit.grounding.entities", "evalkit.grounding.exam",
    "evalkit.grounding.exam_quality", "evalkit.grounding.facts", "evalkit.grounding.ground", "evalkit.grounding.index",
    "evalkit.grounding.lexicon", "evalkit.grounding.negation", "evalkit.grounding.numbers",
    "evalkit.grounding.omissions", "evalkit.grounding.plan_checks", "evalkit.grounding.plan_items",
    "evalkit.grounding.plan_words", "evalkit.grounding.polarity", "evalkit.grounding.records",
    "evalkit.grounding.referrals", "evalkit.grounding.result_quality", "evalkit.grounding.unlisted",
    "evalkit.metrics.adherence", "evalkit.metrics.hallucination", "evalkit.metrics.wer",
    "evalkit.text.normalize", "evalkit.text.spoken_numbers", "evalkit.text.parse", "evalkit.text.wordscan",
)
#: mypyc's shared library for the group (evalkit/_native__mypyc.*.so)
GROUP = "evalkit._native"
MANIFEST = ROOT / "_native_build.json"


def source_path(module: str) -> Path:
    return ROOT.parent / (module.replace(".", "/") + ".py")


def source_hashes() -> dict[str, str]:
    return {m: hashlib.sha256(source_path(m).read_bytes()).hexdigest() for m in MODULES}


def compiled_files() -> list[Path]:
    suffixes = tuple(importlib.machinery.EXTENSION_SUFFIXES)
    return [p for m in MODULES for p in source_path(m).parent.glob(m.rsplit(".", 1)[1] + ".*")
            if p.name.endswith(suffixes)]


def status() -> tuple[str, str]:
    """``("compiled" | "pure", why)`` for this process."""
    return _STATUS


def build_problem() -> str | None:
    """Why the compiled build does not match the sources here (None: it does)."""
    try:
        manifest = json.loads(MANIFEST.read_text())
    except (OSError, ValueError):
        return "no compiled build (run `make install` to build one)"
    if manifest.get("python") != sys.implementation.cache_tag:
        return f"compiled for {manifest.get('python')}, this is {sys.implementation.cache_tag} (run `make install`)"
    try:
        current = source_hashes()
    except OSError as e:
        return f"a source is unreadable ({e.filename})"
    stale = sorted(m for m in MODULES if manifest.get("sources", {}).get(m) != current[m])
    if stale:
        return f"{len(stale)} source(s) changed since the build, e.g. {stale[0]} (run `make install`)"
    return None


def _decide() -> tuple[str, str]:
    if os.environ.get("EVALKIT_PURE", "").strip() not in ("", "0"):
        return "pure", "EVALKIT_PURE is set"
    problem = build_problem()
    if problem:
        return "pure", problem
    return "compiled", f"mypyc {json.loads(MANIFEST.read_text()).get('mypy', '?')}"


class _SourceFirst(importlib.abc.MetaPathFinder):
    """Load the listed modules from their ``.py`` files even where an extension module sits beside them."""

    def find_spec(self, fullname, path=None, target=None):  # noqa: ANN001 - the importlib protocol
        if fullname not in MODULES:
            return None
        src = source_path(fullname)
        loader = importlib.machinery.SourceFileLoader(fullname, str(src))
        return importlib.util.spec_from_file_location(fullname, src, loader=loader)


def _activate() -> tuple[str, str]:
    mode, why = _decide()
    if mode == "pure" and compiled_files():
        sys.meta_path.insert(0, _SourceFirst())
        if why != "EVALKIT_PURE is set":
            log.warning("compiled scoring modules not used: %s; running pure Python", why)
    return mode, why


_STATUS = _activate()
