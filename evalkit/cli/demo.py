"""``evalkit demo``: the whole offline pipeline on 16 synthetic consultations."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from . import app
from ._common import console, open_store

DEMO_SCRIBES = "whisper+rules,reference"


def build_demo(directory: Path, n: int = 16, seed: int = 1, scribes: str = DEMO_SCRIBES,
               audio: bool = True, progress: bool = True) -> dict:
    """Generate, synthesise, run, score and flag; returns figures for the summary.

    Args:
        directory: where the database (``evalkit.duckdb``) and ``audio/`` go.
        n: number of consultations.
        seed: generation seed (same seed → same consultations and audio).
        scribes: comma-separated scribe specs to run.
        audio: synthesise speech (needed by ASR scribes).
        progress: show progress bars.
    """
    from rich.progress import Progress

    from ..paths import synthetic_dir
    from ..runner import run_suite
    from ..suite import Suite
    from ..synth import generate, load_cards, synthesize, with_turn_times

    directory.mkdir(parents=True, exist_ok=True)
    store = open_store(directory / "evalkit.duckdb")
    t0 = time.perf_counter()
    cards = load_cards(synthetic_dir() / "cards")
    consultations = generate(cards, n=n, seed=seed)
    audios = {}
    audio_dir = directory / "audio"
    if audio:
        audio_dir.mkdir(exist_ok=True)
        with Progress(disable=not progress, transient=True) as bar:
            task = bar.add_task("synthesising speech", total=len(consultations))
            for i, c in enumerate(consultations):
                a = synthesize(c, audio_dir / f"{c.id}.wav", seed=seed + i, root=directory)
                audios[c.id] = a
                bar.advance(task)
    consultations = [with_turn_times(c, audios.get(c.id)) for c in consultations]
    store.put_consultations(consultations, audios)
    t_gen = time.perf_counter() - t0
    suite = Suite(name="demo", dataset="synthetic",
                  scribes=[s.strip() for s in scribes.split(",") if s.strip()], concurrency=2)
    run_ids = run_suite(suite, store, label="demo", progress=progress)
    speech_s = sum(a.duration for a in audios.values())
    return {"store": store, "run_ids": run_ids, "generate_s": t_gen, "total_s": time.perf_counter() - t0,
            "speech_s": speech_s, "n": len(consultations)}


@app.command("demo")
def demo_cmd(
    directory: Path = typer.Option(Path("demo"), "--dir", help="Where the demo database and audio go."),
    n: int = typer.Option(16, help="Number of consultations."),
    seed: int = typer.Option(1, help="Generation seed."),
    scribes: str = typer.Option(DEMO_SCRIBES, help="Comma-separated scribes to run."),
) -> None:
    """Generate 16 consultations with audio, run whisper+rules and reference, score, flag, summarise."""
    from .run import runs_table

    console.print(f"[bold]evalkit demo[/] → {directory}/ (offline: espeak-ng voices, Whisper tiny.en, "
                  "rules scribe, grounding judge)")
    res = build_demo(directory, n=n, seed=seed, scribes=scribes)
    store = res["store"]
    table, records = runs_table(store, res["run_ids"])
    console.print(table)
    flagged = sum(int(r.get("flagged") or 0) for r in records)
    console.print(
        f"{res['n']} consultations, {res['speech_s'] / 60:.1f} min of speech, "
        f"{flagged} flagged sessions; wall time {res['total_s']:.0f} s "
        f"(generation + speech {res['generate_s']:.0f} s).")
    db = directory / "evalkit.duckdb"
    console.print(f"\nNext:\n  evalkit app --db {db}        # review flagged sessions in the browser "
                  "(the first visit creates the admin account)"
                  f"\n  evalkit runs --db {db}       # the table above, any time"
                  f"\n  evalkit compare {res['run_ids'][0]} {res['run_ids'][-1]} --db {db}")
