"""Plotly figure builders for the dashboards, and chart/table export (CSV, HTML, PNG).

Builders take the frames the Store's dashboard queries return (aggregated in DuckDB, so a
million score rows cost one small frame) and return ``plotly.graph_objects.Figure``.
PNG export uses kaleido, which drives a local Chromium (Debian's ``/usr/bin/chromium``);
when none is installed :func:`figure_png` returns None and the app offers HTML and CSV.
"""

from __future__ import annotations

import os
import shutil
from typing import Sequence

import pandas as pd
import plotly.graph_objects as go

#: metrics where a larger value is better (every other metric: smaller is better)
HIGHER_IS_BETTER_PREFIXES = ("adherence", "pdqi_")
TREND_METRICS = ("wer", "medical_wer", "adherence", "hallucination_rate", "omission_rate",
                 "hallucination_rate_fabrication", "hallucination_rate_negation",
                 "hallucination_rate_causality", "hallucination_rate_contextual")
VERDICT_COLOURS = {"supported": "#2e7d32", "unsupported": "#ef8f00", "contradicted": "#c62828",
                   "major": "#c62828", "minor": "#ef8f00"}
_LAYOUT = dict(template="plotly_white", margin=dict(l=40, r=20, t=50, b=40), height=380,
               font=dict(size=13), legend=dict(orientation="h", y=-0.2))


def higher_is_better(metric: str) -> bool:
    return metric.startswith(HIGHER_IS_BETTER_PREFIXES)


def run_label(row: pd.Series | dict) -> str:
    label = row.get("label")
    rid = str(row.get("run_id"))
    return f"{label} ({rid[:6]})" if isinstance(label, str) and label else rid


def _empty(title: str) -> go.Figure:
    fig = go.Figure()
    fig.update_layout(title=title, **_LAYOUT)
    fig.add_annotation(text="no data yet", showarrow=False, font=dict(size=16, color="#777"))
    return fig


def distribution(summary: pd.DataFrame, metric: str) -> go.Figure:
    """Box plot of one metric per run from precomputed quartiles (:meth:`Store.metric_summary`)."""
    d = summary[summary["metric"] == metric] if not summary.empty else summary
    title = f"{metric} — distribution per run"
    if d.empty:
        return _empty(title)
    names = [run_label(r) for _, r in d.iterrows()]
    fig = go.Figure(go.Box(x=names, q1=d["q1"], median=d["median"], q3=d["q3"], lowerfence=d["min"],
                           upperfence=d["max"], mean=d["mean"], name=metric, marker_color="#1f6fb2",
                           boxpoints=False))
    fig.update_layout(title=title, yaxis_title=metric, showlegend=False, **_LAYOUT)
    return fig


def histogram(values: pd.DataFrame, metric: str, labels: dict[str, str] | None = None) -> go.Figure:
    """Overlaid histograms of one metric's raw values per run (:meth:`Store.metric_values`)."""
    title = f"{metric} — histogram"
    if values.empty:
        return _empty(title)
    fig = go.Figure()
    for rid, g in values.groupby("run_id", sort=False):
        fig.add_histogram(x=g["value"], name=(labels or {}).get(rid, str(rid)), opacity=0.65, nbinsx=30)
    fig.update_layout(title=title, barmode="overlay", xaxis_title=metric, yaxis_title="sessions", **_LAYOUT)
    return fig


def trend(summary: pd.DataFrame, metrics: Sequence[str] = TREND_METRICS) -> go.Figure:
    """Mean of each metric across runs in the order they were made."""
    title = "Trends across runs (mean per run)"
    d = summary[summary["metric"].isin(list(metrics))] if not summary.empty else summary
    if d.empty:
        return _empty(title)
    d = d.sort_values("created_at")
    fig = go.Figure()
    for m in [m for m in metrics if m in set(d["metric"])]:
        g = d[d["metric"] == m]
        fig.add_scatter(x=[run_label(r) for _, r in g.iterrows()], y=g["mean"], mode="lines+markers", name=m)
    fig.update_layout(title=title, yaxis_title="mean", **_LAYOUT)
    return fig


def breakdown(df: pd.DataFrame, metric: str, by: str, labels: dict[str, str] | None = None) -> go.Figure:
    """Grouped bars: mean of a metric per ``by`` group, one colour per run (:meth:`Store.metric_breakdown`)."""
    title = f"{metric} by {by}"
    if df.empty:
        return _empty(title)
    fig = go.Figure()
    for rid, g in df.groupby("run_id", sort=False):
        fig.add_bar(x=g["group"].astype(str), y=g["mean"], name=(labels or {}).get(rid, str(rid)),
                    customdata=g["n"], hovertemplate="%{x}: %{y:.3f} (n=%{customdata})<extra></extra>")
    fig.update_layout(title=title, barmode="group", yaxis_title=f"mean {metric}", xaxis_title=by, **_LAYOUT)
    return fig


