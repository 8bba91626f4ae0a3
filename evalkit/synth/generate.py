"""Seeded generation of consultations from case cards (dialogue + reference note).

``generate_consultation(case, seed)`` is a pure function of its inputs: the same card, seed and
template give byte-identical JSON. Randomness comes only from
``random.Random(seed + stable_hash(case.id))``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Callable, Sequence

from ..schema import Case, Consultation
from .dialogue import build_script
from .note import build_note

GENERATOR = "offline"
GENERATOR_VERSION = "1"


def stable_hash(text: str) -> int:
    """A hash of ``text`` that is the same in every process (unlike ``hash()``)."""
    return int(hashlib.sha256(text.encode("utf-8")).hexdigest()[:12], 16)


def generate_consultation(case: Case, seed: int, template: str | None = None, *,
                          consultation_id: str | None = None, dataset: str = "synthetic") -> Consultation:
    """Generate one consultation (dialogue turns + reference note) from a card.

    Args:
        case: the case card.
        seed: the seed; the same seed gives the same consultation, byte for byte.
        template: note template name; default the card's ``template``.
        consultation_id: id to give the consultation (default ``f"{case.id}-s{seed}"``).
        dataset: the store dataset name.

    Returns:
        The :class:`Consultation`; its ``reference_note`` sentences cite the turns that state them.
    """
    rng = random.Random(seed + stable_hash(case.id))
    script = build_script(case, rng)
    tpl = (template or case.template).strip()
    note = build_note(script.facts, tpl)
    return Consultation(id=consultation_id or f"{case.id}-s{seed}", case=case, turns=script.turns,
                        reference_note=note, template=note.template or tpl, dataset=dataset, seed=seed,
                        generator=GENERATOR, generator_version=GENERATOR_VERSION)


def item_seed(seed: int, k: int) -> int:
    """The seed of the k-th consultation of a batch (fits a 32-bit signed column)."""
    return (seed * 1_000_003 + k) % 2_147_483_647


def generate(cards: Sequence[Case], n: int, seed: int, template: str | None = None, *,
             dataset: str = "synthetic", on_item: Callable[[Consultation], None] | None = None
             ) -> list[Consultation]:
    """Generate ``n`` consultations, cycling through the cards.

    Args:
        cards: the case cards (e.g. from :func:`evalkit.synth.load_cards`).
        n: how many consultations.
        seed: batch seed; item k uses :func:`item_seed` ``(seed, k)`` (stored in ``Consultation.seed``).
        template: note template for every consultation (default: each card's own).
        dataset: store dataset name.
        on_item: called with each consultation as it is made (progress bars).

    Returns:
        Consultations with ids ``f"{card.id}-s{seed}-{k}"``.
    """
    if not cards:
        raise ValueError("no case cards given")
    out = []
    for k in range(n):
        card = cards[k % len(cards)]
        c = generate_consultation(card, item_seed(seed, k), template,
                                  consultation_id=f"{card.id}-s{seed}-{k}", dataset=dataset)
        out.append(c)
        if on_item:
            on_item(c)
    return out
