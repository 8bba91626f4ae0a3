"""Synthetic consultations: generation speed, speech duration and TTS real-time factor.

Writes bench/results/synth.json. Usage: .venv/bin/python bench/bench_synth.py [N]
"""

from __future__ import annotations

import statistics
import sys
import tempfile
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
from _common import write_result  # noqa: E402

from evalkit.synth import generate, load_cards, synthesize  # noqa: E402


def main(n: int = 20) -> None:
    cards = load_cards()
    t0 = time.perf_counter()
    consultations = generate(cards, n, seed=1)
    t_gen = time.perf_counter() - t0
    words = [len(c.transcript_text().split()) for c in consultations]
    durations, sizes = [], 0
    with tempfile.TemporaryDirectory() as d:
        synthesize(consultations[0], Path(d) / "warm.wav", seed=1)  # imports, library copy
        t0 = time.perf_counter()
        for c in consultations:
            a = synthesize(c, Path(d) / f"{c.id}.wav", seed=c.seed or 0)
            durations.append(a.duration)
            sizes += (Path(d) / f"{c.id}.wav").stat().st_size
        t_tts = time.perf_counter() - t0
        t0 = time.perf_counter()
        for c in consultations[:5]:
            synthesize(c, Path(d) / f"{c.id}-noisy.wav", seed=c.seed or 0, snr_db=10)
        t_noisy = time.perf_counter() - t0
        noisy_speech = sum(durations[:5])
    speech = sum(durations)
    write_result("synth", [
        {"figure": "dialogue + note generation", "measured": round(n / t_gen, 1), "unit": "consultations/s"},
        {"figure": "TTS real-time factor (espeak-ng, 16 kHz)", "measured": round(t_tts / speech, 4),
         "unit": "s per s of speech", "target": "< 0.05", "ok": t_tts / speech < 0.05},
        {"figure": "TTS real-time factor with noise at 10 dB", "measured": round(t_noisy / noisy_speech, 4),
         "unit": "s per s of speech"},
        {"figure": "speech per consultation (median)", "measured": round(statistics.median(durations), 1),
         "unit": "s", "target": "60-120"},
        {"figure": "speech per consultation (min-max)", "measured": f"{min(durations):.0f}-{max(durations):.0f}",
         "unit": "s"},
        {"figure": "words per dialogue (median)", "measured": statistics.median(words), "unit": "words"},
        {"figure": "WAV size", "measured": round(sizes / speech * 60 / 2**20, 2), "unit": "MiB per minute"},
    ], n=n, cards=len(cards))


if __name__ == "__main__":
    main(int(sys.argv[1]) if len(sys.argv) > 1 else 20)
