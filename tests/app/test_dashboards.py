"""Dashboard queries (aggregated in DuckDB) and the plotly figures built from them."""

from __future__ import annotations

from pathlib import Path

import pytest

from evalkit.review import dashboards as dash

from .demo_db import RUN_A, RUN_B


def test_metric_summary_and_distribution(demo):
    s = demo["store"]
    summ = s.metric_summary([RUN_A, RUN_B])
    wer = summ[summ["metric"] == "wer"].set_index("run_id")
    vals = s.scores_frame([RUN_A])
    expected = vals[vals["metric"] == "wer"]["value"]
    assert wer.loc[RUN_A, "n"] == 4 and wer.loc[RUN_A, "mean"] == pytest.approx(expected.mean())
    assert wer.loc[RUN_A, "median"] == pytest.approx(expected.median())
    assert wer.loc[RUN_A, "min"] <= wer.loc[RUN_A, "q1"] <= wer.loc[RUN_A, "q3"] <= wer.loc[RUN_A, "max"]
    fig = dash.distribution(summ, "wer")
    assert len(fig.data) == 1 and list(fig.data[0].median) == list(wer["median"])
    assert "baseline" in fig.data[0].x[0] or "candidate" in fig.data[0].x[0]
    h = dash.histogram(s.metric_values([RUN_A, RUN_B], "wer"), "wer")
    assert len(h.data) == 2 and sum(len(t.x) for t in h.data) == 8
    t = dash.trend(s.metric_summary(None, list(dash.TREND_METRICS)), ["wer", "hallucination_rate"])
    assert [tr.name for tr in t.data] == ["wer", "hallucination_rate"] and len(t.data[0].y) == 2


def test_breakdowns_by_specialty_scribe_and_findings(demo):
    s = demo["store"]
    bd = s.metric_breakdown("hallucination_rate", "specialty", [RUN_A])
    assert set(bd["group"]) == {"cardiology", "orthopedics", "family medicine", "dermatology"}
    assert bd.set_index("group").loc["dermatology", "mean"] == 0.0
    with pytest.raises(ValueError):
        s.metric_breakdown("wer", "patient_name")
    fb = s.finding_breakdown(["type", "severity"], [RUN_A])
    counts = {(r.type, r.severity): r.count for r in fb.itertuples()}
    assert counts[("fabrication", "major")] == 1 and counts[("negation", "minor")] == 1
    assert (fb["claims"] > 10).all()
    fig = dash.findings_chart(fb, "type", "severity")
    assert {tr.name for tr in fig.data} == {"major", "minor"}
    om = s.finding_breakdown(["category", "severity"], [RUN_A], kind="omission")
    assert om["count"].sum() == 2
    assert s.finding_breakdown(["type"], [RUN_B]).empty
    assert len(dash.breakdown(bd, "hallucination_rate", "specialty").data) == 1


def test_paired_deltas_for_compare(demo):
    p = demo["store"].paired_metric(RUN_A, RUN_B, "hallucination_rate")
    assert len(p) == 4 and (p["delta"] <= 0).all()  # the candidate is cleaner
    assert p.iloc[-1]["consultation_id"] == demo["consultations"][2]  # the biggest drop sorts last
    fig = dash.compare_scatter(p, "hallucination_rate", "A", "B")
    assert len(fig.data[0].x) == 4
    assert dash.higher_is_better("adherence") and not dash.higher_is_better("wer")


def test_exports_csv_and_html(demo):
    summ = demo["store"].metric_summary()
    csv = dash.frame_csv(summ).decode()
    assert csv.splitlines()[0].startswith("run_id,label") and len(csv.splitlines()) == len(summ) + 1
    html = dash.figure_html(dash.distribution(summ, "wer"))
    assert "<html" in html and len(html) > 1_000_000  # plotly.js embedded: opens offline
    assert 'src="https://cdn.plot.ly' not in html


def test_empty_data_gives_a_labelled_empty_chart(store):
    fig = dash.distribution(store.metric_summary(), "wer")
    assert fig.layout.annotations[0].text == "no data yet"


@pytest.mark.slow
def test_png_export_with_local_chromium():
    if dash.chromium_path() is None or not Path("/usr/bin/chromium").exists():
        pytest.skip("no Chromium here: the app offers HTML and CSV instead")
    pytest.importorskip("kaleido")
    import plotly.graph_objects as go

    png = dash.figure_png(go.Figure(go.Bar(x=["a", "b"], y=[1, 2])), width=400, height=300)
    assert png is not None and png[:8] == b"\x89PNG\r\n\x1a\n"