def findings_chart(df: pd.DataFrame, by: str, colour: str | None = None,
                   labels: dict[str, str] | None = None) -> go.Figure:
    """Stacked bars of hallucinated claims per claim (rate) per run, split by ``by`` and ``colour``.

    ``df`` comes from :meth:`Store.finding_breakdown` with ``by`` (and ``colour``) as columns.
    """
    title = f"Unsupported or contradicted claims by {by}" + (f" and {colour}" if colour else "")
    if df.empty:
        return _empty(title)
    d = df.copy()
    d["rate"] = d["count"] / d["claims"].where(d["claims"] > 0)
    d["run"] = [(labels or {}).get(r, str(r)) for r in d["run_id"]]
    d[by] = d[by].fillna("unspecified").astype(str)
    fig = go.Figure()
    groups = d.groupby(colour, dropna=False, sort=True) if colour else [(None, d)]
    for key, g in groups:
        name = "unspecified" if key is None or (isinstance(key, float) and pd.isna(key)) else str(key)
        fig.add_bar(x=[g["run"], g[by]], y=g["rate"], name=name if colour else "rate",
                    marker_color=VERDICT_COLOURS.get(name), customdata=g["count"],
                    hovertemplate="%{x}: %{y:.3f} (%{customdata} claims)<extra></extra>")
    fig.update_layout(title=title, barmode="stack", yaxis_title="per claim", **_LAYOUT)
    return fig


def compare_scatter(paired: pd.DataFrame, metric: str, name_a: str = "A", name_b: str = "B") -> go.Figure:
    """Each shared case as a point (value in run A, value in run B); above the diagonal is higher in B."""
    title = f"{metric}: {name_b} vs {name_a} per case"
    if paired.empty:
        return _empty(title)
    worse = paired["delta"] < 0 if higher_is_better(metric) else paired["delta"] > 0
    fig = go.Figure()
    fig.add_scatter(x=paired["value_a"], y=paired["value_b"], mode="markers", text=paired["consultation_id"],
                    marker=dict(color=["#c62828" if w else "#1f6fb2" for w in worse], size=9),
                    hovertemplate="%{text}: %{x:.3f} → %{y:.3f}<extra></extra>", name="cases")
    lo = float(min(paired["value_a"].min(), paired["value_b"].min()))
    hi = float(max(paired["value_a"].max(), paired["value_b"].max()))
    fig.add_scatter(x=[lo, hi], y=[lo, hi], mode="lines", line=dict(dash="dash", color="#999"), name="no change")
    fig.update_layout(title=title, xaxis_title=f"{metric} in {name_a}", yaxis_title=f"{metric} in {name_b}",
                      **_LAYOUT)
    return fig


# ------------------------------------------------------------------------- export


def frame_csv(df: pd.DataFrame) -> bytes:
    """A table as UTF-8 CSV bytes."""
    return df.to_csv(index=False).encode("utf-8")


def figure_html(fig: go.Figure) -> str:
    """A standalone HTML page with plotly.js embedded (opens offline)."""
    return fig.to_html(include_plotlyjs=True, full_html=True)


def chromium_path() -> str | None:
    for cand in (os.environ.get("BROWSER_PATH"), "/usr/bin/chromium", shutil.which("chromium"),
                 shutil.which("google-chrome")):
        if cand and os.path.exists(cand):
            return cand
    return None


def figure_png(fig: go.Figure, width: int = 1000, height: int = 500) -> bytes | None:
    """PNG bytes via kaleido and a local Chromium, or None when that is not available here."""
    browser = chromium_path()
    if browser is None:
        return None
    try:
        import plotly.io as pio

        os.environ.setdefault("BROWSER_PATH", browser)
        # Debian's chromium wrapper appends CHROMIUM_FLAGS: keep the browser off the network
        flags = os.environ.get("CHROMIUM_FLAGS", "")
        for f in ("--disable-background-networking", "--disable-quic", "--no-first-run"):
            if f not in flags:
                flags += " " + f
        os.environ["CHROMIUM_FLAGS"] = flags.strip()
        return pio.to_image(fig, format="png", width=width, height=height)
    except Exception:  # kaleido missing or the browser failed to start
        return None


__all__ = ["TREND_METRICS", "breakdown", "compare_scatter", "distribution", "figure_html", "figure_png",
           "findings_chart", "frame_csv", "higher_is_better", "histogram", "run_label", "trend"]
