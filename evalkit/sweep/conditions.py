"""The sweep grid: a condition is a voice engine × channel × SNR (× vocabulary prompt), named like ``espeak/room@10dB``."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InputError
from ..synth.channels import CHANNELS

ENGINES = ("espeak", "piper")
VOCAB_MODES = ("off", "on", "both")

__all__ = ["ENGINES", "VOCAB_MODES", "Condition", "conditions_for"]


@dataclass(frozen=True)
class Condition:
    """One cell of the sweep grid: a voice engine, a channel, an SNR, with or without a vocabulary prompt."""

    voice: str
    channel: str
    snr_db: float | None
    vocab_prompt: bool = False

    @property
    def name(self) -> str:
        snr = f"@{self.snr_db:g}dB" if self.snr_db is not None else ""
        return f"{self.voice}/{self.channel}{snr}" + ("+vocab" if self.vocab_prompt else "")

    @property
    def label(self) -> str:
        return f"sweep:{self.name}"

    def slug(self) -> str:
        return self.name.replace("/", "_").replace("@", "_").replace("+", "_")

    @classmethod
    def parse(cls, name: str) -> "Condition":
        """The condition of a name such as ``espeak/room@10dB+vocab`` (or a run label ``sweep:...``)."""
        text = name.removeprefix("sweep:")
        vocab = text.endswith("+vocab")
        text = text.removesuffix("+vocab")
        voice, _, rest = text.partition("/")
        channel, _, snr = rest.partition("@")
        return cls(voice, channel, float(snr.removesuffix("dB")) if snr else None, vocab)

    def to_dict(self) -> dict[str, Any]:
        return {"condition": self.name, "voice": self.voice, "channel": self.channel, "snr": self.snr_db,
                "vocab_prompt": self.vocab_prompt}


def conditions_for(voices: list[str], channels: list[str], snrs: list[float | None],
                   vocab: str = "off") -> list[Condition]:
    """The sweep grid, voice-major: voices × channels × SNRs (× with/without vocabulary prompt).

    Args:
        voices: speech engines (``espeak``, ``piper``).
        channels: ``clean``, ``room``, ``phone``.
        snrs: SNRs in dB; ``None`` for no added noise.
        vocab: ``off``, ``on`` or ``both`` (every condition twice).
    """
    for v in voices:
        if v not in ENGINES:
            raise InputError("--voices", v, "unknown voice engine", f"use any of: {', '.join(ENGINES)}")
    for c in channels:
        if c not in CHANNELS:
            raise InputError("--channel", c, "unknown channel", f"use any of: {', '.join(CHANNELS)}")
    if vocab not in VOCAB_MODES:
        raise InputError("--vocab-prompt", vocab, "unknown mode", f"use one of: {', '.join(VOCAB_MODES)}")
    if not voices or not channels or not snrs:
        raise InputError("sweep", "conditions", "the grid is empty", "give at least one voice, channel and SNR")
    flags = {"off": [False], "on": [True], "both": [False, True]}[vocab]
    return [Condition(v, c, s, f) for v in voices for c in channels for s in snrs for f in flags]
