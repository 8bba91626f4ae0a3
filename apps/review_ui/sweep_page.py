"""Robustness sweep: WER and numeric-error curves against SNR per channel — where does the scribe break?

Shows the sweeps written by ``evalkit sweep`` (runs labelled ``sweep:<condition>``): the curves
with 95% bootstrap bands, the break points, and the per-condition table with links to the
runs' sessions. Scores only, no patient text.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from evalkit.sweep import report as sr

from . import common


def _pct(v) -> str:
    return "–" if v is None or pd.isna(v) else f"{v:.1%}"


def _secs(v) -> str:
    return "–" if v is None or pd.isna(v) else f"{v:.2f}"


def _breaks_at(v) -> str:
    if v is None:
        return "does not break"
    return "already without noise" if v == "clean" else f"{v:g} dB"


def render() -> None:
    common.guard("dashboards")
    store = common.store()
    st.title("Robustness sweep")
    runs = store.sweep_runs()
    if runs.empty:
        st.info("No sweep yet: `evalkit sweep --n 8 --snr 30,20,10,5 --channel clean,room,phone --db FILE` "
                "writes one.", icon=":material/graphic_eq:")
        return
    sweeps = (runs.groupby("sweep", sort=False)
              .agg(created=("created_at", "max"), scribe=("scribe", "first"), conditions=("run_id", "count"))
              .sort_values("created", ascending=False))
    options = list(sweeps.index)
    pick = st.selectbox("Sweep", options, key="sw_pick",
                        format_func=lambda s: f"{s} · {sweeps.loc[s, 'scribe']} · {sweeps.loc[s, 'conditions']} "
                                              f"conditions · {str(sweeps.loc[s, 'created'])[:16]}")
    rows = sr.rows_from_store(store, pick)
    if not rows:
        st.info("This sweep has no scored sessions yet.")
        return
    n = max(r["n"] for r in rows)
    failed = sum(r["failed"] for r in rows)
    c = st.columns(3)
    c[0].metric("Conditions", len(rows))
    c[1].metric("Cases per condition", n)
    c[2].metric("Failed sessions", failed)
    streamed = [m for m in sr.STREAM_METRICS if any(r.get(m) is not None for r in rows)]
    metric = st.segmented_control("Curve", list(sr.CURVE_METRICS) + ["medical_wer", "hallucination_rate"] + streamed,
                                  default="wer", key="sw_metric") or "wer"
    st.plotly_chart(sr.curve_figure(rows, metric), width="stretch", key="sw_curve")
    st.subheader("Where does it break?")
    bp = pd.DataFrame([{"series": b["series"], "metric": b["metric"], "threshold": b["threshold"],
                        "breaks at": _breaks_at(b["breaks_at_snr"])} for b in sr.break_points(rows)])
    if not bp.empty:
        st.dataframe(bp, hide_index=True, width="stretch")
    st.subheader("Conditions")
    table = pd.DataFrame([{
        "condition": r["condition"], "n": r["n"], "failed": r["failed"], "WER": _pct(r["wer"]),
        "medical WER": _pct(r["medical_wer"]), "numeric errors": _pct(r["numeric_error_rate"]),
        "hallucination": _pct(r["hallucination_rate"]),
        **({"final latency (s)": _secs(r.get("stream_final_latency_s")),
            "partial words changed": _pct(r.get("stream_revision_rate"))} if streamed else {}),
        "run": r["run_id"],
    } for r in rows])
    st.dataframe(table, hide_index=True, width="stretch")
    norms = sorted({str(r.get("normalizer") or "evalkit") for r in rows})
    st.caption(f"WER normaliser: {', '.join(norms)}.")
    st.caption("Each condition is a run labelled sweep:<condition>: open it in Compare runs or the review "
               "queue to listen to the sessions it broke on.")
