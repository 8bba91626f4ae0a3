"""Offline scoring throughput on ONE core: WER + adherence (+ hallucination judge) per session.

Pairs: the 87 ACI-Bench dialogues (train + valid) as references; hypotheses are the same
dialogues with light, seeded synthetic ASR noise (≈3% substitutions — drug names misheard
more often —, 2% deletions, 1% insertions, fillers dropped); notes are the ACI-Bench
reference notes, already parsed. Compared with ``jiwer.wer`` alone on the same raw pairs.

The process uses the garbage-collector settings of ``evalkit run``/``judge``/``wer``
(:func:`evalkit.gcpolicy.batch_mode`) and the mypyc-compiled scoring modules that ``make
install`` builds (:mod:`evalkit.native`; ``EVALKIT_PURE=1`` measures pure Python; the mode is
recorded in the result). Each figure is the fastest whole pass over the 87 pairs, in CPU time of
this one process pinned to one core (the machine is shared: other processes' load would distort
wall-clock figures; the 1-minute load average is recorded with the result). Even CPU time varies
by up to 2x here from minute to minute (a fixed loop took 0.26-0.53 s): the headline takes
passes over 30 s and also reports the median pass; compare runs made back to back.

Run: ``.venv/bin/python bench/bench_scoring.py`` → bench/results/scoring.json.
Target: >= 200 sessions/s on one core.
"""

from __future__ import annotations

import os
import random
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import write_result  # noqa: E402

ACI = HERE.parent / "datasets" / "aci-bench"
TARGET = 200.0
MISHEARD = ["listen", "opera", "mess", "foreman", "pencil", "in", "a", "the", "and", "cola", "fen", "proper"]


def pin_one_core() -> int | None:
    try:
        cpu = sorted(os.sched_getaffinity(0))[-1]
        os.sched_setaffinity(0, {cpu})
        return cpu
    except (AttributeError, OSError):
        return None


def noisy(text: str, rng: random.Random, drug_words: frozenset[str]) -> str:
    out = []
    for w in text.split():
        lw = w.lower().strip(".,?!")
        r = rng.random()
        p_sub = 0.25 if lw in drug_words else 0.03
        if lw in ("um", "uh", "mm-hmm", "uh-huh"):
            continue
        if r < p_sub:
            out.append(rng.choice(MISHEARD))
        elif r < p_sub + 0.02:
            continue
        elif r < p_sub + 0.03:
            out.extend([w, rng.choice(MISHEARD)])
        else:
            out.append(w)
    return " ".join(out)


def load_pairs():
    import pandas as pd

    from evalkit.text.parse import parse_note, parse_transcript
    from evalkit.text.vocab import drugs

    frames = [pd.read_csv(ACI / f) for f in ("train.csv", "valid.csv") if (ACI / f).exists()]
    df = pd.concat(frames, ignore_index=True)
    rng = random.Random(7)
    pairs = []
    for _, row in df.iterrows():
        turns = parse_transcript(row["dialogue"])
        hyp_turns = [t.model_copy(update={"text": noisy(t.text, rng, drugs())}) for t in turns]
        pairs.append((turns, hyp_turns, parse_note(row["note"]), row["dialogue"]))
    return pairs


def timed(fn, pairs, min_seconds: float = 3.0, min_passes: int = 3, passes_out: list | None = None) -> tuple[float, int]:
    """Sessions per CPU-second of the fastest whole pass over ``pairs``.

    CPU time (``time.process_time``) of this single-threaded process pinned to one core,
    so other work on a shared machine does not count against it. Passes repeat until
    ``min_seconds`` of wall time have gone by and at least ``min_passes`` ran; each pass's
    rate is appended to ``passes_out`` when given.
    """
    n = passes = 0
    best = float("inf")
    t_start = time.perf_counter()
    while passes < min_passes or time.perf_counter() - t_start < min_seconds:
        t0 = time.process_time()
        for p in pairs:
            fn(p)
        took = time.process_time() - t0
        best = min(best, took)
        if passes_out is not None:
            passes_out.append(len(pairs) / took)
        n += len(pairs)
        passes += 1
    return len(pairs) / best, n


