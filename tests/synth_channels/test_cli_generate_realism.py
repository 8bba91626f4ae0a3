"""``evalkit generate`` with the realism options: channel, noise kind, accents, overlaps, disfluencies."""

from __future__ import annotations

import json

import numpy as np
from scipy.signal import welch
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.errors import InputError
from evalkit.schema import Audio, Consultation
from evalkit.store import Store
from evalkit.synth import default_cards_dir, load_cards, read_wav
from evalkit.synth.accents import ACCENTS, REGION_ACCENTS
from evalkit.synth.generate import generate

runner = CliRunner()


def _one_card(tmp_path, name: str):
    cards = tmp_path / "cards"
    cards.mkdir()
    src = default_cards_dir() / name
    (cards / src.name).write_text(src.read_text())
    return cards


def test_room_channel_with_hum_noise_is_recorded_in_the_store(tmp_path):
    cards = _one_card(tmp_path, "derm-psoriasis-us-17.yaml")
    db = tmp_path / "e.duckdb"
    r = runner.invoke(app, ["generate", "--cards", str(cards), "--n", "1", "--seed", "3", "--db", str(db),
                            "--channel", "room", "--rt60", "0.6", "--noise", "hum", "--snr", "10"])
    assert r.exit_code == 0, r.output
    assert "room channel" in r.output
    store = Store(db)
    (c,) = store.list_consultations()
    audio = store.get_audio(c.id)
    assert audio.snr_db == 10
    ch = audio.provenance["channel"]
    assert ch["channel"]["name"] == "room" and ch["channel"]["noise"] == "hum"
    assert ch["channel"]["rt60"] == 0.6 and ch["channel"]["snr_db"] == 10
    assert any(step.startswith("room rt60=0.6s") for step in ch["chain"])
    assert abs(ch["measured_snr_db"] - 10) <= 0.5
    assert audio.provenance["accents"] is False and audio.provenance["overlap_rate"] == 0
    x, sr = read_wav(store.root / audio.path)
    assert sr == 16000 and abs(len(x) / sr - audio.duration) < 1e-3


def test_phone_channel_accents_overlaps_and_disfluencies_to_a_folder(tmp_path):
    name = "gp-tonsillitis-uk-01.yaml"
    cards = _one_card(tmp_path, name)
    out = tmp_path / "out"
    r = runner.invoke(app, ["generate", "--cards", str(cards), "--n", "1", "--seed", "5", "--out", str(out),
                            "--channel", "phone", "--snr", "20", "--accents", "--overlap", "1.0",
                            "--disfluency", "0.5"])
    assert r.exit_code == 0, r.output
    (rec,) = [json.loads(line) for line in (out / "audio.jsonl").read_text().splitlines()]
    audio = Audio.model_validate({k: v for k, v in rec.items() if k != "consultation_id"})
    (c,) = [Consultation.model_validate_json(line) for line in (out / "consultations.jsonl").read_text().splitlines()]

    # provenance: the phone chain at 20 dB, accents and overlaps on
    prov = audio.provenance
    assert prov["channel"]["channel"]["name"] == "phone" and prov["channel"]["channel"]["snr_db"] == 20
    assert audio.snr_db == 20 and abs(prov["channel"]["measured_snr_db_at_mic"] - 20) <= 0.5
    assert prov["channel"]["phone"]["packets"] > 0
    assert prov["accents"] is True and prov["overlap_rate"] == 1.0

    # a phone line carries nothing above 4 kHz
    x, sr = read_wav(out / audio.path)
    f, p = welch(x.astype(np.float64), fs=sr, nperseg=1024)
    assert p[f > 4000].sum() / p.sum() < 1e-4
    assert p[(f > 300) & (f < 3400)].sum() / p.sum() > 0.9

    # accented voices come from the UK pools
    (card,) = load_cards(cards)
    pat_pool, clin_pool = REGION_ACCENTS[card.region]
    base = {role: label.split("@")[0].split("+")[0] for role, label in audio.voices.items()}
    assert base["CLINICIAN"] in {ACCENTS[a] for a in clin_pool}
    assert base["PATIENT"] in {ACCENTS[a] for a in pat_pool}

    # overlaps: with rate 1 some patient turn starts before the clinician has finished
    starts = {t.turn_id: (t.start, t.end) for t in audio.turn_times}
    turns = [t for t in c.turns if t.id in starts]
    assert any(b.speaker.value == "PATIENT" and a.speaker.value == "CLINICIAN" and starts[b.id][0] < starts[a.id][1]
               for a, b in zip(turns, turns[1:]))

    # disfluencies: the spoken (reference) turns changed, the reference note did not
    (plain,) = generate([card], 1, 5, dataset="synthetic")
    changed = [a for a, b in zip(c.turns, plain.turns) if a.text != b.text]
    assert len(changed) >= 3 and len(c.turns) == len(plain.turns)
    assert c.reference_note == plain.reference_note


def test_unknown_channel_or_noise_is_one_clear_error(tmp_path):
    for args, field in ((["--channel", "radio"], "name"), (["--noise", "rain"], "noise")):
        r = runner.invoke(app, ["generate", "--n", "1", "--db", str(tmp_path / "e.duckdb"), *args])
        assert isinstance(r.exception, InputError) and r.exception.field == field
        assert not (tmp_path / "audio").exists()  # rejected before any speech is made
