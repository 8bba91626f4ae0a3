"""``evalkit generate``: synthetic consultations (dialogue, reference note, speech) from case cards."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from ._common import DB_OPTION, console, open_store


@app.command("generate")
def generate_cmd(
    cards: Optional[Path] = typer.Option(None, "--cards", help="Folder of case cards (default: synthetic/cards)."),
    n: Optional[int] = typer.Option(None, "--n", min=1, help="How many consultations (cycles the cards; "
                                    "default: one per card)."),
    seed: int = typer.Option(1, "--seed", help="Seed: the same seed gives the same text and audio."),
    template: Optional[str] = typer.Option(None, "--template", help="Note template for every consultation "
                                           "(default: each card's own), e.g. SOAP, BIRP."),
    out: Optional[Path] = typer.Option(None, "--out", help="Write DIR/consultations.jsonl (and DIR/audio/) "
                                       "instead of the database."),
    db: str = DB_OPTION,
    dataset: str = typer.Option("synthetic", "--dataset", help="Dataset name in the database."),
    audio: bool = typer.Option(True, "--audio/--no-audio", help="Synthesise speech (needed by ASR scribes)."),
    snr: Optional[float] = typer.Option(None, "--snr", help="Add background noise at this SNR in dB."),
    engine: str = typer.Option("espeak", "--engine", help="Speech engine."),
) -> None:
    """Generate consultations from case cards: seeded dialogue, reference note and espeak-ng speech."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..synth import generate, load_cards
    from ..synth.batch import synthesize_all, write_jsonl
    from ..templates import load_template

    if template:
        template = load_template(template).name
    case_cards = load_cards(cards)
    count = n or len(case_cards)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("writing dialogues", total=count)
        consultations = generate(case_cards, count, seed, template, dataset=dataset,
                                 on_item=lambda _c: bar.advance(task))
        audio_records = {}
        root = out if out is not None else Path(db).resolve().parent
        if audio:
            task = bar.add_task("synthesising speech", total=count)
            consultations, audio_records = synthesize_all(
                consultations, Path(root) / "audio", root=root, snr_db=snr, engine=engine,
                on_item=lambda _c, _a: bar.advance(task))
    speech_min = sum(a.duration for a in audio_records.values()) / 60
    what = f"{len(consultations)} consultations from {len(case_cards)} cards"
    if audio:
        what += f", {speech_min:.1f} min of speech" + (f" at {snr:g} dB SNR" if snr is not None else "")
    if out is not None:
        path = write_jsonl(consultations, out, audio_records)
        console.print(f"{what} → {path}" + (f" and {out / 'audio'}/" if audio else ""))
        return
    store = open_store(db)
    store.put_consultations(consultations, audio_records)
    console.print(f"{what} → {db} (dataset '{dataset}')" + (f", audio in {root / 'audio'}/" if audio else ""))
