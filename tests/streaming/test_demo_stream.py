"""``evalkit demo --stream N`` runs the streaming scribe beside the batch run and prints its figures."""

import pytest


@pytest.mark.slow
def test_demo_streams_beside_the_batch_run(tmp_path):
    from typer.testing import CliRunner

    from evalkit.cli import app
    from evalkit.store import Store
    from evalkit.streaming.report import run_summary, stream_run_ids

    r = CliRunner().invoke(app, ["demo", "--dir", str(tmp_path / "d"), "--n", "1", "--scribes", "reference",
                                 "--stream", "1"], terminal_width=200)
    assert r.exit_code == 0, r.output
    assert "streaming beside batch" in r.output and "whisper-stream+rules" in r.output
    store = Store(tmp_path / "d" / "evalkit.duckdb")
    (rid,) = stream_run_ids(store)
    (rec,) = run_summary(store, [rid])
    assert rec["sessions"] == 1 and rec["stream_final_latency_s"] is not None and rec["wer"] is not None
