"""Hugging Face importer on local parquet / json / csv / save_to_disk sources."""

from __future__ import annotations

import json

import datasets
import pandas as pd
import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.errors import InputError
from evalkit.importers.hf import default_dataset_name, load_hf, parse_mapping
from evalkit.schema import SpeakerRole
from evalkit.store import Store

ROWS = [
    {"encounter": "A-1", "conversation": "Doctor: What brings you in?\nPatient: A sore throat for two days.",
     "soap": "SUBJECTIVE\n\nSore throat for two days.\n\nPLAN\n\nSalt water gargles.", "spec": "ENT"},
    {"encounter": "A-2", "conversation": "[doctor] Any fever ?\n[patient] No .",
     "soap": "SUBJECTIVE\n\nNo fever.\n\nPLAN\n\nReview if worse.", "spec": "ENT"},
]
MAP = {"id": "encounter", "dialogue": "conversation", "note": "soap", "specialty": "spec"}


def test_parquet_with_mapping(tmp_path):
    p = tmp_path / "mts.parquet"
    pd.DataFrame(ROWS).to_parquet(p)
    items = load_hf(p, mapping=MAP)
    assert [c.id for c in items] == ["A-1", "A-2"] and items[0].dataset == "mts"
    c = items[0]
    assert [t.speaker for t in c.turns] == [SpeakerRole.CLINICIAN, SpeakerRole.PATIENT]
    assert c.turns[1].text == "A sore throat for two days."
    assert [s.key for s in c.reference_note.sections] == ["subjective", "plan"]
    assert c.case.specialty == "ENT" and c.template == "SOAP"


def test_jsonl_with_turn_lists_and_guessed_columns(tmp_path):
    p = tmp_path / "chat.jsonl"
    rows = [{"id": 7, "dialogue": [{"role": "doctor", "content": "Hello."}, {"role": "patient", "content": "Hi."}],
             "note": {"subjective": "Feels well.", "plan": "No action."}}]
    p.write_text("\n".join(json.dumps(r) for r in rows))
    (c,) = load_hf(p, dataset="chat")
    assert c.id == "chat-7"  # numeric ids are prefixed to stay unique in the store
    assert [t.text for t in c.turns] == ["Hello.", "Hi."]
    assert [s.key for s in c.reference_note.sections] == ["subjective", "plan"]


def test_save_to_disk_dataset_dict_and_split(tmp_path):
    dd = datasets.DatasetDict({"train": datasets.Dataset.from_list(ROWS[:1]),
                               "test": datasets.Dataset.from_list(ROWS[1:])})
    dd.save_to_disk(str(tmp_path / "saved"))
    items = load_hf(tmp_path / "saved", split="test", mapping=MAP)
    assert [c.id for c in items] == ["A-2"]
    with pytest.raises(InputError, match=r"no split 'valid'.*train"):
        load_hf(tmp_path / "saved", split="valid", mapping=MAP)


def test_csv_errors(tmp_path):
    p = tmp_path / "x.csv"
    pd.DataFrame([{**ROWS[0], "conversation": ""}]).to_csv(p, index=False)
    with pytest.raises(InputError, match=r"row 1 \(A-1\): conversation: is empty"):
        load_hf(p, mapping=MAP)
    with pytest.raises(InputError, match=r"--map note=nope: column not found"):
        load_hf(p, mapping={**MAP, "note": "nope"})
    q = tmp_path / "y.csv"
    pd.DataFrame([{"a": 1, "b": 2}]).to_csv(q, index=False)
    with pytest.raises(InputError, match=r"no column for dialogue"):
        load_hf(q)


def test_unreachable_hub_name_is_one_line_error(monkeypatch):
    import huggingface_hub.constants

    monkeypatch.setattr(datasets.config, "HF_HUB_OFFLINE", True, raising=False)
    monkeypatch.setattr(huggingface_hub.constants, "HF_HUB_OFFLINE", True)
    with pytest.raises(InputError) as e:
        load_hf("no-such-owner/no-such-dataset-xyz")
    assert "could not be opened" in str(e.value) and "\n" not in str(e.value)


def test_parse_mapping_and_names():
    assert parse_mapping("dialogue=conv, note=a.b") == {"dialogue": "conv", "note": "a.b"}
    with pytest.raises(InputError, match="not a field"):
        parse_mapping("transcript=x")
    with pytest.raises(InputError, match="field=column"):
        parse_mapping("dialogue")
    assert default_dataset_name("owner/name") == "owner-name"


def test_cli_import_hf(tmp_path):
    p = tmp_path / "mts.parquet"
    pd.DataFrame(ROWS).to_parquet(p)
    db = tmp_path / "e.duckdb"
    r = CliRunner().invoke(app, ["import", "hf", str(p), "--map",
                                 "id=encounter,dialogue=conversation,note=soap", "--db", str(db)])
    assert r.exit_code == 0, r.output
    assert [c.id for c in Store(db).list_consultations("mts")] == ["A-1", "A-2"]
    r = CliRunner().invoke(app, ["import", "hf", str(p), "--map", "bogus=1", "--db", str(db)])
    assert r.exit_code == 2 and "bogus" in r.output
