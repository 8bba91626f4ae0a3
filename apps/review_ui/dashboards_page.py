"""Dashboards: metric distributions per run, trends across runs, breakdowns, hallucination types."""

from __future__ import annotations

import streamlit as st

from evalkit.review import dashboards as dash
from evalkit.metrics.info import sort_key

from . import common
from .export import export_row


def render() -> None:
    common.guard("dashboards")
    st.title("Dashboards")
    runs = common.cached("list_runs")
    if runs.empty:
        st.info("No run yet: `evalkit run SUITE --db FILE` writes one.", icon=":material/monitoring:")
        return
    labels = {r.run_id: dash.run_label(r._asdict()) for r in runs.itertuples()}
    with st.expander(f"Runs ({len(runs)})", expanded=False):
        st.dataframe(runs, hide_index=True, width="stretch")
    chosen = st.multiselect("Runs", list(labels), default=list(labels)[-4:], format_func=labels.get, key="db_runs")
    if not chosen:
        st.info("Pick at least one run.")
        return
    if "normalizer" in runs:
        norms = sorted({str(n) for n in runs.loc[runs.run_id.isin(chosen), "normalizer"]})
        st.caption(f"WER normaliser: {', '.join(norms)}" + (" — these runs' WER figures are not comparable"
                                                             if len(norms) > 1 else ""))
    summary = common.cached("metric_summary", chosen)
    metrics = sorted(summary["metric"].unique(), key=sort_key) if not summary.empty else []
    if not metrics:
        st.info("These runs have no scores yet.")
        return
    tabs = st.tabs(["Distributions", "Trends", "Breakdown", "Hallucinations & omissions"])
    with tabs[0]:
        m = st.selectbox("Metric", metrics, index=metrics.index("wer") if "wer" in metrics else 0, key="db_metric")
        fig = dash.distribution(summary, m)
        st.plotly_chart(fig, width="stretch", key="ch_dist")
        export_row(fig, summary[summary["metric"] == m], f"distribution-{m}")
        vals = common.cached("metric_values", chosen, m)
        fig2 = dash.histogram(vals, m, labels)
        st.plotly_chart(fig2, width="stretch", key="ch_hist")
        export_row(fig2, vals, f"histogram-{m}")
    with tabs[1]:
        allsum = common.cached("metric_summary", None, list(dash.TREND_METRICS), quantiles=False)
        picked = st.multiselect("Metrics", [m for m in dash.TREND_METRICS if m in set(allsum["metric"])],
                                default=[m for m in ("wer", "medical_wer", "adherence", "hallucination_rate",
                                                     "omission_rate") if m in set(allsum["metric"])],
                                key="db_trend_metrics")
        fig = dash.trend(allsum, picked)
        st.plotly_chart(fig, width="stretch", key="ch_trend")
        export_row(fig, allsum[allsum["metric"].isin(picked)], "trend")
    with tabs[2]:
        a, b = st.columns(2)
        m = a.selectbox("Metric", metrics, key="db_bd_metric",
                        index=metrics.index("hallucination_rate") if "hallucination_rate" in metrics else 0)
        by = b.segmented_control("By", ["specialty", "scribe", "template"], default="specialty", key="db_bd_by")
        df = common.cached("metric_breakdown", m, by or "specialty", chosen)
        fig = dash.breakdown(df, m, by or "specialty", labels)
        st.plotly_chart(fig, width="stretch", key="ch_bd")
        export_row(fig, df, f"breakdown-{m}-{by}")
    with tabs[3]:
        df = common.cached("finding_breakdown", ["type", "severity"], chosen)
        fig = dash.findings_chart(df, "type", "severity", labels)
        st.plotly_chart(fig, width="stretch", key="ch_types")
        export_row(fig, df, "hallucinations-type-severity")
        df2 = common.cached("finding_breakdown", ["section", "severity"], chosen)
        fig2 = dash.findings_chart(df2, "section", "severity", labels)
        st.plotly_chart(fig2, width="stretch", key="ch_sections")
        export_row(fig2, df2, "hallucinations-by-section")
        om = common.cached("finding_breakdown", ["category", "severity"], chosen, kind="omission")
        st.markdown("**Omissions by category and severity**")
        st.dataframe(om.drop(columns=["claims"]), hide_index=True, width="stretch")