def main() -> int:
    if not (ACI / "train.csv").exists():
        print(f"bench_scoring: ACI-Bench not found at {ACI}; nothing measured")
        return 1
    cpu = pin_one_core()
    import jiwer

    from evalkit.metrics.adherence import adherence
    from evalkit.metrics.wer import wer_details
    from evalkit.text.templates import load_template

    pairs = load_pairs()
    tpl = load_template("HISTORY_AND_PHYSICAL")
    plain = [(" ".join(t.text for t in ref), " ".join(t.text for t in hyp)) for ref, hyp, _, _ in pairs]
    words = sum(len(r.split()) for r, _ in plain) / len(plain)

    judge = None
    judge_note_skip = None
    try:
        from evalkit.metrics.hallucination import judge_note  # written in parallel by another engineer

        judge_note(pairs[0][0], pairs[0][2])
        judge = judge_note
    except ImportError as e:
        judge_note_skip = f"evalkit.metrics.hallucination.judge_note not available ({e.name or e})"
    except Exception as e:  # noqa: BLE001 - report, do not crash the benchmark
        judge_note_skip = f"judge_note(transcript, note) failed: {type(e).__name__}"

    # warm caches (lexicon, templates) before timing, then the collector settings `evalkit run`,
    # `evalkit judge` and `evalkit wer` use (evalkit.gcpolicy.batch_mode)
    wer_details(pairs[0][0], pairs[0][1])
    adherence(pairs[0][2], tpl)
    from evalkit.gcpolicy import batch_mode

    batch_mode()

    jiwer_rate, _ = timed(lambda p: jiwer.wer(p[0], p[1]), plain)
    wer_rate, _ = timed(lambda p: wer_details(p[0], p[1]), pairs)
    adh_rate, _ = timed(lambda p: adherence(p[2], tpl), pairs)

    def session(p):
        wer_details(p[0], p[1])
        adherence(p[2], tpl)
        if judge is not None:
            judge(p[0], p[2])

    def session_no_judge(p):
        wer_details(p[0], p[1])
        adherence(p[2], tpl)

    own_rate, _ = timed(session_no_judge, pairs)
    # the headline figure: passes over 30 s, as this VM's speed drifts from minute to minute; the
    # fastest pass is the code's cost, the median what a run here typically got
    rates: list[float] = []
    total_rate, n = timed(session, pairs, 30.0, 2, rates)
    median_rate = sorted(rates)[len(rates) // 2]
    judge_rate = None
    if judge is not None:
        judge_rate, _ = timed(lambda p: judge(p[0], p[2]), pairs, 3.0, 2)
    mean_wer = sum(wer_details(r, h).wer for r, h, _, _ in pairs) / len(pairs)

    figures = [
        {"figure": "scoring sessions/s, one core (WER + adherence" + (" + hallucination judge)" if judge else ")"),
         "measured": round(total_rate, 1), "unit": "sessions per CPU-second", "target": f">= {TARGET:.0f}",
         "ok": total_rate >= TARGET},
        {"figure": "the same, median pass (what a pass typically got on this shared machine)",
         "measured": round(median_rate, 1), "unit": "sessions per CPU-second"},
        {"figure": "WER + adherence only, one core", "measured": round(own_rate, 1), "unit": "sessions per CPU-second",
         "target": f">= {TARGET:.0f}", "ok": own_rate >= TARGET},
        {"figure": "evalkit wer_details alone", "measured": round(wer_rate, 1), "unit": "pairs per CPU-second"},
        {"figure": "jiwer.wer alone (raw text, default transform)", "measured": round(jiwer_rate, 1), "unit": "pairs per CPU-second"},
        {"figure": "adherence alone", "measured": round(adh_rate, 1), "unit": "notes per CPU-second"},
        {"figure": "mean reference length", "measured": round(words), "unit": "words"},
        {"figure": "mean WER of the synthetic hypotheses", "measured": round(mean_wer, 3), "unit": ""},
    ]
    if judge_rate is not None:
        figures.append({"figure": "hallucination judge_note alone", "measured": round(judge_rate, 1), "unit": "notes per CPU-second"})
    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else None
    from evalkit import native

    mode, why = native.status()
    print(f"scoring: modules {mode} ({why})")
    write_result("scoring", figures, pinned_cpu=cpu, load_average_1min=load, pairs=len(pairs), sessions_timed=n,
                 native=f"{mode} ({why})",
                 hallucination=("included" if judge else f"skipped: {judge_note_skip}"))
    if judge_note_skip:
        print(f"scoring: hallucination judge skipped — {judge_note_skip}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
