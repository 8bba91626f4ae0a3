"""``evalkit generate``: into the store, into a folder, and one-line errors."""

from __future__ import annotations

import json

from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.errors import InputError
from evalkit.store import Store
from evalkit.synth import default_cards_dir, read_wav

runner = CliRunner()


def test_generate_into_store_without_audio(tmp_path):
    db = tmp_path / "e.duckdb"
    r = runner.invoke(app, ["generate", "--n", "3", "--seed", "4", "--no-audio", "--db", str(db),
                            "--dataset", "synth-test", "--template", "dap"])
    assert r.exit_code == 0, r.output
    cs = Store(db).list_consultations("synth-test")
    assert len(cs) == 3 and all(c.template == "DAP" and c.seed is not None for c in cs)
    assert {c.id.rsplit("-", 1)[0].rsplit("-s4", 1)[0] for c in cs} <= {p.stem for p in default_cards_dir().glob("*.yaml")}
    assert Store(db).get_audio(cs[0].id) is None


def test_generate_with_audio_into_store(tmp_path):
    cards = tmp_path / "cards"
    cards.mkdir()
    src = default_cards_dir() / "derm-psoriasis-us-17.yaml"
    (cards / src.name).write_text(src.read_text())
    db = tmp_path / "sub" / "e.duckdb"
    db.parent.mkdir()
    r = runner.invoke(app, ["generate", "--cards", str(cards), "--n", "1", "--db", str(db), "--snr", "15"])
    assert r.exit_code == 0, r.output
    store = Store(db)
    (c,) = store.list_consultations()
    audio = store.get_audio(c.id)
    assert audio.path == f"audio/{c.id}.wav" and audio.snr_db == 15
    x, sr = read_wav(store.root / audio.path)
    assert sr == 16000 and abs(len(x) / sr - audio.duration) < 1e-3
    assert all(t.start is not None and t.end is not None for t in c.turns)  # turns carry their times
    assert 60 <= audio.duration <= 130


def test_generate_to_folder(tmp_path):
    out = tmp_path / "out"
    r = runner.invoke(app, ["generate", "--n", "2", "--seed", "1", "--out", str(out), "--no-audio"])
    assert r.exit_code == 0, r.output
    lines = (out / "consultations.jsonl").read_text().splitlines()
    assert len(lines) == 2 and json.loads(lines[0])["reference_note"]["sections"]
    assert not (out / "audio.jsonl").exists()


def test_bad_cards_folder_is_an_input_error(tmp_path):
    r = runner.invoke(app, ["generate", "--cards", str(tmp_path / "none"), "--no-audio",
                            "--db", str(tmp_path / "e.duckdb")])
    assert isinstance(r.exception, InputError) and "no such cards folder" in str(r.exception)
    bad = tmp_path / "bad"
    bad.mkdir()
    (bad / "x.yaml").write_text("id: x\nspecialty: gp\n")
    r = runner.invoke(app, ["generate", "--cards", str(bad), "--no-audio", "--db", str(tmp_path / "e.duckdb")])
    assert isinstance(r.exception, InputError) and "chief_complaint" in str(r.exception)
