"""Disfluent speech: hesitations, repetitions, false starts and self-corrections, seeded.

People do not speak in clean sentences. :func:`add_disfluencies` rewrites a consultation's turns
the way they would really be said, so the *reference transcript keeps what was said*: WER then
compares the words spoken with the words heard. Edits never touch a number, a dose or a
clinical word (a self-correction repeats the words before it, it does not change a fact), so
the reference note stays true to the dialogue.

Kinds (one per affected turn, chosen with these weights):

- ``hesitation`` (0.4): a filler ("um", "uh"; "er", "erm" in UK/IE/AU/NZ) before a word.
  Fillers are removed by the WER normalisation, so they cost nothing when dropped.
- ``repetition`` (0.25): the first one or two words said twice ("I've been, I've been having").
- ``false_start`` (0.2): an abandoned opening ("It was, I've had a cough").
- ``self_correction`` (0.15): a repair with an editing term ("in the, I mean, in the morning").

Short overlaps (the patient talking over the end of the clinician's turn) are made when the
audio is rendered: ``synthesize(..., overlap_rate=...)``.
"""

from __future__ import annotations

import random
import re

from ..schema import Consultation, SpeakerRole
from .generate import stable_hash

KINDS = ("hesitation", "repetition", "false_start", "self_correction")
_WEIGHTS = (0.4, 0.25, 0.2, 0.15)
_FILLERS = {"UK": ("er", "erm", "um"), "IE": ("er", "erm", "um"), "AU": ("er", "um"), "NZ": ("er", "um")}
_FILLERS_DEFAULT = ("um", "uh")
_OPENERS = ("It was", "So the", "I was", "Well it", "And the", "I think")
_EDITS = ("I mean", "sorry", "or rather", "well")
_PROTECTED = re.compile(r"\d|%|/")  # never split or repeat around numbers and doses

__all__ = ["KINDS", "add_disfluencies", "disfluent"]


def _safe_positions(words: list[str]) -> list[int]:
    """Word indices ``i`` (1..n-1) where a break between ``words[i-1]`` and ``words[i]`` is safe."""
    out = []
    for i in range(1, len(words)):
        a, b = words[i - 1], words[i]
        if _PROTECTED.search(a) or _PROTECTED.search(b) or a.endswith((".", "?", "!", ",", ";", ":")):
            continue
        if b[:1].isupper() and b not in ("I", "I'm", "I've", "I'd", "I'll"):
            continue  # names and drug brand names stay whole
        out.append(i)
    return out


def disfluent(text: str, kind: str, rng: random.Random, region: str = "US") -> str:
    """One disfluency of ``kind`` in ``text`` (returned unchanged when there is no safe place).

    Args:
        text: a turn's text.
        kind: one of :data:`KINDS`.
        rng: the seeded generator.
        region: the card's region (chooses fillers).
    """
    words = text.split()
    if len(words) < 3:
        return text
    if kind == "hesitation":
        filler = rng.choice(_FILLERS.get(region, _FILLERS_DEFAULT))
        spots = [0] + _safe_positions(words)
        i = rng.choice(spots)
        if i == 0:
            return f"{filler.capitalize()}, {text}"
        return " ".join(words[:i - 1] + [words[i - 1] + ",", f"{filler},"] + words[i:])
    if kind == "repetition":
        k = 2 if len(words) > 4 and not _PROTECTED.search(words[1]) and not words[0].endswith(",") else 1
        head = words[:k]
        if any(_PROTECTED.search(w) for w in head) or head[-1].endswith((".", "?", "!")):
            return text
        rep = " ".join(head).rstrip(",")
        return f"{rep}, {rep} " + " ".join(words[k:])
    if kind == "false_start":
        return f"{rng.choice(_OPENERS)}, {text}"
    if kind == "self_correction":
        spots = [i for i in _safe_positions(words) if i >= 2]
        if not spots:
            return text
        i = rng.choice(spots)
        k = 2 if i >= 3 and not _PROTECTED.search(words[i - 2]) and not words[i - 3].endswith(",") else 1
        again = words[i - k:i]
        if any(w.endswith(",") for w in again[:-1]):
            again = again[-1:]
        return " ".join(words[:i]) + f", {rng.choice(_EDITS)}, " + " ".join(again) + " " + " ".join(words[i:])
    raise ValueError(f"unknown disfluency kind {kind!r}; use one of {KINDS}")


def add_disfluencies(consultation: Consultation, rate: float, seed: int,
                     patient_share: float = 0.7) -> tuple[Consultation, dict[str, int]]:
    """A copy of the consultation whose turns carry disfluencies at a seeded rate.

    Args:
        consultation: the consultation (its reference note is kept as it is).
        rate: the fraction of turns that get one disfluency (0 = none, 1 = every turn).
        seed: seeds which turns and which kind; same inputs → same text.
        patient_share: patients hesitate more: a patient turn is chosen with probability
            ``rate × 2 × patient_share`` and a clinician's with ``rate × 2 × (1 − patient_share)``
            (capped at 1), so on a balanced dialogue about ``rate`` of the turns change.

    Returns:
        ``(consultation, counts)``: the new consultation and how many of each kind were added
        (counts only: no text, safe to log and store).
    """
    if not 0.0 <= rate <= 1.0:
        raise ValueError("rate must be within [0, 1]")
    counts = {k: 0 for k in KINDS}
    if rate == 0:
        return consultation, counts
    rng = random.Random(seed * 31 + stable_hash(consultation.id + ":disfluency"))
    region = consultation.case.region
    turns = []
    for t in consultation.turns:
        share = patient_share if t.speaker == SpeakerRole.PATIENT else 1.0 - patient_share
        p = min(1.0, rate * 2.0 * share)
        if rng.random() < p:
            kind = rng.choices(KINDS, weights=_WEIGHTS)[0]
            new = disfluent(t.text, kind, rng, region)
            if new != t.text:
                counts[kind] += 1
                t = t.model_copy(update={"text": new})
        turns.append(t)
    return consultation.model_copy(update={"turns": turns}), counts
