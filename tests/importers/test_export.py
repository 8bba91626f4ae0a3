"""evalkit export: parquet / csv folders and a HF dataset, read back and checked."""

from __future__ import annotations

import datasets
import pandas as pd
import pytest
from typer.testing import CliRunner

from evalkit.cli import app
from evalkit.errors import InputError
from evalkit.run.export import export_run
from evalkit.schema import Finding, Flag, Score, ScribeOutput
from evalkit.store import SessionResult, Store
from tests.conftest import make_consultation


@pytest.fixture
def run_db(tmp_path):
    store = Store(tmp_path / "e.duckdb")
    cs = [make_consultation(f"x{i}") for i in range(3)]
    store.put_consultations(cs)
    rid = store.create_run(run_id="abc123", label="base", suite_name="s", dataset="unit", scribe="reference")
    results = []
    for i, c in enumerate(cs):
        sid = f"{rid}:{c.id}"
        if i == 2:
            results.append(SessionResult(sid, c.id, "reference", error="ScribeError: boom"))
            continue
        out = ScribeOutput(consultation_id=c.id, transcript=c.turns, note=c.reference_note, backend="reference",
                           latency_s=0.5 + i)
        scores = [Score(session_id=sid, metric="wer", value=0.1 * i), Score(session_id=sid, metric="adherence", value=1.0)]
        finds = [Finding(kind="claim", id="plan.0#0", text="Start beclometasone.", section="plan", sentence_id="plan.0",
                         verdict="unsupported" if i else "supported", evidence=[9])]
        flags = [Flag(session_id=sid, rule="high_wer", reason="wer 0.1 > 0.05")] if i else []
        results.append(SessionResult(sid, c.id, "reference", output=out, scores=scores, findings=finds, flags=flags,
                                     judge="grounding", judge_version="1"))
    store.write_results(rid, results)
    store.finish_run(rid)
    return store, rid


def test_parquet_and_csv_tables(run_db, tmp_path):
    store, rid = run_db
    counts = export_run(store, "base", "parquet", tmp_path / "pq")
    assert counts == {"run": 1, "sessions": 3, "scores": 4, "findings": 2, "flags": 1}
    s = pd.read_parquet(tmp_path / "pq" / "sessions.parquet")
    assert list(s["status"]) == ["ok", "ok", "failed"] and s["specialty"].iloc[0] == "respiratory"
    assert "SUBJECTIVE" in ScribeOutput.model_validate_json(s["output"].iloc[0]).note.to_text()
    sc = pd.read_parquet(tmp_path / "pq" / "scores.parquet")
    assert sc.set_index(["consultation_id", "metric"]).loc[("x1", "wer"), "value"] == pytest.approx(0.1)
    export_run(store, rid, "csv", tmp_path / "csv", include_output=False)
    f = pd.read_csv(tmp_path / "csv" / "findings.csv")
    assert list(f["verdict"]) == ["supported", "unsupported"] and f["evidence"].iloc[0] == "[9]"
    assert pd.read_csv(tmp_path / "csv" / "sessions.csv")["output"].isna().all()


def test_hf_dataset_one_row_per_session(run_db, tmp_path):
    store, rid = run_db
    export_run(store, rid, "hf", tmp_path / "hf")
    ds = datasets.load_from_disk(str(tmp_path / "hf"))
    assert len(ds) == 3 and {"score_wer", "score_adherence", "note", "findings", "flags"} <= set(ds.column_names)
    row = ds[1]
    assert row["score_wer"] == pytest.approx(0.1) and row["flags"] == ["high_wer"]
    assert row["findings"][0]["verdict"] == "unsupported" and row["findings"][0]["evidence"] == [9]
    assert row["note"].startswith("SUBJECTIVE")
    assert ds[2]["status"] == "failed" and ds[2]["note"] is None


def test_errors_and_cli(run_db, tmp_path):
    store, rid = run_db
    with pytest.raises(InputError, match="unknown export format"):
        export_run(store, rid, "xlsx", tmp_path / "o")
    with pytest.raises(InputError, match="no run"):
        export_run(store, "nope", "csv", tmp_path / "o")
    r = CliRunner().invoke(app, ["export", "base", "--format", "csv", "--out", str(tmp_path / "cli"),
                                 "--db", str(store.path)])
    assert r.exit_code == 0, r.output
    assert "3 sessions" in r.output and (tmp_path / "cli" / "flags.csv").exists()
    r = CliRunner().invoke(app, ["export", "nope", "--out", str(tmp_path / "x"), "--db", str(store.path)])
    assert r.exit_code == 2
