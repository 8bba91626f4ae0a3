"""``evalkit demo``: the whole offline pipeline on 16 synthetic consultations."""

from __future__ import annotations

import time
from pathlib import Path

import typer

from . import app
from ._common import console, open_store

DEMO_SCRIBES = "whisper+rules,reference"
#: the streaming scribe run beside the batch one, on the first ``--stream`` consultations
DEMO_STREAM_SCRIBE = "whisper-stream+rules"
DEMO_STREAM_N = 4


def build_demo(directory: Path, n: int = 16, seed: int = 1, scribes: str = DEMO_SCRIBES,
               audio: bool = True, progress: bool = True, stream: int = 0) -> dict:
    """Generate, synthesise, run, score and flag; returns figures for the summary.

    Args:
        directory: where the database (``evalkit.duckdb``) and ``audio/`` go.
        n: number of consultations.
        seed: generation seed (same seed → same consultations and audio).
        scribes: comma-separated scribe specs to run.
        audio: synthesise speech (needed by ASR scribes).
        progress: show progress bars.
        stream: also stream the first ``stream`` consultations through ``whisper-stream+rules`` (a
            separate run, labelled ``demo-stream``); 0 = no streaming run.
    """
    from rich.progress import Progress

    from ..paths import synthetic_dir
    from ..run.runner import run_suite
    from ..run.suite import Suite
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
    stream_ids: list[str] = []
    t_stream = time.perf_counter()
    if stream and audio:
        ssuite = Suite(name="demo-stream", dataset="synthetic", scribes=[DEMO_STREAM_SCRIBE], concurrency=2,
                       limit=min(stream, len(consultations)), metrics=["wer", "adherence"])
        stream_ids = run_suite(ssuite, store, label="demo-stream", progress=progress)
    t_stream = time.perf_counter() - t_stream
    speech_s = sum(a.duration for a in audios.values())
    return {"store": store, "run_ids": run_ids, "stream_ids": stream_ids, "generate_s": t_gen,
            "total_s": time.perf_counter() - t0, "stream_s": t_stream, "speech_s": speech_s, "n": len(consultations),
            "stream_speech_s": sum(a.duration for a in list(audios.values())[:stream]) if stream else 0.0}


def stream_table(store, run_ids: list[str]):
    """A rich table of the streaming figures of some runs, one column per run (a batch run shows its WER only)."""
    from rich.table import Table

    from ..streaming.report import STREAM_COLUMNS, fmt, run_summary

    recs = run_summary(store, run_ids)
    t = Table(title="streaming beside batch", header_style="bold")
    t.add_column("")
    for r in recs:
        t.add_column(f"{r['scribe']}\n{r['run_id']} ({r['sessions']})", justify="right")
    for m, label, spec in STREAM_COLUMNS:
        t.add_row(label, *[fmt(r.get(m), spec) for r in recs])
    return t


@app.command("demo")
def demo_cmd(
    directory: Path = typer.Option(Path("demo"), "--dir", help="Where the demo database and audio go."),
    n: int = typer.Option(16, help="Number of consultations."),
    seed: int = typer.Option(1, help="Generation seed."),
    scribes: str = typer.Option(DEMO_SCRIBES, help="Comma-separated scribes to run."),
    stream: int = typer.Option(DEMO_STREAM_N, "--stream", min=0, help="Also stream the first N consultations "
                               "through whisper-stream+rules (0: no streaming run)."),
) -> None:
    """Generate 16 consultations with audio, run whisper+rules and reference, score, flag, summarise;
    stream a few of them beside the batch run."""
    from .run import runs_table

    console.print(f"[bold]evalkit demo[/] → {directory}/ (offline: espeak-ng voices, Whisper tiny.en, "
                  "rules scribe, grounding judge)")
    res = build_demo(directory, n=n, seed=seed, scribes=scribes, stream=stream)
    store = res["store"]
    table, records = runs_table(store, res["run_ids"])
    console.print(table)
    if res["stream_ids"]:
        console.print(stream_table(store, res["stream_ids"] + res["run_ids"][:1]))
        console.print(f"[dim]{DEMO_STREAM_SCRIBE} on {min(stream, res['n'])} consultations "
                      f"({res['stream_speech_s'] / 60:.1f} min of speech) in {res['stream_s']:.0f} s, audio fed in "
                      "0.5 s chunks on a simulated clock: time to first partial, final latency per utterance, share "
                      "of partial words later changed, real-time factor, final WER (docs/streaming.md).[/]",
                      highlight=False)
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
