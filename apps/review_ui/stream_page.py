"""Streaming: how fast partial transcripts appear, how fast they settle, how much they change — per run and per session.

Shows the runs of streaming scribes (``whisper-stream+rules``, ``websocket-stream+rules``) beside
any other run picked (the batch run of the same cases, for its WER), a chart with one dot per
session, and the per-session figures of one run. Scores only, no patient text; the figures are
explained in docs/streaming.md.
"""

from __future__ import annotations

import pandas as pd
import streamlit as st

from evalkit.streaming import report as sr

from . import common


def _table(records: list[dict]) -> pd.DataFrame:
    return pd.DataFrame([{
        "run": r["run_id"], "label": r["label"] or "", "scribe": r["scribe"], "sessions": r["sessions"],
        **{label: sr.fmt(r.get(m), spec) for m, label, spec in sr.STREAM_COLUMNS},
        "WER normaliser": r["normalizer"],
    } for r in records])


def render() -> None:
    common.guard("dashboards")
    store = common.store()
    st.title("Streaming")
    streams = sr.stream_run_ids(store)
    if not streams:
        st.info("No streaming run yet: run a suite with `scribes: [whisper-stream+rules]` (or `evalkit demo`, "
                "which streams beside the batch run).", icon=":material/speed:")
        return
    runs = store.list_runs()
    labels = {r.run_id: f"{r.run_id} · {r.scribe}" + (f" · {r.label}" if isinstance(r.label, str) else "")
              for r in runs.itertuples()}
    others = [r for r in runs.run_id if r not in streams]
    picked = st.multiselect("Streaming runs", streams, default=streams[-3:], key="st_runs",
                            format_func=lambda r: labels.get(r, r))
    beside = st.multiselect("Beside (batch runs, for their WER)", others, default=others[-1:] if others else [],
                            key="st_beside", format_func=lambda r: labels.get(r, r))
    if not picked:
        st.info("Pick at least one streaming run.")
        return
    st.dataframe(_table(sr.run_summary(store, [*picked, *beside])), hide_index=True, width="stretch")
    tables = {labels.get(r, r): sr.session_table(store, r) for r in picked}
    st.plotly_chart(sr.sessions_figure(tables), width="stretch", key="st_chart")
    st.caption("Each dot is a session: to the left, words settle sooner after the speaker stops; lower, fewer words "
               "shown in a partial later change. Time to first partial counts from the start of speech; the real-time "
               "factor is compute time over audio time (a remote service has none).")
    one = st.selectbox("Sessions of", picked, key="st_one", format_func=lambda r: labels.get(r, r))
    t = sr.session_table(store, one)
    shown = pd.DataFrame({"consultation": t["consultation_id"],
                          **{label: [sr.fmt(v, spec) for v in t[m]] for m, label, spec in sr.STREAM_COLUMNS}})
    st.dataframe(shown, hide_index=True, width="stretch")
