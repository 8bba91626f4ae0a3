"""ACI-Bench importer: the vendored ACI-Bench CSVs, the shipped sample, and bad input."""

from __future__ import annotations

import csv
from pathlib import Path

import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.errors import InputError
from evalkit.importers.aci_bench import (find_metadata, load_aci_bench, load_aci_bench_sample, parse_age,
                                         read_aci_bench, sample_path)
from evalkit.schema import Sex, SpeakerRole
from evalkit.store import Store

from tests.conftest import ACI


def _write_csv(path: Path, rows: list[dict], fields=("dataset", "encounter_id", "dialogue", "note")) -> Path:
    with path.open("w", encoding="utf-8", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(fields))
        w.writeheader()
        w.writerows(rows)
    return path


GOOD = {"dataset": "aci", "encounter_id": "E1",
        "dialogue": "[doctor] hi , how are you ?\n[patient] my knee hurts .\n[doctor] let's take a look .",
        "note": "CHIEF COMPLAINT\n\nKnee pain.\n\nASSESSMENT AND PLAN\n\nKnee pain. Order an x-ray."}


def test_valid_split_with_metadata():
    items = load_aci_bench(ACI / "valid.csv", ACI / "valid_metadata.csv")
    assert len(items) == 20
    by_id = {c.id: c for c in items}
    c = by_id["D2N068"]
    assert c.case.id == "D2N068" and c.template == "HISTORY_AND_PHYSICAL" and c.dataset == "aci-bench"
    assert c.case.persona.age == 58 and c.case.persona.sex is Sex.MALE
    assert c.case.persona.name == "Brian White"  # trailing space in the metadata is stripped
    assert c.case.chief_complaint == "follow-up of chronic problems"
    assert c.case.specialty == "general"
    assert c.turns[0].speaker is SpeakerRole.CLINICIAN and c.turns[1].speaker is SpeakerRole.PATIENT
    assert [t.id for t in c.turns] == list(range(len(c.turns)))
    keys = [s.key for s in c.reference_note.sections]
    assert "chief_complaint" in keys and "assessment_plan" in keys
    # free-form ages: "22-month" is 1 year old; "61.0" is 61; lower-case names are title-cased
    assert by_id["D2N076"].case.persona.age == 1
    assert by_id["D2N076"].case.metadata["patient_age_raw"] == "22-month"
    assert by_id["D2N077"].case.persona.age == 61
    assert by_id["D2N073"].case.persona.name == "Christina Cooper"
    assert by_id["D2N074"].case.clinician.name == "Dr Flores"


def test_train_split_without_metadata_takes_chief_complaint_from_note():
    items = load_aci_bench(ACI / "train.csv")
    assert len(items) == 67
    c = items[0]
    assert c.case.persona.age is None and c.case.persona.sex is Sex.UNKNOWN
    cc = next(s for s in c.reference_note.sections if s.key == "chief_complaint")
    assert c.case.chief_complaint == cc.sentences[0].text.rstrip(".")


def test_shipped_sample_loads_with_its_metadata():
    assert find_metadata(sample_path()) == sample_path().with_name("valid_metadata.csv")
    items = load_aci_bench_sample()
    assert [c.id for c in items] == ["D2N068", "D2N073", "D2N077"]
    assert {c.case.metadata["aci_subset"] for c in items} == {"virtassist", "virtscribe", "aci"}
    assert all(c.case.persona.age for c in items)
    readme = (sample_path().parent / "README.md").read_text()
    assert "CC BY 4.0" in readme and "Yim" in readme


def test_non_utf8_names_file_row_and_fix(tmp_path):
    p = _write_csv(tmp_path / "x.csv", [GOOD, {**GOOD, "encounter_id": "E2"}])
    raw = p.read_bytes().replace(b"my knee hurts", b"my kn\xe9e hurts", 1)
    raw = raw[: raw.rfind(b"my kn")] + raw[raw.rfind(b"my kn"):]  # keep one bad byte
    p.write_bytes(raw)
    with pytest.raises(InputError) as e:
        load_aci_bench(p)
    msg = str(e.value)
    assert str(p) in msg and "row 1" in msg and "UTF-8" in msg and "fix:" in msg
    assert "\n" not in msg and "knee" not in msg


