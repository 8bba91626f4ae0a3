"""Compare two runs: which metrics and which cases got worse, and by how much."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from evalkit.review import dashboards as dash
from evalkit.metrics.info import info_or_default

from . import common
from .export import export_row
from .queue_page import open_session


def render() -> None:
    user = common.guard("compare")
    store = common.store()
    st.title("Compare runs")
    runs = store.list_runs()
    if len(runs) < 2:
        st.info("Two runs are needed to compare.", icon=":material/compare_arrows:")
        return
    labels = {r.run_id: dash.run_label(r._asdict()) for r in runs.itertuples()}
    ids = list(labels)
    a, b = st.columns(2)
    run_a = a.selectbox("Baseline (A)", ids, index=len(ids) - 2, format_func=labels.get, key="cmp_a")
    run_b = b.selectbox("Candidate (B)", ids, index=len(ids) - 1, format_func=labels.get, key="cmp_b")
    if run_a == run_b:
        st.warning("Pick two different runs.")
        return
    res = _compare(store, run_a, run_b)
    if res is not None:
        verdict = res.verdict
        colour = {"regressed": "red", "improved": "green"}.get(verdict, "blue")
        common.html_block(f"{common.chip(verdict.upper(), colour)} {res.n_paired} paired cases · "
                          f"{len(res.regressions)} metric(s) worse, {len(res.improvements)} better")
        from evalkit.compare.report import normalizer_line

        st.caption(normalizer_line(res, markdown=False))
        order = {"regressed": 0, "improved": 1}
        rows = [{"verdict": {"regressed": "▼ worse", "improved": "▲ better"}.get(m.verdict, m.verdict),
                 "metric": m.metric, "A": m.info.fmt(m.mean_a), "B": m.info.fmt(m.mean_b),
                 "Δ (B−A)": m.info.fmt(m.delta, signed=True),
                 "95% CI": f"[{m.info.fmt(m.lo, True)}, {m.info.fmt(m.hi, True)}]",
                 "p": f"{m.p_value:.3f}" if m.p_value == m.p_value else "–",
                 "better": m.direction or ""}
                for m in sorted(res.metrics, key=lambda m: order.get(m.verdict, 2))]
        st.dataframe(pd.DataFrame(rows), hide_index=True, width="stretch")
    metrics = sorted(set(store.metric_summary([run_a, run_b])["metric"]))
    first = next((r.metric for r in (res.regressions if res else []) if r.metric in metrics),
                 "hallucination_rate" if "hallucination_rate" in metrics else (metrics[0] if metrics else None))
    if not metrics:
        st.info("These runs have no scores to compare.")
        return
    m = st.selectbox("Per-case change in", metrics, index=metrics.index(first), key="cmp_metric")
    paired = store.paired_metric(run_a, run_b, m)
    info = info_or_default(m)
    paired["worse_by"] = [info.worsening(d) if d == d else None for d in paired["delta"]]
    paired = paired.sort_values("worse_by", ascending=False, na_position="last")
    worse = paired[paired["worse_by"] > 0]
    st.markdown(f"**{len(worse)} of {len(paired)} cases got worse in {m}** "
                f"({'lower' if info.direction == 'lower' else 'higher'} is better).")
    fig = dash.compare_scatter(paired, m, labels[run_a], labels[run_b])
    st.plotly_chart(fig, width="stretch", key="ch_cmp")
    st.dataframe(paired, hide_index=True, width="stretch")
    export_row(fig, paired, f"compare-{m}")
    if user.can("review") and not worse.empty:
        pick = st.selectbox("Open a worsened case in B", worse["session_b"].tolist(), key="cmp_open_pick")
        if st.button("Open session", key="cmp_open"):
            open_session(pick)


@st.cache_data(show_spinner="Comparing runs (bootstrap)…", ttl=300)
def _compare_cached(db: str, run_a: str, run_b: str):
    from evalkit.compare.runs import compare_runs

    return compare_runs(common.store(), run_a, run_b, n_resamples=2000, worst=10)


def _compare(store, run_a: str, run_b: str):
    try:
        return _compare_cached(str(store.path), run_a, run_b)
    except ImportError:
        return None
    except Exception as e:  # the comparison library refused (e.g. no paired case): show plain deltas only
        st.caption(f"Statistical comparison unavailable: {type(e).__name__}.")
        return None
