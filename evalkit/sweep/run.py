"""Robustness sweeps: every case under every acoustic condition — where does this scribe break?

A sweep generates ``n`` consultations from case cards (seeded, with disfluencies), speaks each
one once per voice engine, passes the speech through every channel × SNR condition
(:mod:`evalkit.synth.channels`), runs the scribe on each, and scores it with the suite metrics
(WER, medical-term WER, numeric errors, note metrics). Each condition is stored as its own run,
labelled ``sweep:<condition>`` (e.g. ``sweep:espeak/room@10dB``), so ``evalkit compare`` and
the dashboards work on it; the consultation ids are shared, so conditions pair case by case.

Everything is seeded and resumable: running the same sweep again skips the sessions already
stored. The audio of each condition is kept under ``<db folder>/audio/sweep-<id>/`` and linked
from the session's output (``output.metadata["audio"]``), so the session view plays what the
scribe really heard.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Callable

from ..errors import InputError
from ..schema import Audio, Consultation, content_hash
from ..synth.channels import NOISES, ChannelSpec
from .conditions import Condition, conditions_for

log = logging.getLogger("evalkit.sweep")


__all__ = ["Condition", "SweepConfig", "SweepResult", "conditions_for", "prepare_consultations", "run_sweep"]


@dataclass
class SweepConfig:
    """Everything that defines a sweep (its id is a hash of these fields).

    Args:
        cards: folder of case cards (default: the shipped ``synthetic/cards``).
        n: number of consultations (cycles through the cards).
        seed: seeds text, disfluencies, voices, noise, rooms and packet losses.
        scribe: scribe spec, e.g. ``whisper+rules``.
        snrs: SNR levels in dB (``None`` = no added noise).
        channels: channels (``clean``, ``room``, ``phone``).
        voices: speech engines (``espeak``; ``piper`` needs the ``voices`` extra).
        noise: noise kind (``pink``, ``brown``, ``white``, ``hum``, ``babble``).
        disfluency: fraction of turns with a hesitation, repetition, false start or self-correction.
        overlap: fraction of clinician→patient hand-overs where the patient talks over the end.
        vocab_prompt: ``off``, ``on`` or ``both`` (Whisper prompted with the card's medications).
        rt60: room reverberation time (s) for the ``room`` channel.
        mic_distance_m: microphone distance (m) for the ``room`` channel.
        packet_loss: lost packet fraction for the ``phone`` channel.
        metrics: metric groups (``wer``, ``adherence``, ``hallucination``).
        judge: judge spec for the hallucination metrics (``grounding`` is offline).
        scribe_options: per-stage scribe options, e.g. ``{"whisper": {"beam_size": 1}}``.
        concurrency: cases processed at once.
        normalizer: WER text normalisation, ``evalkit`` or ``whisper`` (:mod:`evalkit.text.normalizers`).
    """

    cards: str | None = None
    n: int = 8
    seed: int = 1
    scribe: str = "whisper+rules"
    snrs: list[float | None] = field(default_factory=lambda: [30.0, 20.0, 10.0, 5.0])
    channels: list[str] = field(default_factory=lambda: ["clean", "room", "phone"])
    voices: list[str] = field(default_factory=lambda: ["espeak"])
    noise: str = "pink"
    disfluency: float = 0.1
    overlap: float = 0.05
    vocab_prompt: str = "off"
    rt60: float = 0.4
    mic_distance_m: float = 1.0
    packet_loss: float = 0.02
    metrics: list[str] = field(default_factory=lambda: ["wer", "adherence", "hallucination"])
    judge: Any = "grounding"
    scribe_options: dict[str, dict[str, Any]] = field(default_factory=dict)
    concurrency: int = 2
    normalizer: str = "evalkit"

    def __post_init__(self) -> None:
        from ..text.normalizers import get_normalizer

        get_normalizer(self.normalizer, source="--normalizer")  # a one-line error for an unknown name
        if self.noise not in NOISES:
            raise InputError("--noise", self.noise, "unknown noise", f"use one of: {', '.join(NOISES)}")
        if self.n < 1:
            raise InputError("--n", str(self.n), "must be at least 1", "give a positive number of cases")
        for name in ("disfluency", "overlap"):
            if not 0.0 <= getattr(self, name) <= 1.0:
                raise InputError(f"--{name}", str(getattr(self, name)), "is not a fraction", "use a value in [0, 1]")

    def conditions(self) -> list[Condition]:
        return conditions_for(self.voices, self.channels, self.snrs, self.vocab_prompt)

    def text_key(self, card_ids: list[str]) -> str:
        """Hash of what defines the consultations' text (shared by sweeps of other scribes)."""
        return content_hash({"cards": card_ids, "n": self.n, "seed": self.seed, "disfluency": self.disfluency}, 8)

    def audio_key(self) -> dict[str, Any]:
        return {"noise": self.noise, "overlap": self.overlap, "rt60": self.rt60, "mic": self.mic_distance_m,
                "loss": self.packet_loss}

    def channel_for(self, cond: Condition) -> ChannelSpec:
        return ChannelSpec(name=cond.channel, snr_db=cond.snr_db, noise=self.noise, rt60=self.rt60,
                           mic_distance_m=self.mic_distance_m, packet_loss=self.packet_loss)


@dataclass
class SweepResult:
    """What a sweep did: its id, the dataset, one run id per condition, the summary rows, timings."""

    sweep_id: str
    dataset: str
    runs: dict[str, str]  # condition name → run id
    rows: list[dict[str, Any]]
    wall_s: float
    synth_s: float = 0.0
    audio_s: float = 0.0  # seconds of audio synthesised


def prepare_consultations(config: SweepConfig) -> tuple[list[Consultation], dict[str, int]]:
    """Generate the sweep's consultations (seeded) and add disfluencies.

    Returns:
        ``(consultations, counts)``: ids ``<card>-s<seed>-<k>-sw<hash>`` in dataset
        ``sweep-<hash>``, and how many disfluencies of each kind were added.
    """
    from ..synth import generate, load_cards
    from ..synth.disfluency import add_disfluencies

    cards = load_cards(config.cards)
    key = config.text_key([content_hash(c) for c in cards])
    dataset = f"sweep-{key}"
    out, counts = [], {}
    for c in generate(cards, config.n, config.seed, dataset=dataset):
        c = c.model_copy(update={"id": f"{c.id}-sw{key[:6]}"})
        c, k = add_disfluencies(c, config.disfluency, config.seed)
        for kind, v in k.items():
            counts[kind] = counts.get(kind, 0) + v
        out.append(c)
    return out, counts


def _scribe_options(config: SweepConfig, cond: Condition) -> dict[str, dict[str, Any]]:
    opts = {k: dict(v) for k, v in config.scribe_options.items()}
    asr = config.scribe.split("+")[0].strip()
    if cond.vocab_prompt:
        if asr != "whisper":
            raise InputError("--vocab-prompt", "on", f"only the whisper transcriber takes a vocabulary prompt, not {asr!r}",
                             "use --vocab-prompt off, or a whisper pipeline such as whisper+rules")
        opts.setdefault("whisper", {})["vocab_prompt"] = True
    return opts


def run_sweep(config: SweepConfig, store: Any, *, progress: bool = True,
              on_step: Callable[[str], None] | None = None) -> SweepResult:
    """Run the sweep: synthesise every case under every condition, run the scribe, score, store.

    Args:
        config: the sweep.
        store: the :class:`~evalkit.store.Store`; audio goes next to the database file.
        progress: show a progress bar.
        on_step: called with a short message (no patient text) after each stage.

    Returns:
        The :class:`SweepResult`; ``rows`` has one dict per condition (see
        :func:`evalkit.sweep.report.summarise`).
    """
    from .. import __version__
    from ..run.runner import process_case
    from ..run.suite import Suite
    from .report import summarise
    from ..synth.tts import synthesize, with_turn_times

    t0 = time.perf_counter()
    conds = config.conditions()
    if "piper" in config.voices:
        from ..synth.piper_engine import available

        if not available():
            raise InputError("--voices", "piper", "the piper engine is not installed",
                             "pip install 'evalkit[voices]', or use --voices espeak")
    consultations, dcounts = prepare_consultations(config)
    dataset = consultations[0].dataset
    key: dict[str, Any] = {"data": dataset, "audio": config.audio_key(), "scribe": config.scribe,
                           "opts": config.scribe_options, "metrics": config.metrics, "judge": str(config.judge)}
    if config.normalizer != "evalkit":  # left out by default: sweeps made before the choice keep their ids
        key["normalizer"] = config.normalizer
    sweep_id = content_hash(key, 10)
    root = Path(store.root)
    audio_dir = root / "audio" / f"sweep-{content_hash({'d': dataset, 'a': config.audio_key()}, 8)}"
    suites, run_ids, todo = {}, {}, {}
    for cond in conds:
        suite = Suite(name=f"sweep-{sweep_id}", dataset=dataset, scribes=[config.scribe],
                      scribe_options=_scribe_options(config, cond), metrics=list(config.metrics), judge=config.judge,
                      concurrency=config.concurrency, label=cond.label, normalizer=config.normalizer)
        rid = content_hash({"sweep": sweep_id, "condition": cond.name}, 12)
        store.create_run(run_id=rid, label=cond.label, suite_name=suite.name, suite=suite.model_dump(mode="json"),
                         suite_hash=suite.hash(), dataset=dataset, scribe=config.scribe, judge=str(config.judge),
                         evalkit_version=__version__, cases=len(consultations))
        done = store.done_sessions(rid)
        suites[cond.name], run_ids[cond.name] = suite, rid
        todo[cond.name] = [c for c in consultations if c.id not in done]
        if todo[cond.name]:  # resumed: running until it finishes (a no-op resume leaves it finished)
            store.mark_running(rid, cases=len(consultations))
    pending = {c.id for cs in todo.values() for c in cs}
    stats = {"synth_s": 0.0, "audio_s": 0.0}

    def synth_case(c: Consultation) -> dict[str, Audio]:
        """All the conditions this case still needs, from one clean rendering per engine."""
        out = {}
        t = time.perf_counter()
        for cond in conds:
            if c.id not in {x.id for x in todo[cond.name]}:
                continue
            wav = audio_dir / cond.slug() / f"{c.id}.wav"
            out[cond.name] = synthesize(c, wav, seed=c.seed or 0, engine=cond.voice, root=root,
                                        channel=config.channel_for(cond), overlap_rate=config.overlap)
            stats["audio_s"] += out[cond.name].duration
        stats["synth_s"] += time.perf_counter() - t
        return out

    known = {c.id for c in store.list_consultations(dataset)}
    if any(c.id not in known for c in consultations):
        store.put_consultations([c for c in consultations if c.id not in known])
    work_cases = [c for c in consultations if c.id in pending]
    total = sum(len(v) for v in todo.values())
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    def case_work(c: Consultation) -> list[tuple[str, Any]]:
        audios = synth_case(c)
        results = []
        for cond in conds:
            a = audios.get(cond.name)
            if a is None:
                continue
            res = process_case(with_turn_times(c, a), a, config.scribe, suites[cond.name], str(root),
                               run_ids[cond.name])
            if res.output is not None:  # the session view plays what the scribe heard
                res.output.metadata["audio"] = a.model_dump(mode="json")
                res.output.metadata["condition"] = cond.name
            results.append((cond.name, res))
        if audios and c.id not in known:  # the consultation's own audio: its first condition
            store.set_audio(c.id, next(iter(audios.values())))
        return results

    cols = [TextColumn("[bold]sweep[/] {task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*cols, disable=not progress, transient=False) as bar, \
            ThreadPoolExecutor(max_workers=max(1, config.concurrency)) as pool:
        task = bar.add_task(f"{len(conds)} conditions × {len(consultations)} cases", total=total)
        for results in pool.map(case_work, work_cases):
            for name, res in results:
                store.write_results(run_ids[name], [res])
                bar.update(task, advance=1)
    for cond in conds:
        store.finish_run(run_ids[cond.name], "finished",
                         summary={"cases": len(consultations), "sweep": sweep_id, **cond.to_dict(),
                                  "noise": config.noise, "disfluency": config.disfluency,
                                  "normalizer": config.normalizer,
                                  "disfluencies": dcounts, "overlap": config.overlap})
    if on_step:
        on_step(f"scored {total} sessions")
    rows = summarise(store, [(cond, run_ids[cond.name]) for cond in conds])
    return SweepResult(sweep_id=sweep_id, dataset=dataset, runs=run_ids, rows=rows,
                       wall_s=time.perf_counter() - t0, synth_s=stats["synth_s"], audio_s=stats["audio_s"])
