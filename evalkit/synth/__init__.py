"""Synthetic consultations: case cards → seeded dialogue + reference note → speech.

- :func:`load_cards` reads ``synthetic/cards/*.yaml`` into :class:`~evalkit.schema.Case`.
- :func:`generate_consultation` / :func:`generate` make dialogues and reference notes (offline, seeded).
- :func:`spoken_form` turns written clinical text into what a voice should say.
- :func:`synthesize` speaks a consultation into a 16 kHz WAV with per-turn times; :func:`read_wav` reads one.

Note: ``evalkit.synth.generate`` is the *function* here; the module is ``evalkit.synth.generate``
imported with ``from evalkit.synth.generate import ...``.
"""

from .cards import default_cards_dir, load_card, load_cards
from .generate import generate, generate_consultation, item_seed, stable_hash
from .spoken import spoken_form
from .tts import read_wav, synthesize, with_turn_times

__all__ = [
    "default_cards_dir", "generate", "generate_consultation", "item_seed", "load_card", "load_cards",
    "read_wav", "spoken_form", "stable_hash", "synthesize", "with_turn_times",
]
