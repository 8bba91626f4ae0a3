"""Streaming runs as tables and a chart, for the CLI, the demo and the app (scores only, no transcript text)."""

from __future__ import annotations

import math
from typing import Any, Sequence

import pandas as pd

__all__ = ["STREAM_COLUMNS", "stream_run_ids", "run_summary", "session_table", "sessions_figure"]

#: (metric, label, format) of the streaming tables; the final transcript's WER is the run's ``wer``
STREAM_COLUMNS = [
    ("stream_first_partial_s", "first partial (s)", "{:.2f}"),
    ("stream_final_latency_s", "final latency (s)", "{:.2f}"),
    ("stream_revision_rate", "partial words changed", "{:.1%}"),
    ("stream_rtf", "RTF", "{:.2f}"),
    ("wer", "final WER", "{:.1%}"),
]
_STREAM = [m for m, _, _ in STREAM_COLUMNS if m.startswith("stream_")]


def fmt(value: Any, spec: str) -> str:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return "–"
    return spec.format(value)


def stream_run_ids(store: Any) -> list[str]:
    """Ids of the runs that have streaming figures, oldest first."""
    runs = store.list_runs()
    if runs.empty:
        return []
    means = store.run_means(list(runs.run_id))
    if means.empty or not any(m in means.columns for m in _STREAM):
        return []
    cols = [m for m in _STREAM if m in means.columns]
    has = set(means.index[means[cols].notna().any(axis=1)])
    return [r for r in runs.run_id if r in has]


def run_summary(store: Any, run_ids: Sequence[str]) -> list[dict[str, Any]]:
    """One record per run: id, label, scribe, sessions, the WER normaliser, and the mean of every streaming
    column (``None`` where the run has none, e.g. a batch run shown beside a streaming one)."""
    runs = store.list_runs()
    runs = runs[runs.run_id.isin(list(run_ids))].set_index("run_id")
    means = store.run_means(list(run_ids)) if len(runs) else pd.DataFrame()
    out = []
    for rid in run_ids:
        if rid not in runs.index:
            continue
        r = runs.loc[rid]
        rec: dict[str, Any] = {"run_id": rid, "label": r["label"] if isinstance(r["label"], str) else None,
                               "scribe": r["scribe"], "sessions": int(r["sessions"]),
                               "normalizer": r.get("normalizer", "evalkit")}
        for m, _, _ in STREAM_COLUMNS:
            v = means.loc[rid, m] if (not means.empty and rid in means.index and m in means.columns) else None
            rec[m] = None if v is None or (isinstance(v, float) and math.isnan(v)) else float(v)
        out.append(rec)
    return out


def session_table(store: Any, run_id: str) -> pd.DataFrame:
    """One row per session of a run: consultation id and every streaming column (NaN where missing)."""
    scores = store.scores_frame([run_id])
    wanted = [m for m, _, _ in STREAM_COLUMNS]
    cols = ["consultation_id", *wanted]
    if scores.empty:
        return pd.DataFrame(columns=cols)
    scores = scores[scores.metric.isin(wanted)]
    wide = scores.pivot_table(index="consultation_id", columns="metric", values="value", aggfunc="last")
    wide = wide.reindex(columns=wanted)
    wide.columns.name = None
    return wide.reset_index()[cols].sort_values("consultation_id", ignore_index=True)


def sessions_figure(tables: dict[str, pd.DataFrame]):
    """A plotly scatter, one dot per session: final latency (x) against partial words later changed (y),
    one colour per run. Down and to the left is better."""
    import plotly.graph_objects as go

    fig = go.Figure()
    for name, t in tables.items():
        if t.empty:
            continue
        fig.add_trace(go.Scatter(x=t["stream_final_latency_s"], y=t["stream_revision_rate"], mode="markers",
                                 name=name, text=t["consultation_id"],
                                 hovertemplate="%{text}<br>final latency %{x:.2f} s<br>changed %{y:.1%}"))
    fig.update_layout(xaxis_title="final latency per utterance, mean (s)", yaxis_title="partial words later changed",
                      yaxis_tickformat=".0%", height=420, margin=dict(l=40, r=20, t=30, b=40),
                      legend=dict(orientation="h"))
    return fig
