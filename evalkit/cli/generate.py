"""``evalkit generate``: synthetic consultations (dialogue, reference note, speech) from case cards
(offline by default; ``--model`` has a language model write them, :mod:`evalkit.synth.llm_generate`)."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from . import app
from ._common import DB_OPTION, console, fail, open_store, RPM_OPTION, TPM_OPTION, pace


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
    channel: Optional[str] = typer.Option(None, "--channel", help="Acoustic channel: clean, room or phone "
                                          "(recorded in the audio's provenance)."),
    noise: Optional[str] = typer.Option(None, "--noise", help="Noise kind for --snr: pink, brown, white, hum, "
                                        "babble (implies --channel clean)."),
    rt60: Optional[float] = typer.Option(None, "--rt60", help="Room reverberation time in seconds (--channel room)."),
    accents: bool = typer.Option(False, "--accents/--no-accents", help="Accented voices from each card's region."),
    overlap: float = typer.Option(0.0, "--overlap", min=0.0, max=1.0,
                                  help="Fraction of hand-overs where the patient talks over the clinician."),
    disfluency: float = typer.Option(0.0, "--disfluency", min=0.0, max=1.0,
                                     help="Fraction of turns with a hesitation, repetition, false start or repair."),
    model: Optional[str] = typer.Option(None, "--model", help="Write dialogues and notes with this litellm model "
                                        "(e.g. openai/gpt-4o-mini; default: the offline generator)."),
    api_base: Optional[str] = typer.Option(None, "--api-base", help="OpenAI-compatible server for --model "
                                           "(vLLM, Ollama, llama.cpp), e.g. http://127.0.0.1:8000/v1."),
    rpm: Optional[float] = RPM_OPTION,
    tpm: Optional[float] = TPM_OPTION,
) -> None:
    """Generate consultations from case cards: seeded dialogue, reference note and espeak-ng speech."""
    pace(rpm, tpm)
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    from ..synth import generate, load_cards
    from ..synth.batch import synthesize_all, write_jsonl
    from ..text.templates import load_template

    if template:
        template = load_template(template).name
    case_cards = load_cards(cards)
    spec = _channel_spec(channel, noise, rt60)
    count = n or len(case_cards)
    columns = (TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn())
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("writing dialogues", total=count)
        if model:
            consultations = _generate_llm(case_cards, count, seed, template, dataset, model, api_base,
                                          None if out is not None else db)
            bar.advance(task, count)
        else:
            consultations = generate(case_cards, count, seed, template, dataset=dataset,
                                     on_item=lambda _c: bar.advance(task))
        if disfluency:
            from ..synth.disfluency import add_disfluencies

            consultations = [add_disfluencies(c, disfluency, c.seed or seed)[0] for c in consultations]
        audio_records = {}
        root = out if out is not None else Path(db).resolve().parent
        if audio:
            task = bar.add_task("synthesising speech", total=count)
            consultations, audio_records = synthesize_all(
                consultations, Path(root) / "audio", root=root, snr_db=snr, engine=engine,
                channel=spec, accents=accents, overlap_rate=overlap, on_item=lambda _c, _a: bar.advance(task))
    speech_min = sum(a.duration for a in audio_records.values()) / 60
    what = f"{len(consultations)} consultations from {len(case_cards)} cards"
    if audio:
        what += f", {speech_min:.1f} min of speech" + (f" at {snr:g} dB SNR" if snr is not None else "")
        what += f", {spec['name']} channel" if spec else ""
    if out is not None:
        path = write_jsonl(consultations, out, audio_records)
        console.print(f"{what} → {path}" + (f" and {out / 'audio'}/" if audio else ""))
        return
    store = open_store(db)
    store.put_consultations(consultations, audio_records)
    console.print(f"{what} → {db} (dataset '{dataset}')" + (f", audio in {root / 'audio'}/" if audio else ""),
                  markup=False)


def _channel_spec(channel: str | None, noise: str | None, rt60: float | None) -> dict | None:
    """The ``--channel/--noise/--rt60`` options as a channel dict for ``synthesize`` (None: the plain path)."""
    if channel is None and noise is None and rt60 is None:
        return None
    from ..synth.channels import ChannelSpec

    spec = {"name": channel or "clean", **({"noise": noise} if noise else {}), **({"rt60": rt60} if rt60 else {})}
    return ChannelSpec.coerce(spec).to_dict()  # validates now: a bad name fails before any speech is made


def _generate_llm(cards: list, n: int, seed: int, template: str | None, dataset: str, model: str,
                  api_base: str | None, db: str | None) -> list:
    """``--model``: consultations written by a model (replies cached in ``db`` when given); a
    generation failure (planted facts still missing, calls failing) is one line, exit code 1."""
    from ..llm.client import LLMClient
    from ..synth.llm_generate import GenerationError, generate_batch_with_llm

    client = LLMClient(open_store(db) if db else None, run_id=f"generate:{dataset}")
    try:
        return generate_batch_with_llm(cards, n, seed, model, template=template, api_base=api_base,
                                       client=client, dataset=dataset)
    except GenerationError as e:
        fail(str(e), 1)
    finally:
        client.close()
