"""Batch helpers: speak many consultations, and write a generated set to files or to the store."""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from pathlib import Path

from ..schema import Audio, Consultation
from .tts import synthesize, with_turn_times


def synthesize_all(consultations: Sequence[Consultation], audio_dir: str | Path, *, root: str | Path,
                   seed: int = 0, snr_db: float | None = None, engine: str = "espeak",
                   channel=None, accents: bool = False, overlap_rate: float = 0.0,
                   on_item: Callable[[Consultation, Audio], None] | None = None
                   ) -> tuple[list[Consultation], dict[str, Audio]]:
    """Speak every consultation into ``audio_dir/<id>.wav``.

    Args:
        consultations: what to speak.
        audio_dir: folder for the WAV files.
        root: folder the ``Audio.path`` values are relative to (the database's folder).
        seed: fallback seed for consultations without ``seed`` (each uses its own ``seed`` otherwise).
        snr_db: background noise level, or None for clean speech.
        engine: speech engine name.
        channel: acoustic channel (``clean``, ``room``, ``phone``, a dict of
            :class:`evalkit.synth.channels.ChannelSpec` fields, or a spec); None = the plain noise path.
        accents: accented voices from each card's region.
        overlap_rate: fraction of clinician→patient hand-overs the patient talks over.
        on_item: progress callback.

    Returns:
        The consultations with per-turn start/end times, and their Audio records by id.
    """
    out: list[Consultation] = []
    audio: dict[str, Audio] = {}
    for c in consultations:
        a = synthesize(c, Path(audio_dir) / f"{c.id}.wav", seed=c.seed if c.seed is not None else seed,
                       snr_db=snr_db, engine=engine, root=root,
                       channel=channel, accents=accents, overlap_rate=overlap_rate)
        audio[c.id] = a
        out.append(with_turn_times(c, a))
        if on_item:
            on_item(c, a)
    return out, audio


def write_jsonl(consultations: Sequence[Consultation], out_dir: str | Path,
                audio: dict[str, Audio] | None = None) -> Path:
    """Write ``out_dir/consultations.jsonl`` (and ``audio.jsonl`` when there is audio).

    Args:
        consultations: one JSON object per line (the :class:`Consultation` schema).
        out_dir: the folder (created).
        audio: Audio records by consultation id (paths relative to ``out_dir``).

    Returns:
        The path of ``consultations.jsonl``.
    """
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    path = d / "consultations.jsonl"
    with path.open("w", encoding="utf-8") as f:
        for c in consultations:
            f.write(c.model_dump_json() + "\n")
    if audio:
        with (d / "audio.jsonl").open("w", encoding="utf-8") as f:
            for c in consultations:
                if c.id in audio:
                    f.write(json.dumps({"consultation_id": c.id, **audio[c.id].model_dump(mode="json")}) + "\n")
    return path