def test_non_utf8_in_later_row(tmp_path):
    p = _write_csv(tmp_path / "x.csv", [GOOD, {**GOOD, "encounter_id": "E2", "dialogue": "[doctor] caf\u00e9 ?"}])
    p.write_bytes(p.read_bytes().replace("café".encode(), b"caf\xe9"))
    with pytest.raises(InputError, match=r"row 2 .*not UTF-8"):
        load_aci_bench(p)


def test_missing_column(tmp_path):
    p = _write_csv(tmp_path / "x.csv", [{"dataset": "a", "encounter_id": "E1", "note": "PLAN\n\nRest."}],
                   fields=("dataset", "encounter_id", "note"))
    with pytest.raises(InputError, match=r"column 'dialogue': missing"):
        load_aci_bench(p)


def test_empty_dialogue_names_row_and_encounter(tmp_path):
    p = _write_csv(tmp_path / "x.csv", [GOOD, {**GOOD, "encounter_id": "E2", "dialogue": "  \n "}])
    with pytest.raises(InputError) as e:
        load_aci_bench(p)
    assert "row 2 (E2)" in str(e.value) and "dialogue" in str(e.value) and "is empty" in str(e.value)


def test_duplicate_and_bad_ids(tmp_path):
    with pytest.raises(InputError, match="duplicated"):
        load_aci_bench(_write_csv(tmp_path / "d.csv", [GOOD, GOOD]))
    with pytest.raises(InputError, match=r"row 1 \(bad id!\)"):
        load_aci_bench(_write_csv(tmp_path / "b.csv", [{**GOOD, "encounter_id": "bad id!"}]))


def test_first_turn_without_a_speaker_tag_is_kept_and_its_role_inferred(tmp_path):
    # ACI-Bench test2 D2N131 starts without "[doctor]"
    p = _write_csv(tmp_path / "x.csv", [{**GOOD, "dialogue": "hello there\n[patient] hi doctor\n[doctor] knee ?"},
                                        {**GOOD, "encounter_id": "E2", "dialogue": "so tell me\n[doctor] and ?"}])
    rep = read_aci_bench(p)
    assert [c.turns[0].speaker for c in rep.items] == [SpeakerRole.CLINICIAN, SpeakerRole.PATIENT]
    assert rep.items[0].turns[0].text == "hello there" and len(rep.items[0].turns) == 3
    assert len(rep.warnings) == 2 and "row 1 (E1)" in rep.warnings[0] and "no [speaker] tag" in rep.warnings[0]
    assert "hello" not in " ".join(rep.warnings)  # no transcript text in messages
    assert load_aci_bench(p)[0].turns[0].speaker == SpeakerRole.CLINICIAN  # the strict loader takes it too


def _quirks(tmp_path) -> Path:
    """A CSV with each quirk real exports have, written the way Excel on Windows writes it."""
    long = "\n".join(f"[doctor] question {i} about the knee ?\n[patient] answer {i} ." for i in range(4000))
    assert len(long.encode()) > 128 * 1024
    rows = [GOOD,
            {**GOOD, "encounter_id": "E2", "dialogue": "so what brings you in\n[patient] my knee ."},  # no first tag
            {**GOOD, "encounter_id": "E3", "dialogue": GOOD["dialogue"] + "\n[patient_guest] he fell ."},
            {**GOOD, "encounter_id": "E4", "dialogue": "  "},  # empty dialogue
            {**GOOD, "encounter_id": "E5", "note": ""},  # empty note
            {**GOOD, "encounter_id": "E6", "dialogue": long},  # a quoted field over 128 KB
            {**GOOD, "encounter_id": "E1"},  # duplicate id
            {**GOOD, "encounter_id": "E7"}]
    p = tmp_path / "quirks.csv"
    with p.open("w", encoding="utf-8-sig", newline="") as f:  # byte-order mark
        w = csv.DictWriter(f, fieldnames=["dataset", "encounter_id", "dialogue", "note"], lineterminator="\r\n")
        w.writeheader()
        w.writerows([{k: v.replace("\n", "\r\n") for k, v in r.items()} for r in rows])  # Windows line endings
    return p


