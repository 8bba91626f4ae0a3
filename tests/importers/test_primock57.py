"""PriMock57 importer on a small consultation written by the test (TextGrids, note, WAVs)."""

from __future__ import annotations

import json

import numpy as np
import pytest
import soundfile as sf
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.errors import InputError
from evalkit.importers.primock57 import clean_utterance, load_primock57, note_to_text
from evalkit.importers.textgrid import Interval, Tier, parse_textgrid, read_textgrid, write_textgrid
from evalkit.schema import SpeakerRole
from evalkit.store import Store

NOTE = ("3/7 hx of cough. No fever.\n\nPMH: Asthma\nDH: Salbutamol inhaler\nNKDA\nSH: non-smoker\n\n"
        "Imp: viral URTI\n\nPlan:\nRest and fluids. Review in 1 week if not better.\n")


def _make(root, cid="day1_consultation01", audio=True, both_tiers_in_one=False):
    (root / "transcripts").mkdir(parents=True, exist_ok=True)
    (root / "notes").mkdir(exist_ok=True)
    doc = Tier("Doctor", "IntervalTier", [Interval(0, 0.5, ""), Interval(0.5, 2.0, "Hello, how can I help?"),
                                          Interval(2.0, 4.0, ""), Interval(4.0, 5.5, "<UNSURE>Any</UNSURE> fever?"),
                                          Interval(6.5, 7.0, "<UNIN/>")])
    pat = Tier("Patient", "IntervalTier", [Interval(0, 2.1, ""), Interval(2.1, 3.9, 'I have a "bad" cough.'),
                                           Interval(5.6, 6.4, "No, no fever.")])
    if both_tiers_in_one:
        write_textgrid(root / "transcripts" / f"{cid}.TextGrid", [doc, pat], xmax=7.0)
    else:
        write_textgrid(root / "transcripts" / f"{cid}_doctor.TextGrid", [doc], xmax=7.0)
        write_textgrid(root / "transcripts" / f"{cid}_patient.TextGrid", [pat], xmax=7.0)
    (root / "notes" / f"{cid}.json").write_text(json.dumps(
        {"day": 1, "consultation": 1, "presenting_complaint": "I've had a cough for three days", "note": NOTE,
         "highlights": ["cough", "viral URTI"]}))
    if audio:
        (root / "audio").mkdir(exist_ok=True)
        sr = 16000
        t = np.arange(int(7.0 * sr)) / sr
        for who, f0 in (("doctor", 220.0), ("patient", 330.0)):
            sf.write(str(root / "audio" / f"{cid}_{who}.wav"), (0.4 * np.sin(2 * np.pi * f0 * t)).astype("float32"),
                     sr, subtype="PCM_16")
    return root


def test_textgrid_roundtrip_and_short_format(tmp_path):
    tiers = [Tier("Doctor", "IntervalTier", [Interval(0.0, 1.5, 'say "ah" [1]'), Interval(1.5, 2.0, "")])]
    write_textgrid(tmp_path / "a.TextGrid", tiers)
    back = read_textgrid(tmp_path / "a.TextGrid")
    assert back[0].name == "Doctor" and back[0].intervals[0].text == 'say "ah" [1]'
    assert back[0].intervals[0].end == 1.5
    short = 'File type = "ooTextFile"\nObject class = "TextGrid"\n\n0\n3\n<exists>\n1\n"IntervalTier"\n"Patient"\n' \
            '0\n3\n2\n0\n1.25\n"yes"\n1.25\n3\n""\n'
    (tier,) = parse_textgrid(short)
    assert tier.name == "Patient" and [(i.start, i.end, i.text) for i in tier.intervals] == [(0, 1.25, "yes"),
                                                                                              (1.25, 3, "")]
    utf16 = tmp_path / "u.TextGrid"
    utf16.write_bytes((tmp_path / "a.TextGrid").read_text().encode("utf-16"))
    assert read_textgrid(utf16)[0].intervals[0].text == 'say "ah" [1]'
    with pytest.raises(InputError, match="not a TextGrid"):
        parse_textgrid("hello", "x.TextGrid")


def test_clean_utterance_and_note_headings():
    assert clean_utterance("<UNSURE>Any</UNSURE>  fever? <UNIN/>") == "Any fever?"
    text = note_to_text(NOTE)
    assert text.startswith("HISTORY OF PRESENT ILLNESS")
    assert "PAST MEDICAL HISTORY\n\nAsthma" in text and "NKDA." in text


def test_load_two_speaker_files_with_audio(tmp_path):
    root = _make(tmp_path / "pm")
    out = tmp_path / "db"
    items, audio = load_primock57(root, audio_root=out)
    (c,) = items
    assert c.id == "day1_consultation01" and c.case.region == "UK" and c.template == "HISTORY_AND_PHYSICAL"
    assert c.case.chief_complaint == "I've had a cough for three days"
    assert [(t.speaker, t.text) for t in c.turns] == [
        (SpeakerRole.CLINICIAN, "Hello, how can I help?"), (SpeakerRole.PATIENT, 'I have a "bad" cough.'),
        (SpeakerRole.CLINICIAN, "Any fever?"), (SpeakerRole.PATIENT, "No, no fever.")]
    assert (c.turns[1].start, c.turns[1].end) == (2.1, 3.9)
    keys = {s.key: [x.text for x in s.sentences] for s in c.reference_note.sections}
    assert keys["pmh"] == ["Asthma"] and keys["medications"] == ["Salbutamol inhaler", "NKDA."]
    assert keys["assessment_plan"] == ["viral URTI"] and "Rest and fluids." in keys["assessment_plan_2"]
    a = audio[c.id]
    assert a.path == "audio/primock57/day1_consultation01.wav" and a.engine == "recorded"
    data, sr = sf.read(str(out / a.path))
    assert sr == 16000 and data.ndim == 1 and abs(a.duration - 7.0) < 1e-3
    assert 0.5 < np.abs(data).max() <= 1.0  # both speakers mixed, no clipping
    assert [tt.turn_id for tt in a.turn_times] == [0, 1, 2, 3]


def test_one_file_with_both_tiers_and_no_audio(tmp_path):
    root = _make(tmp_path / "pm", cid="day2_consultation03", audio=False, both_tiers_in_one=True)
    items, audio = load_primock57(root, audio_root=tmp_path)
    assert audio == {} and [t.speaker for t in items[0].turns][:2] == [SpeakerRole.CLINICIAN, SpeakerRole.PATIENT]


def test_missing_note_and_bad_folder(tmp_path):
    root = _make(tmp_path / "pm", audio=False)
    (root / "notes" / "day1_consultation01.json").unlink()
    with pytest.raises(InputError, match=r"day1_consultation01\.json: note file not found"):
        load_primock57(root)
    with pytest.raises(InputError, match="transcripts/: folder not found"):
        load_primock57(tmp_path / "nowhere")


def test_cli_import_primock57(tmp_path):
    root = _make(tmp_path / "pm")
    db = tmp_path / "out" / "e.duckdb"
    db.parent.mkdir()
    r = CliRunner().invoke(app, ["import", "primock57", str(root), "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert "1 with audio" in r.output
    store = Store(db)
    a = store.get_audio("day1_consultation01")
    assert a is not None and (store.root / a.path).is_file()
    assert store.list_consultations("primock57")[0].turns[0].start == 0.5
