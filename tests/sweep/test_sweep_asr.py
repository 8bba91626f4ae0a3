"""A real sweep with Whisper: noise makes the scribe worse (slow: real ASR on a fixed small set)."""

from __future__ import annotations

import pytest

from evalkit.sweep.run import SweepConfig, run_sweep


@pytest.mark.slow
def test_wer_at_5db_is_higher_than_at_30db(store, tmp_path):
    from evalkit.synth.cards import default_cards_dir

    cards = tmp_path / "cards"
    cards.mkdir()
    for name in ("gp-tonsillitis-uk-01.yaml", "pcp-sciatica-us-02.yaml"):
        src = default_cards_dir() / name
        (cards / name).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    cfg = SweepConfig(cards=str(cards), n=2, seed=1, scribe="whisper+rules", snrs=[30.0, 5.0], channels=["clean"],
                      noise="pink", metrics=["wer"], disfluency=0.1, overlap=0.0,
                      scribe_options={"whisper": {"beam_size": 1}})
    res = run_sweep(cfg, store, progress=False)
    rows = {r["condition"]: r for r in res.rows}
    hi, lo = rows["espeak/clean@30dB"], rows["espeak/clean@5dB"]
    assert hi["n"] == lo["n"] == 2
    assert lo["wer"] > hi["wer"] + 0.05, (hi["wer"], lo["wer"])
    assert lo["numeric_error_rate"] >= hi["numeric_error_rate"]
    assert hi["wer"] < 0.5  # at 30 dB the scribe still hears most words