def test_a_csv_with_every_quirk_imports_its_good_rows(tmp_path):
    p = _quirks(tmp_path)
    assert p.read_bytes().startswith(b"\xef\xbb\xbf") and b"\r\n" in p.read_bytes()
    rep = read_aci_bench(p)
    assert [c.id for c in rep.items] == ["E1", "E2", "E3", "E6", "E7"]
    by = {c.id: c for c in rep.items}
    assert by["E2"].turns[0].speaker == SpeakerRole.CLINICIAN and "\r" not in by["E1"].turns[0].text
    assert by["E3"].turns[-1].speaker == SpeakerRole.OTHER  # [patient_guest]: a companion, not the patient
    assert len(by["E6"].turns) == 8000
    msgs = [str(e) for e in rep.problems]
    assert len(msgs) == 3
    assert "row 4 (E4): dialogue: is empty" in msgs[0] and "fix:" in msgs[0]
    assert "row 5 (E5): note: is empty" in msgs[1]
    assert "row 7 (E1): encounter_id: is duplicated" in msgs[2]
    assert len(rep.warnings) == 1 and "row 2 (E2)" in rep.warnings[0]
    with pytest.raises(InputError, match=r"row 4 \(E4\)"):  # the strict library loader stops at the first
        load_aci_bench(p)


def test_cli_imports_good_rows_lists_bad_ones_and_is_strict_only_when_asked(tmp_path):
    p, db = _quirks(tmp_path), tmp_path / "q.duckdb"
    r = CliRunner().invoke(app, ["import", "aci-bench", str(p), "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert "imported 5 consultations" in r.output and "3 row(s) skipped" in r.output
    assert r.output.count("warning:") == 4 and "row 2 (E2)" in r.output and "row 5 (E5): note: is empty" in r.output
    assert len(Store(db).list_consultations("aci-bench")) == 5
    r = CliRunner().invoke(app, ["import", "aci-bench", str(p), "--db", str(db), "--strict"])
    assert r.exit_code == 1 and "imported 5 consultations" in r.output


def test_a_non_utf8_row_is_skipped_alone(tmp_path):
    p = _write_csv(tmp_path / "x.csv", [GOOD, {**GOOD, "encounter_id": "E2", "dialogue": "[doctor] caf\u00e9 ?"},
                                        {**GOOD, "encounter_id": "E3"}])
    p.write_bytes(p.read_bytes().replace("café".encode(), b"caf\xe9"))
    rep = read_aci_bench(p)
    assert [c.id for c in rep.items] == ["E1", "E3"]
    assert len(rep.problems) == 1 and "row 2" in str(rep.problems[0]) and "0xe9" in str(rep.problems[0])


def test_a_broken_quote_keeps_the_rows_before_it(tmp_path):
    p = _write_csv(tmp_path / "x.csv", [GOOD, {**GOOD, "encounter_id": "E2"}])
    with p.open("a", encoding="utf-8") as f:
        f.write('aci,E3,"[doctor] hi,' + "x" * 10 + '\n')  # a quote never closed
    rep = read_aci_bench(p)
    assert [c.id for c in rep.items] == ["E1", "E2"]
    assert len(rep.problems) == 1 and "row 3" in str(rep.problems[0])


@pytest.mark.parametrize("raw,years", [("58", 58), ("61.0", 61), ("22-month", 1), ("6 weeks", 0),
                                       ("", None), ("unknown", None), ("300", None)])
def test_parse_age(raw, years):
    assert parse_age(raw) == years


def test_cli_import_is_idempotent(tmp_path):
    db = tmp_path / "e.duckdb"
    runner = CliRunner()
    for _ in range(2):
        r = runner.invoke(app, ["import", "aci-bench", str(sample_path()), "--dataset", "aci-sample",
                                "--db", str(db)])
        assert r.exit_code == 0, r.output
        assert "imported 3 consultations" in r.output
    store = Store(db)
    items = store.list_consultations("aci-sample")
    assert [c.id for c in items] == ["D2N068", "D2N073", "D2N077"]
    assert items[0].case.persona.age == 58  # metadata found next to the CSV


def test_cli_bad_file_exits_2(tmp_path):
    p = _write_csv(tmp_path / "x.csv", [{"dataset": "a", "encounter_id": "E1"}], fields=("dataset", "encounter_id"))
    r = CliRunner().invoke(app, ["import", "aci-bench", str(p), "--db", str(tmp_path / "e.duckdb")])
    assert r.exit_code == 2
    assert "dialogue" in r.output
