"""Speech realism and robustness: synthesis and ASR real-time factors per engine and channel,
Whisper with and without a vocabulary prompt, and the wall time of a robustness sweep.

- Synthesis RTF: wall-clock time to speak one whole generated consultation / its duration,
  per engine (espeak; piper when the ``voices`` extra is installed, voice already loaded), and
  the extra time each channel (clean + noise, room, phone, babble) adds.
- ASR RTF: whisper tiny.en (int8, beam 5, VAD, 2 threads; model loaded) on the same
  consultation under each channel at 10 dB SNR, with its WER.
- Vocabulary prompt: WER and medical-term WER of ``whisper`` on clean speech of ``--vocab-cases``
  consultations without a prompt, with the card's own medications, and with the medications of
  a *different* card (a prompt helps only when it holds the right words).
- Sweep: ``evalkit sweep`` wall time for ``--sweep-n`` cases × 8 conditions (espeak; clean
  and phone × 30/20/10/5 dB; whisper+rules; WER, adherence and the grounding judge), 2 workers.

Run: ``.venv/bin/python bench/bench_speech.py [--sweep-n 16] [--no-sweep]`` → bench/results/speech.json.
Targets: espeak synthesis RTF < 0.05; whisper RTF < 0.5 on 2 cores.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from _common import write_result  # noqa: E402


def _consultation(k: int = 0):
    from evalkit.synth import generate, load_cards

    return generate(load_cards(), k + 1, 11)[k]


def bench_synthesis(tmp: Path, figures: list[dict], extra: dict) -> dict:
    from evalkit.synth import piper_engine, synthesize
    from evalkit.synth import tts as tts_mod

    c = _consultation()
    out = {}
    engines = ["espeak"] + (["piper"] if piper_engine.available() else [])
    if "piper" in engines:
        piper_engine.load_voice()  # ~5 s once per process; not part of the RTF
    for engine in engines:
        tts_mod._RENDERS.clear()
        t = time.perf_counter()
        a = synthesize(c, tmp / f"{engine}.wav", seed=1, engine=engine)
        dt = time.perf_counter() - t
        figures.append({"figure": f"synthesis RTF ({engine}, clean)", "measured": round(dt / a.duration, 4),
                        "unit": "x real time", "target": 0.05 if engine == "espeak" else None})
        out[engine] = a
    if "piper" not in engines:
        extra["piper"] = "not installed (pip install 'evalkit[voices]')"
    channels = {"clean+pink@10dB": {"name": "clean", "snr_db": 10}, "room+pink@10dB": {"name": "room", "snr_db": 10},
                "phone+pink@10dB": {"name": "phone", "snr_db": 10},
                "clean+babble@10dB": {"name": "clean", "snr_db": 10, "noise": "babble"}}
    synthesize(c, tmp / "warm.wav", seed=1, channel=channels["clean+babble@10dB"])  # babble bed built once
    for name, ch in channels.items():
        t = time.perf_counter()
        a = synthesize(c, tmp / f"{name}.wav", seed=1, channel=ch)  # the clean rendering is cached
        figures.append({"figure": f"channel time per audio second ({name})",
                        "measured": round((time.perf_counter() - t) / a.duration, 4), "unit": "x real time"})
        out[name] = a
    return out


def bench_asr(tmp: Path, audios: dict, figures: list[dict]) -> None:
    from evalkit.metrics.wer import wer_details
    from evalkit.scribes.whisper import WhisperTranscriber, load_model

    c = _consultation()
    load_model()
    asr = WhisperTranscriber()
    for name, a in audios.items():
        t = time.perf_counter()
        words = asr.recognise(tmp / f"{name}.wav")
        dt = time.perf_counter() - t
        w = wer_details(c.turns, " ".join(x.text for x in words)).wer
        figures.append({"figure": f"whisper RTF ({name})", "measured": round(dt / a.duration, 4),
                        "unit": "x real time", "target": 0.5})
        figures.append({"figure": f"whisper WER ({name})", "measured": round(w, 4), "unit": "fraction"})


def bench_vocab(tmp: Path, n: int, figures: list[dict]) -> None:
    from evalkit.metrics.wer import wer_details
    from evalkit.run.scoring import case_terms
    from evalkit.scribes.whisper import WhisperTranscriber, vocab_prompt
    from evalkit.synth import generate, load_cards, synthesize

    cards = load_cards()
    cons = generate(cards, n, 5)
    asr = WhisperTranscriber()
    res: dict[str, list[tuple[float, float]]] = {"none": [], "right": [], "wrong": []}
    for k, c in enumerate(cons):
        path = tmp / f"v{k}.wav"
        synthesize(c, path, seed=5)
        other = cons[(k + len(cons) // 2) % len(cons)].case if len(cons) > 1 else cards[-1]
        for mode, prompt in (("none", None), ("right", vocab_prompt(c.case)), ("wrong", vocab_prompt(other))):
            words = asr.recognise(path, prompt)
            d = wer_details(c.turns, " ".join(x.text for x in words), terms=case_terms(c))
            res[mode].append((d.wer, d.medical_wer or 0.0))
    for mode, vals in res.items():
        figures.append({"figure": f"whisper WER, vocab prompt {mode} ({n} cases)",
                        "measured": round(statistics.mean(v[0] for v in vals), 4), "unit": "fraction"})
        figures.append({"figure": f"whisper medical WER, vocab prompt {mode} ({n} cases)",
                        "measured": round(statistics.mean(v[1] for v in vals), 4), "unit": "fraction"})


def bench_sweep(tmp: Path, n: int, figures: list[dict], extra: dict) -> None:
    from evalkit.store import Store
    from evalkit.sweep.run import SweepConfig, run_sweep

    store = Store(tmp / "sweep.duckdb")
    cfg = SweepConfig(n=n, seed=3, scribe="whisper+rules", snrs=[30.0, 20.0, 10.0, 5.0], channels=["clean", "phone"],
                      concurrency=2)
    res = run_sweep(cfg, store, progress=False)
    figures.append({"figure": f"sweep wall time ({n} cases x {len(res.runs)} conditions)",
                    "measured": round(res.wall_s, 1), "unit": "s"})
    figures.append({"figure": "sweep synthesis share of wall time", "measured": round(res.synth_s / max(res.wall_s, 1e-9)
                                                                                       / cfg.concurrency, 3),
                    "unit": "fraction"})
    extra["sweep_rows"] = [{k: r[k] for k in ("condition", "n", "wer", "medical_wer", "numeric_error_rate",
                                              "hallucination_rate")} for r in res.rows]


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--sweep-n", type=int, default=16)
    ap.add_argument("--vocab-cases", type=int, default=6)
    ap.add_argument("--no-sweep", action="store_true")
    args = ap.parse_args()
    figures: list[dict] = []
    extra: dict = {}
    with tempfile.TemporaryDirectory() as d:
        tmp = Path(d)
        audios = bench_synthesis(tmp, figures, extra)
        bench_asr(tmp, audios, figures)
        bench_vocab(tmp, args.vocab_cases, figures)
        if not args.no_sweep:
            bench_sweep(tmp, args.sweep_n, figures, extra)
    write_result("speech", figures, **extra)


if __name__ == "__main__":
    main()
