"""Streaming: the built-in ``whisper-stream`` scribe on the demo's 16 consultations, at two window sizes.

For each window (default 8 s and a shortened 4 s; step 1 s, 0.5 s chunks, simulated clock, one
model thread per stream, 2 streams at once on 2 cores) the suite ``whisper-stream+rules`` runs
over the demo's consultations (``evalkit demo``'s cards and seed: 16 consultations, ~28 min of
espeak speech), and the figures are computed from the stored event logs:

- wall time of the whole run / seconds of audio (target ≤ 1.5: the 16 sessions, 2 at a time,
  take no more than 1.5 × their real time);
- per session: real-time factor (compute / audio), time to first partial, final latency per
  utterance (mean, p90), share of partial words later changed, final WER; pooled over sessions
  in the headline figures, listed per session in the result file (``sessions``);
- the batch ``whisper+rules`` WER on the same audio, for the price of streaming in accuracy.

The two windows should differ as the design says: a shorter window re-reads less audio per step
(lower RTF, partials no later) and gives Whisper less context (more partial words change).
These are measured here, never asserted in a test.

Run: ``.venv/bin/python bench/bench_streaming.py [--n 16] [--windows 8,4] [--no-batch]``
→ bench/results/streaming.json.
"""

from __future__ import annotations

import argparse
import os
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import write_result  # noqa: E402


def _load() -> float | None:
    try:
        return round(os.getloadavg()[0], 2)
    except OSError:
        return None


def _dataset(d: Path, n: int):
    from evalkit.paths import synthetic_dir
    from evalkit.store import Store
    from evalkit.synth import generate, load_cards, synthesize, with_turn_times

    store = Store(d / "bench.duckdb")
    cs = generate(load_cards(synthetic_dir() / "cards"), n=n, seed=1)  # evalkit demo's consultations
    audios = {c.id: synthesize(c, d / "audio" / f"{c.id}.wav", seed=1 + i, root=d) for i, c in enumerate(cs)}
    store.put_consultations([with_turn_times(c, audios[c.id]) for c in cs], audios)
    return store, sum(a.duration for a in audios.values())


