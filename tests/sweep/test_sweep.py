"""The robustness sweep: grid, runs per condition, summary rows, report, CLI, numeric safety."""

from __future__ import annotations

import json

import pytest

from evalkit.errors import InputError
from evalkit.sweep.run import Condition, SweepConfig, conditions_for, prepare_consultations, run_sweep
from evalkit.sweep.report import bootstrap_mean, break_points, write_report


def _one_card(tmp_path):
    """A cards folder holding one shipped card (short and fast to speak)."""
    from evalkit.synth.cards import default_cards_dir

    d = tmp_path / "cards"
    d.mkdir()
    src = default_cards_dir() / "gp-tonsillitis-uk-01.yaml"
    (d / src.name).write_text(src.read_text(encoding="utf-8"), encoding="utf-8")
    return d


def test_grid_names_and_parse():
    conds = conditions_for(["espeak"], ["clean", "phone"], [30.0, None], vocab="both")
    assert len(conds) == 8
    names = [c.name for c in conds]
    assert "espeak/phone@30dB+vocab" in names and "espeak/clean" in names
    assert all(Condition.parse(c.label) == c for c in conds)
    with pytest.raises(InputError, match="channel"):
        conditions_for(["espeak"], ["radio"], [10.0])
    with pytest.raises(InputError, match="voices"):
        conditions_for(["festival"], ["clean"], [10.0])


def test_consultations_are_seeded_disfluent_and_not_the_generate_ids(tmp_path):
    cfg = SweepConfig(cards=str(_one_card(tmp_path)), n=2, seed=4, disfluency=0.4)
    a, counts = prepare_consultations(cfg)
    b, _ = prepare_consultations(cfg)
    assert a == b and sum(counts.values()) > 0
    assert all(c.id.endswith(f"-sw{c.dataset.removeprefix('sweep-')[:6]}") for c in a)
    assert a[0].dataset.startswith("sweep-")


def test_sweep_stores_one_run_per_condition_and_resumes(store, tmp_path):
    """A text scribe keeps this fast: the plumbing (audio per condition, runs, labels, rows) is what is tested."""
    cfg = SweepConfig(cards=str(_one_card(tmp_path)), n=1, seed=2, scribe="reference", snrs=[20.0],
                      channels=["clean", "phone"], metrics=["adherence"], disfluency=0.2, overlap=0.3)
    res = run_sweep(cfg, store, progress=False)
    assert len(res.runs) == 2 and len(res.rows) == 2
    runs = store.list_runs()
    assert sorted(runs.label) == ["sweep:espeak/clean@20dB", "sweep:espeak/phone@20dB"]
    for row in res.rows:
        assert row["n"] == 1 and row["failed"] == 0
        assert {"condition", "snr", "channel", "voice", "n", "wer", "medical_wer", "numeric_error_rate",
                "hallucination_rate"} <= set(row)
    # every session links the audio of its own condition, and the files exist
    for name, rid in res.runs.items():
        for sid in store.run_sessions(rid).session_id:
            out = store.session_output(sid)
            assert out.metadata["condition"] == name
            assert (store.root / out.metadata["audio"]["path"]).is_file()
            assert out.metadata["audio"]["provenance"]["channel"]["channel"]["name"] == Condition.parse(name).channel
    # the session view plays the audio of the session's own condition
    from evalkit.review.auth import User
    from evalkit.review.session_view import load_session

    sid = store.run_sessions(res.runs["espeak/phone@20dB"]).session_id[0]
    view = load_session(store, User("dr", "clinician"), sid, extras=False)
    assert "espeak_phone_20dB" in view.audio.path and view.audio_path is not None
    assert any(t.start is not None for t in view.audio.turn_times)
    # the consultations are stored once, shared (paired) by every condition
    assert len(store.list_consultations(res.dataset)) == 1
    again = run_sweep(cfg, store, progress=False)
    assert again.runs == res.runs and again.audio_s == 0.0  # resumed: nothing re-synthesised
    assert len(store.list_runs()) == 2
    sweeps = store.sweep_runs()
    assert set(sweeps.sweep) == {res.sweep_id} and (sweeps.sessions == 1).all()


