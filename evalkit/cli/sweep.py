"""``evalkit sweep``: every case under every voice × channel × SNR condition — where does the scribe break?"""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer
from rich.table import Table

from . import app
from ._common import DB_OPTION, console, open_store


def _split(text: str) -> list[str]:
    return [t.strip() for t in text.split(",") if t.strip()]


def _pct(v) -> str:
    return "–" if v is None else f"{v:.1%}"


@app.command("sweep")
def sweep_cmd(
    cards: Optional[Path] = typer.Option(None, "--cards", help="Folder of case cards (default: synthetic/cards)."),
    n: int = typer.Option(8, "--n", min=1, help="Cases (cycles through the cards)."),
    seed: int = typer.Option(1, "--seed", help="Seed for text, voices, noise, rooms and packet loss."),
    scribe: str = typer.Option("whisper+rules", "--scribe", help="Scribe pipeline, e.g. whisper+rules."),
    snr: str = typer.Option("30,20,10,5", "--snr", help="SNRs in dB, comma-separated ('inf' = no added noise)."),
    channel: str = typer.Option("clean,room,phone", "--channel", help="Channels: clean, room, phone."),
    voices: str = typer.Option("espeak", "--voices", help="Speech engines: espeak, piper (needs evalkit[voices])."),
    noise: str = typer.Option("pink", "--noise", help="Noise: pink, brown, white, hum, babble."),
    disfluency: float = typer.Option(0.1, "--disfluency", min=0.0, max=1.0,
                                     help="Fraction of turns with a hesitation, repetition, false start or repair."),
    overlap: float = typer.Option(0.05, "--overlap", min=0.0, max=1.0,
                                  help="Fraction of hand-overs where the patient talks over the clinician."),
    vocab_prompt: str = typer.Option("off", "--vocab-prompt",
                                     help="Whisper prompted with the card's medications: off, on, or both."),
    rt60: float = typer.Option(0.4, "--rt60", help="Room reverberation time in seconds (room channel)."),
    mic_distance: float = typer.Option(1.0, "--mic-distance", help="Microphone distance in metres (room channel)."),
    packet_loss: float = typer.Option(0.02, "--packet-loss", help="Lost packet fraction (phone channel)."),
    beam_size: Optional[int] = typer.Option(None, "--beam-size", help="Whisper beam size (default 5; 1 is faster)."),
    model_dir: Optional[str] = typer.Option(None, "--model-dir", help="CTranslate2 Whisper model directory."),
    metrics: str = typer.Option("wer,adherence,hallucination", "--metrics", help="Metric groups."),
    judge: str = typer.Option("grounding", "--judge", help="Judge for the note metrics (grounding is offline)."),
    normalizer: str = typer.Option("evalkit", "--normalizer", help="WER text normalisation: evalkit or whisper."),
    concurrency: int = typer.Option(2, "--concurrency", min=1, max=32, help="Cases processed at once."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write one JSON object per condition here."),
    report: Optional[Path] = typer.Option(None, "--report", help="Write report.md and WER/numeric-error curves here."),
    db: str = DB_OPTION,
    progress: bool = typer.Option(True, "--progress/--no-progress", help="Show a progress bar."),
) -> None:
    """Robustness sweep: speak every case under every condition, run the scribe, score, and plot the curves.

    Each condition is stored as its own run labelled sweep:<condition> (compare and dashboards work on it).
    """
    from ..synth.channels import parse_snr
    from ..sweep.run import SweepConfig, run_sweep
    from ..sweep.report import break_points, write_json, write_report

    options: dict[str, dict] = {}
    asr = scribe.split("+")[0].strip()
    if beam_size is not None:
        options.setdefault(asr, {})["beam_size"] = beam_size
    if model_dir is not None:
        options.setdefault(asr, {})["model_dir"] = model_dir
    config = SweepConfig(cards=str(cards) if cards else None, n=n, seed=seed, scribe=scribe,
                         snrs=[parse_snr(s) for s in _split(snr)], channels=_split(channel), voices=_split(voices),
                         noise=noise, disfluency=disfluency, overlap=overlap, vocab_prompt=vocab_prompt, rt60=rt60,
                         mic_distance_m=mic_distance, packet_loss=packet_loss, metrics=_split(metrics), judge=judge,
                         scribe_options=options, concurrency=concurrency, normalizer=normalizer)
    conds = config.conditions()
    store = open_store(db)
    console.print(f"sweep: {len(conds)} conditions × {n} cases with {scribe}")
    result = run_sweep(config, store, progress=progress)
    table = Table(title=f"sweep {result.sweep_id} ({result.wall_s:.0f} s)", header_style="bold")
    streamed = any(r.get("stream_final_latency_s") is not None for r in result.rows)
    heads = ["condition", "n", "WER", "medical WER", "numeric err.", "halluc."]
    heads += ["final latency", "revised"] if streamed else []
    for h in heads + ["run"]:
        table.add_column(h, justify="left" if h in ("condition", "run") else "right", no_wrap=h in ("condition", "run"))
    for r in result.rows:
        cells = [r["condition"], str(r["n"]), _pct(r["wer"]), _pct(r["medical_wer"]),
                 _pct(r["numeric_error_rate"]), _pct(r["hallucination_rate"])]
        if streamed:
            lat = r.get("stream_final_latency_s")
            cells += ["–" if lat is None else f"{lat:.2f} s", _pct(r.get("stream_revision_rate"))]
        table.add_row(*cells, r["run_id"])
    console.print(table)
    console.print(f"[dim]WER normaliser: {config.normalizer}[/]", highlight=False)
    for b in break_points(result.rows):
        if b["metric"] in ("wer", "numeric_error_rate") and b["breaks_at_snr"] is not None:
            at = "even without noise" if b["breaks_at_snr"] == "clean" else f"at {b['breaks_at_snr']:g} dB SNR"
            console.print(f"  {b['series']}: {b['metric']} > {b['threshold']:g} {at}")
    if json_out is not None:
        console.print(f"→ {write_json(result.rows, json_out)}")
    if report is not None:
        out = write_report(result.rows, report, meta={
            "scribe": scribe, "cases": n, "seed": seed, "voices": voices, "noise": noise,
            "disfluency": disfluency, "overlap": overlap, "WER normaliser": config.normalizer,
            "sweep": result.sweep_id, "database": db})
        console.print(f"→ {out['markdown']} ({out['format'].upper()} curves)")
