"""Measure a judge on planted errors: recall per kind and false flags on clean notes.

``measure`` runs any judge (``judge_fn(transcript, note, case) -> JudgeResult``) on the
clean notes and on copies with one planted error each (:mod:`evalkit.calibrate.plant`):

- a planted error is *caught* when a claim of the altered sentence is flagged
  (unsupported or contradicted); a deleted plan item is caught when an omission shares a
  content word with the deleted sentence;
- ``recall_strict`` also requires that the judge did not already flag that sentence (or
  report that omission) on the clean note, so a judge that flags everything gains nothing;
- false flags are counted on the untouched notes: flagged claims / claims, and notes with
  at least one flagged claim / notes.
"""

from __future__ import annotations

import random
import time
import zlib
from collections import defaultdict
from collections.abc import Callable, Iterable
from typing import Any

from ..schema import Case, Consultation, JudgeResult, Note, Turn
from .plant import KINDS, PlantedError, content_words, plant_error

JudgeFn = Callable[[list[Turn], Note, "Case | None"], JudgeResult]
Item = "Consultation | tuple[list[Turn], Note] | tuple[list[Turn], Note, Case | None]"


def _unpack(item: Any) -> tuple[str, list[Turn], Note, Case | None]:
    if isinstance(item, Consultation):
        return item.id, item.turns, item.reference_note, item.case
    if isinstance(item, tuple) and len(item) in (2, 3):
        turns, note = item[0], item[1]
        case = item[2] if len(item) == 3 else None
        return (case.id if case is not None else ""), turns, note, case
    raise TypeError("items must be Consultations or (transcript, note[, case]) tuples")


def _flagged_sentences(res: JudgeResult) -> set[str]:
    return {c.sentence_id for c in res.claims if c.verdict != "supported"}


def _omission_hits(res: JudgeResult, sentence: str) -> set[str]:
    """Omissions (by text) that share a content word, a synonym or a number with ``sentence``."""
    words = content_words(sentence) | _numbers(sentence)
    hits = set()
    for o in res.omissions:
        text = o.text.split(":", 1)[1] if ":" in o.text[:20] else o.text
        if content_words(text) & words or _numbers(text) & words or _stem_overlap(text, sentence):
            hits.add(o.text)
    return hits


def _numbers(text: str) -> set[str]:
    """Numbers of two digits or more (a dose "800" ties an omission to a deleted sentence)."""
    import re

    return set(re.findall(r"\b\d{2,}\b", text))


def _stem_overlap(text: str, sentence: str) -> bool:
    """Shared word stems or synonyms ("Motrin" / "ibuprofen", "come back" / "follow up")."""
    from ..grounding.lexicon import lexicon, stem, stems, tokens

    a = {stem(w) for w in content_words(text)}
    if a & {stem(w) for w in content_words(sentence)}:
        return True
    lx = lexicon()
    ta, tb = tokens(text), tokens(sentence)
    ca = {t.canonical for _, _, t in lx.match(stems(ta)) if t.category != "anatomy"}
    cb = {t.canonical for _, _, t in lx.match(stems(tb)) if t.category != "anatomy"}
    return bool(ca & cb)


def caught(error: PlantedError, clean: JudgeResult, altered: JudgeResult) -> tuple[bool, bool, bool]:
    """Whether the judge caught a planted error: ``(caught, caught_strict, major)``.

    Args:
        error: the planted error.
        clean: the judge's result on the untouched note.
        altered: the judge's result on the note with the error.
    """
    if error.kind == "deleted_plan_item":
        now = _omission_hits(altered, error.original)
        before = _omission_hits(clean, error.original)
        major = any(o.severity == "major" for o in altered.omissions if o.text in now)
        return bool(now), bool(now - before), major
    flagged = [c for c in altered.claims if c.sentence_id == error.sentence_id and c.verdict != "supported"]
    pre = error.sentence_id in _flagged_sentences(clean) and bool(error.original)
    major = any(c.severity == "major" for c in flagged)
    return bool(flagged), bool(flagged) and not pre, major


def measure(judge_fn: JudgeFn, items: Iterable[Any], kinds: Iterable[str] = KINDS, seed: int = 0,
            keep_examples: int = 0) -> dict[str, Any]:
    """Recall per planted-error kind and false-flag rates on the clean notes.

    Args:
        judge_fn: ``judge_fn(transcript, note, case) -> JudgeResult``.
        items: Consultations (their reference notes are the clean notes) or
            ``(transcript, note[, case])`` tuples.
        kinds: which error kinds to plant (default: all of :data:`KINDS`).
        seed: the planting seed; the same seed plants the same errors.
        keep_examples: keep up to this many missed errors per kind (sentence ids and the
            planted change) under ``missed`` for inspection.

    Returns:
        ``{"recall": {kind: float}, "recall_strict": {...}, "major_share": {...},
        "planted": {kind: n}, "caught": {...}, "unavailable": {kind: n},
        "false_flag_claim_rate", "false_flag_note_rate", "clean_claims", "clean_flagged_claims",
        "clean_notes", "omissions_per_clean_note", "recall_overall", "seconds", "missed"}``.
    """
    kinds = list(kinds)
    planted: dict[str, int] = defaultdict(int)
    hit: dict[str, int] = defaultdict(int)
    hit_strict: dict[str, int] = defaultdict(int)
    major: dict[str, int] = defaultdict(int)
    unavailable: dict[str, int] = defaultdict(int)
    missed: dict[str, list[dict[str, Any]]] = defaultdict(list)
    n_claims = n_flagged = n_notes = n_notes_flagged = n_omissions = 0
    t0 = time.perf_counter()
    for k, item in enumerate(items):
        key, turns, note, case = _unpack(item)
        clean = judge_fn(turns, note, case)
        flagged = sum(1 for c in clean.claims if c.verdict != "supported")
        n_claims += len(clean.claims)
        n_flagged += flagged
        n_notes += 1
        n_notes_flagged += flagged > 0
        n_omissions += len(clean.omissions)
        for kind in kinds:
            rng = random.Random(zlib.crc32(f"{seed}:{key or k}:{kind}".encode()))
            got = plant_error(note, turns, kind, rng)
            if got is None:
                unavailable[kind] += 1
                continue
            altered_note, err = got
            altered = judge_fn(turns, altered_note, case)
            c, cs, mj = caught(err, clean, altered)
            planted[kind] += 1
            hit[kind] += c
            hit_strict[kind] += cs
            major[kind] += c and mj
            if not c and len(missed[kind]) < keep_examples:
                missed[kind].append({"item": key or k, **err.to_dict()})
    total = sum(planted.values())
    return {
        "recall": {k: hit[k] / planted[k] for k in kinds if planted[k]},
        "recall_strict": {k: hit_strict[k] / planted[k] for k in kinds if planted[k]},
        "major_share": {k: major[k] / hit[k] for k in kinds if hit[k]},
        "recall_overall": (sum(hit.values()) / total) if total else None,
        "recall_strict_overall": (sum(hit_strict.values()) / total) if total else None,
        "planted": dict(planted), "caught": dict(hit), "unavailable": dict(unavailable),
        "false_flag_claim_rate": (n_flagged / n_claims) if n_claims else None,
        "false_flag_note_rate": (n_notes_flagged / n_notes) if n_notes else None,
        "clean_claims": n_claims, "clean_flagged_claims": n_flagged, "clean_notes": n_notes,
        "omissions_per_clean_note": (n_omissions / n_notes) if n_notes else None,
        "seed": seed, "seconds": round(time.perf_counter() - t0, 3), "missed": dict(missed),
    }