def _figures_of(store, run_id: str) -> tuple[list[dict], dict]:
    from evalkit.streaming.metrics import stream_figures
    from evalkit.streaming.protocol import StreamResult

    sessions = store.run_sessions(run_id)
    wer = store.scores_frame([run_id])
    wer = wer[wer.metric == "wer"].set_index("consultation_id")["value"]
    rows, lat, shown, changed, compute, audio = [], [], 0, 0, 0.0, 0.0
    for s in sessions.itertuples():
        out = store.session_output(s.session_id)
        if out is None:
            continue
        c = store.get_consultation(s.consultation_id)
        res = StreamResult.from_metadata(out.metadata["stream"])
        f = stream_figures(res, c.turns)
        lat += [x for x in f.latencies if x is not None]
        shown += f.partial_words
        changed += f.changed_words
        compute += res.compute_s or 0.0
        audio += res.audio_s
        rows.append({"consultation": s.consultation_id, "audio_s": round(res.audio_s, 1), "rtf": round(f.rtf or 0, 3),
                     "first_partial_s": round(f.first_partial_s or 0, 2),
                     "final_latency_mean_s": round(f.final_latency_s or 0, 2),
                     "final_latency_p90_s": round(f.final_latency_p90_s or 0, 2),
                     "partial_words_changed": round(f.revision_rate or 0, 3), "partials": f.partials,
                     "wer": round(float(wer.get(s.consultation_id, float("nan"))), 3)})
    pooled = {
        "rtf": compute / audio if audio else None,
        "first_partial_s": statistics.mean(r["first_partial_s"] for r in rows) if rows else None,
        "final_latency_mean_s": statistics.mean(lat) if lat else None,
        "final_latency_p90_s": sorted(lat)[int(0.9 * (len(lat) - 1))] if lat else None,
        "partial_words_changed": changed / shown if shown else None,
        "wer": statistics.mean(r["wer"] for r in rows) if rows else None,
        "max_session_rtf": max(r["rtf"] for r in rows) if rows else None,
    }
    return rows, pooled


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--n", type=int, default=16, help="consultations (the demo's 16)")
    ap.add_argument("--windows", default="8,4", help="window lengths in seconds, the default first")
    ap.add_argument("--step", type=float, default=1.0)
    ap.add_argument("--concurrency", type=int, default=2)
    ap.add_argument("--no-batch", action="store_true", help="skip the batch whisper+rules run")
    args = ap.parse_args()
    from evalkit.run.runner import run_suite
    from evalkit.run.suite import Suite

    figures: list[dict] = []
    extra: dict = {"settings": {"n": args.n, "step_s": args.step, "chunk_s": 0.5, "pace": "simulated",
                                "concurrency": args.concurrency, "cpu_threads_per_stream": 1}, "runs": {}}
    windows = [float(w) for w in args.windows.split(",")]
    with tempfile.TemporaryDirectory(prefix="evalkit-bench-stream-") as tmp:
        t = time.perf_counter()
        store, audio_s = _dataset(Path(tmp), args.n)
        extra["settings"]["audio_min"] = round(audio_s / 60, 1)
        extra["synthesis_s"] = round(time.perf_counter() - t, 1)
        pooled_by = {}
        for w in windows:
            suite = Suite(name="bench-stream", dataset="synthetic", scribes=["whisper-stream+rules"], metrics=["wer"],
                          concurrency=args.concurrency,
                          scribe_options={"whisper-stream": {"window_s": w, "step_s": args.step, "cpu_threads": 1}})
            load0 = _load()
            t = time.perf_counter()
            rid = run_suite(suite, store, label=f"w{w:g}", progress=False)[0]
            wall = time.perf_counter() - t
            rows, pooled = _figures_of(store, rid)
            pooled_by[w] = pooled
            extra["runs"][f"window {w:g} s"] = {"wall_s": round(wall, 1), "load_before": load0, "load_after": _load(),
                                                "pooled": pooled, "sessions": rows}
            tag = f"window {w:g} s"
            figures += [
                {"figure": f"{tag}: wall time / audio, {args.n} consultations, {args.concurrency} at a time",
                 "measured": round(wall / audio_s, 3), "unit": "x real time", "target": "<= 1.5",
                 "ok": wall / audio_s <= 1.5},
                {"figure": f"{tag}: RTF per stream (compute / audio), pooled", "measured": round(pooled["rtf"], 3),
                 "unit": "x", "target": "< 1 (keeps up)", "ok": pooled["rtf"] < 1},
                {"figure": f"{tag}: worst session RTF", "measured": pooled["max_session_rtf"], "unit": "x"},
                {"figure": f"{tag}: time to first partial, mean", "measured": round(pooled["first_partial_s"], 2),
                 "unit": "s"},
                {"figure": f"{tag}: final latency per utterance, mean", "measured":
                    round(pooled["final_latency_mean_s"], 2), "unit": "s"},
                {"figure": f"{tag}: final latency per utterance, p90", "measured":
                    round(pooled["final_latency_p90_s"], 2), "unit": "s"},
                {"figure": f"{tag}: partial words later changed", "measured":
                    round(pooled["partial_words_changed"], 3), "unit": ""},
                {"figure": f"{tag}: final WER, mean over sessions", "measured": round(pooled["wer"], 3), "unit": ""},
            ]
        if len(windows) >= 2:
            a, b = pooled_by[windows[0]], pooled_by[windows[1]]
            figures += [
                {"figure": f"shorter window ({windows[1]:g} s vs {windows[0]:g} s): partial words changed",
                 "measured": f"{a['partial_words_changed']:.3f} → {b['partial_words_changed']:.3f}",
                 "target": "more change", "ok": b["partial_words_changed"] > a["partial_words_changed"]},
                {"figure": f"shorter window ({windows[1]:g} s vs {windows[0]:g} s): RTF",
                 "measured": f"{a['rtf']:.3f} → {b['rtf']:.3f}", "target": "less compute", "ok": b["rtf"] < a["rtf"]},
                {"figure": f"shorter window ({windows[1]:g} s vs {windows[0]:g} s): time to first partial",
                 "measured": f"{a['first_partial_s']:.2f} → {b['first_partial_s']:.2f} s", "target": "no later",
                 "ok": b["first_partial_s"] <= a["first_partial_s"] + 0.05},
            ]
        if not args.no_batch:
            suite = Suite(name="bench-stream", dataset="synthetic", scribes=["whisper+rules"], metrics=["wer"],
                          concurrency=args.concurrency)
            t = time.perf_counter()
            rid = run_suite(suite, store, label="batch", progress=False)[0]
            wall = time.perf_counter() - t
            w = store.scores_frame([rid])
            mean = float(w[w.metric == "wer"]["value"].mean())
            figures += [{"figure": "batch whisper+rules (beam 5) on the same audio: WER, mean over sessions",
                         "measured": round(mean, 3), "unit": ""},
                        {"figure": "batch whisper+rules: wall time / audio", "measured": round(wall / audio_s, 3),
                         "unit": "x real time"}]
    write_result("streaming", figures, **extra)


if __name__ == "__main__":
    main()