def test_report_break_points_and_bootstrap(tmp_path):
    rows = []
    for ch, base in (("clean", 0.1), ("phone", 0.2)):
        for snr, add in ((30.0, 0.0), (20.0, 0.02), (10.0, 0.1), (5.0, 0.3)):
            rows.append({"condition": f"espeak/{ch}@{snr:g}dB", "voice": "espeak", "channel": ch, "snr": snr,
                         "vocab_prompt": False, "n": 4, "wer": base + add, "wer_ci": [base + add - 0.02, base + add + 0.02],
                         "numeric_error_rate": add / 2, "numeric_error_rate_ci": [0, add],
                         "medical_wer": None, "hallucination_rate": 0.0})
    bp = {(b["series"], b["metric"]): b["breaks_at_snr"] for b in break_points(rows)}
    assert bp[("espeak · clean", "wer")] == 5.0 and bp[("espeak · phone", "wer")] == 10.0
    assert bp[("espeak · clean", "numeric_error_rate")] == 5.0
    out = write_report(rows, tmp_path / "rep", meta={"scribe": "x"})
    md = out["markdown"].read_text()
    assert "| espeak · phone | wer | 0.25 | 10 dB |" in md
    assert all(p.exists() and p.stat().st_size > 1000 for p in out["figures"])
    mean, lo, hi = bootstrap_mean([0.1, 0.2, 0.3, 0.4])
    assert mean == pytest.approx(0.25) and lo < mean < hi
    assert bootstrap_mean([]) == (None, None, None)


def test_cli_sweep_writes_json_and_report(tmp_path, monkeypatch):
    from typer.testing import CliRunner

    from evalkit.cli import app

    monkeypatch.chdir(tmp_path)
    cards = _one_card(tmp_path)
    r = CliRunner().invoke(app, ["sweep", "--cards", str(cards), "--n", "1", "--scribe", "reference",
                                 "--snr", "30,inf", "--channel", "room", "--metrics", "adherence",
                                 "--json", "out.json", "--report", "rep", "--db", "s.duckdb", "--no-progress"])
    assert r.exit_code == 0, r.output
    rows = json.loads((tmp_path / "out.json").read_text())
    assert [x["condition"] for x in rows] == ["espeak/room@30dB", "espeak/room"]
    assert rows[1]["snr"] is None and rows[0]["n"] == 1
    assert (tmp_path / "rep" / "report.md").exists()
    bad = CliRunner().invoke(app, ["sweep", "--channel", "radio", "--db", "s.duckdb"])
    assert bad.exit_code != 0


def test_vocab_prompt_needs_whisper(store, tmp_path):
    cfg = SweepConfig(cards=str(_one_card(tmp_path)), n=1, scribe="sphinx+rules", vocab_prompt="on",
                      snrs=[None], channels=["clean"])
    with pytest.raises(InputError, match="vocabulary prompt"):
        run_sweep(cfg, store, progress=False)


def test_report_falls_back_to_offline_plotly_html_without_matplotlib(tmp_path, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "matplotlib", None)  # import matplotlib → ImportError
    rows = [{"condition": f"espeak/clean@{s:g}dB", "voice": "espeak", "channel": "clean", "snr": s, "vocab_prompt": False,
             "n": 2, "wer": w, "wer_ci": [w - 0.01, w + 0.01], "numeric_error_rate": 0.0,
             "numeric_error_rate_ci": [0.0, 0.0], "medical_wer": None, "hallucination_rate": None}
            for s, w in ((30.0, 0.1), (5.0, 0.4))]
    out = write_report(rows, tmp_path / "rep")
    assert out["format"] == "html" and [p.name for p in out["figures"]] == ["curves.html"]
    html = out["figures"][0].read_text()
    assert len(html) > 1_000_000 and "<script src=" not in html  # plotly.js inlined: opens offline
    assert "curves.html" in out["markdown"].read_text()
