"""The app's Streaming page (apps/review_ui/stream_page.py) and the report functions it calls."""

from __future__ import annotations

from pathlib import Path

from streamlit.testing.v1 import AppTest

from evalkit.run.runner import run_suite
from evalkit.store import Store
from evalkit.streaming import report
from evalkit.run.suite import Suite

from .test_protocol import streamed_run

APPS = Path(__file__).resolve().parents[2] / "apps"

_SCRIPT = """
import sys
sys.path.insert(0, {apps!r})
from review_ui import common, stream_page
from evalkit.store import Store
_saved = common.guard, common.store
common.guard = lambda permission: None
common.store = lambda: Store({db!r})
try:
    stream_page.render()
finally:  # the module is shared with other tests in this process
    common.guard, common.store = _saved
"""


def _page(db: Path) -> AppTest:
    return AppTest.from_string(_SCRIPT.format(apps=str(APPS), db=str(db)), default_timeout=120).run()


def test_stream_page_shows_streaming_runs_beside_the_batch_run(tmp_path):
    store = Store(tmp_path / "s.duckdb")
    rid, c = streamed_run(store, tmp_path)
    batch = run_suite(Suite(dataset="unit", scribes=["reference"], metrics=["wer"]), store, progress=False)[0]
    assert report.stream_run_ids(store) == [rid]
    summary = {r["run_id"]: r for r in report.run_summary(store, [rid, batch])}
    assert summary[rid]["stream_revision_rate"] > 0 and summary[batch]["stream_revision_rate"] is None
    assert summary[batch]["wer"] == 0.0
    sessions = report.session_table(store, rid)
    assert list(sessions["consultation_id"]) == [c.id] and sessions["stream_final_latency_s"].notna().all()
    at = _page(tmp_path / "s.duckdb")
    assert not at.exception
    assert [t.value for t in at.title] == ["Streaming"]
    runs = at.dataframe[0].value
    assert set(runs["run"]) == {rid, batch} and "final latency (s)" in runs.columns
    assert len(at.get("plotly_chart")) == 1
    assert list(at.dataframe[1].value["consultation"]) == [c.id]


def test_stream_page_without_streaming_runs_says_how_to_make_one(tmp_path):
    Store(tmp_path / "e.duckdb")
    at = _page(tmp_path / "e.duckdb")
    assert not at.exception and "whisper-stream+rules" in at.info[0].value


def test_sweep_rows_and_report_carry_the_streaming_figures(tmp_path):
    from evalkit.sweep.run import Condition
    from evalkit.sweep.report import summarise, write_report

    store = Store(tmp_path / "s.duckdb")
    rid, _ = streamed_run(store, tmp_path)
    (row,) = summarise(store, [(Condition("espeak", "clean", None), rid)])
    assert row["stream_final_latency_s"] is not None and row["stream_revision_rate"] > 0
    assert row["normalizer"] == "evalkit"
    md = write_report([row], tmp_path / "report")["markdown"].read_text()
    assert "## Streaming" in md and "partial words later changed" in md and "WER normaliser: evalkit" in md
