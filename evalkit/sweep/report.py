"""Sweep results: per-condition summaries with bootstrap intervals, break points, curves, reports.

:func:`summarise` turns the runs of a sweep into one row per condition (mean WER, medical
WER, numeric error rate, hallucination rate… each with a 95% case-bootstrap interval).
:func:`break_points` says, per voice and channel, the highest SNR at which a metric crosses a
threshold — "where does this scribe break". :func:`write_report` writes ``report.md`` with
the curves as PNG (matplotlib, when installed) or as one self-contained plotly HTML file
(plotly.js inlined, so it opens offline); :func:`curve_figure` gives the plotly figure the app
shows. No patient text is read or written here: only scores.
"""

from __future__ import annotations

import json
import math
from pathlib import Path
from typing import Any, Iterable, Sequence

import numpy as np

#: metrics summarised per condition (the first four are the sweep's headline figures)
SUMMARY_METRICS = ("wer", "medical_wer", "numeric_error_rate", "hallucination_rate", "omission_rate", "adherence",
                   "cer", "latency_s", "cpwer", "stream_first_partial_s", "stream_final_latency_s",
                   "stream_revision_rate", "stream_rtf")
#: the streaming figures (present when the sweep's scribe streams, e.g. whisper-stream+rules)
STREAM_METRICS = ("stream_first_partial_s", "stream_final_latency_s", "stream_revision_rate", "stream_rtf")
CURVE_METRICS = ("wer", "numeric_error_rate")
#: default thresholds for break points: the ``high_wer`` flag rule, and any misheard number in 20
THRESHOLDS = {"wer": 0.25, "medical_wer": 0.25, "numeric_error_rate": 0.05, "hallucination_rate": 0.1}
CLEAN_X = 40.0  # where "no added noise" sits on the SNR axis

__all__ = ["CURVE_METRICS", "STREAM_METRICS", "SUMMARY_METRICS", "break_points", "bootstrap_mean", "curve_figure", "rows_from_store",
           "summarise", "write_json", "write_report"]


def bootstrap_mean(values: Sequence[float], n_resamples: int = 2000, seed: int = 0,
                   confidence: float = 0.95) -> tuple[float | None, float | None, float | None]:
    """Mean of ``values`` with a percentile case-bootstrap interval: ``(mean, lo, hi)`` (Nones when empty).

    Args:
        values: one value per case.
        n_resamples: bootstrap resamples.
        seed: resampling seed.
        confidence: interval coverage.
    """
    from ..compare.stats import bootstrap_sums, percentile_interval

    v = np.asarray([x for x in values if x is not None and not math.isnan(x)], dtype=np.float64)
    if v.size == 0:
        return None, None, None
    if v.size == 1:
        return float(v[0]), float(v[0]), float(v[0])
    sums = bootstrap_sums(v, n_resamples=n_resamples, seed=seed)
    lo, hi = percentile_interval(sums[:, 0] / v.size, confidence)
    return float(v.mean()), float(lo[0]), float(hi[0])


def summarise(store: Any, runs: Iterable[tuple[Any, str]]) -> list[dict[str, Any]]:
    """One row per condition: its fields, ``n`` scored cases, ``failed``, and per metric the mean and ``<metric>_ci``.

    Args:
        store: the Store.
        runs: ``(Condition, run_id)`` pairs.
    """
    rows = []
    for cond, rid in runs:
        scores = store.scores_frame([rid])
        sessions = store.run_sessions(rid)
        failed = int((sessions["status"] == "failed").sum()) if "status" in sessions else 0
        from ..text.normalizers import run_normalizer

        row: dict[str, Any] = {**cond.to_dict(), "run_id": rid, "label": cond.label,
                               "n": int(len(sessions)) - failed, "failed": failed,
                               "normalizer": run_normalizer(store.get_run(rid))}
        for m in SUMMARY_METRICS:
            vals = scores.loc[scores["metric"] == m, "value"].tolist() if not scores.empty else []
            mean, lo, hi = bootstrap_mean(vals)
            row[m] = mean
            row[f"{m}_ci"] = [lo, hi] if mean is not None else None
        rows.append(row)
    return rows


def rows_from_store(store: Any, sweep_id: str | None = None) -> list[dict[str, Any]]:
    """Summary rows of a stored sweep (the latest one when ``sweep_id`` is None), for the app.

    Args:
        store: the Store.
        sweep_id: the sweep id (``runs.summary.sweep``).
    """
    from .conditions import Condition

    runs = store.sweep_runs()
    if runs.empty:
        return []
    if sweep_id is None:
        sweep_id = runs.sort_values("created_at").iloc[-1]["sweep"]
    sel = runs[runs["sweep"] == sweep_id]
    return summarise(store, [(Condition.parse(r.label), r.run_id) for r in sel.itertuples()])


def _series_key(row: dict[str, Any]) -> str:
    return f"{row['voice']} · {row['channel']}" + (" · vocab prompt" if row.get("vocab_prompt") else "")


def _x(row: dict[str, Any]) -> float:
    return CLEAN_X if row.get("snr") is None else float(row["snr"])


def _series(rows: Sequence[dict[str, Any]], metric: str) -> dict[str, list[tuple[float, float, float, float]]]:
    out: dict[str, list[tuple[float, float, float, float]]] = {}
    for r in rows:
        if r.get(metric) is None:
            continue
        lo, hi = r.get(f"{metric}_ci") or [r[metric], r[metric]]
        out.setdefault(_series_key(r), []).append((_x(r), r[metric], lo, hi))
    return {k: sorted(v, reverse=True) for k, v in out.items()}


def break_points(rows: Sequence[dict[str, Any]], thresholds: dict[str, float] | None = None) -> list[dict[str, Any]]:
    """Where each voice · channel series breaks: the highest SNR whose mean crosses the threshold.

    Args:
        rows: summary rows.
        thresholds: metric → threshold (default :data:`THRESHOLDS`).

    Returns:
        ``[{series, metric, threshold, breaks_at_snr}]``; ``breaks_at_snr`` is None when the
        metric stays under the threshold at every SNR, ``"clean"`` when it is over it even
        without added noise.
    """
    out = []
    for metric, thr in (thresholds or THRESHOLDS).items():
        for key, pts in _series(rows, metric).items():
            broke = next((x for x, mean, _lo, _hi in pts if mean > thr), None)
            at: Any = None if broke is None else ("clean" if broke == CLEAN_X else broke)
            out.append({"series": key, "metric": metric, "threshold": thr, "breaks_at_snr": at})
    return out


def curve_figure(rows: Sequence[dict[str, Any]], metric: str):
    """A plotly figure: ``metric`` against SNR, one line per voice · channel, 95% bootstrap bands."""
    import plotly.graph_objects as go

    fig = go.Figure()
    palette = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2"]
    for i, (key, pts) in enumerate(_series(rows, metric).items()):
        color = palette[i % len(palette)]
        xs, ys, lo, hi = (list(t) for t in zip(*pts))
        fig.add_trace(go.Scatter(x=xs + xs[::-1], y=hi + lo[::-1], fill="toself", fillcolor=color, opacity=0.15,
                                 line={"width": 0}, hoverinfo="skip", showlegend=False))
        fig.add_trace(go.Scatter(x=xs, y=ys, mode="lines+markers", name=key, line={"color": color}))
    ticks = sorted({_x(r) for r in rows})
    fig.update_layout(title=f"{metric} against SNR (95% bootstrap interval)", xaxis_title="SNR (dB)",
                      yaxis_title=metric, xaxis={"autorange": "reversed", "tickvals": ticks,
                                                 "ticktext": ["clean" if t == CLEAN_X else f"{t:g}" for t in ticks]},
                      template="plotly_white", height=420, margin={"l": 60, "r": 20, "t": 60, "b": 50})
    return fig


def _png(rows: Sequence[dict[str, Any]], metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(7, 4.2), dpi=110)
    for key, pts in _series(rows, metric).items():
        xs, ys, lo, hi = (np.array(t) for t in zip(*pts))
        line, = ax.plot(xs, ys, marker="o", label=key)
        ax.fill_between(xs, lo, hi, color=line.get_color(), alpha=0.15)
    thr = THRESHOLDS.get(metric)
    if thr is not None:
        ax.axhline(thr, color="grey", linestyle="--", linewidth=1, label=f"threshold {thr:g}")
    ticks = sorted({_x(r) for r in rows})
    ax.set_xticks(ticks, ["clean" if t == CLEAN_X else f"{t:g}" for t in ticks])
    ax.invert_xaxis()
    ax.set_xlabel("SNR (dB) — noisier to the right")
    ax.set_ylabel(metric)
    ax.set_title(f"{metric} against SNR (95% bootstrap interval)")
    ax.grid(alpha=0.3)
    ax.legend(fontsize=8)
    fig.tight_layout()
    fig.savefig(path)
    plt.close(fig)


def _fmt(v: Any, ci: Any = None) -> str:
    if v is None:
        return "–"
    s = f"{v:.3f}"
    if ci and ci[0] is not None:
        s += f" [{ci[0]:.3f}, {ci[1]:.3f}]"
    return s


def write_json(rows: Sequence[dict[str, Any]], path: str | Path) -> Path:
    """Write the summary rows as a JSON array (one object per condition)."""
    p = Path(path)
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(json.dumps(list(rows), indent=2, default=str) + "\n", encoding="utf-8")
    return p


def write_report(rows: Sequence[dict[str, Any]], out_dir: str | Path, *, title: str = "Robustness sweep",
                 meta: dict[str, Any] | None = None) -> dict[str, Any]:
    """Write ``report.md`` and the curves into ``out_dir``.

    Curves are PNG files drawn with matplotlib when it is installed, else one self-contained
    plotly HTML file (``curves.html``, plotly.js inlined: it opens with no network).

    Args:
        rows: summary rows (:func:`summarise`).
        out_dir: the folder (created).
        title: report heading.
        meta: facts printed under the heading (scribe, cases, seed…).

    Returns:
        ``{"markdown": path, "figures": [paths], "format": "png" | "html"}``.
    """
    d = Path(out_dir)
    d.mkdir(parents=True, exist_ok=True)
    figures: list[Path] = []
    try:
        import matplotlib  # noqa: F401

        fmt = "png"
        for m in CURVE_METRICS:
            p = d / f"{m}_vs_snr.png"
            _png(rows, m, p)
            figures.append(p)
    except ImportError:
        fmt = "html"
        p = d / "curves.html"
        parts = [curve_figure(rows, m).to_html(full_html=False, include_plotlyjs=(i == 0))
                 for i, m in enumerate(CURVE_METRICS)]
        p.write_text(f"<html><head><meta charset='utf-8'><title>{title}</title></head><body>{''.join(parts)}"
                     "</body></html>", encoding="utf-8")
        figures.append(p)
    lines = [f"# {title}", ""]
    for k, v in (meta or {}).items():
        lines.append(f"- **{k}**: {v}")
    lines += ["", "## Where does it break?", "",
              "Highest SNR at which the condition's mean crosses the threshold (lower is more robust).", "",
              "| series | metric | threshold | breaks at SNR |", "|---|---|---|---|"]
    for b in break_points(rows):
        at = "does not break" if b["breaks_at_snr"] is None else (
            "already without noise" if b["breaks_at_snr"] == "clean" else f"{b['breaks_at_snr']:g} dB")
        lines.append(f"| {b['series']} | {b['metric']} | {b['threshold']:g} | {at} |")
    lines += ["", "## Conditions", "", "Means with 95% case-bootstrap intervals.", "",
              "| condition | n | WER | medical WER | numeric error rate | hallucination rate |", "|---|---|---|---|---|---|"]
    for r in rows:
        lines.append(f"| {r['condition']} | {r['n']} | {_fmt(r.get('wer'), r.get('wer_ci'))} | "
                     f"{_fmt(r.get('medical_wer'), r.get('medical_wer_ci'))} | "
                     f"{_fmt(r.get('numeric_error_rate'), r.get('numeric_error_rate_ci'))} | "
                     f"{_fmt(r.get('hallucination_rate'), r.get('hallucination_rate_ci'))} |")
    if any(r.get("stream_final_latency_s") is not None for r in rows):
        lines += ["", "## Streaming", "", "Means over sessions with 95% case-bootstrap intervals (see docs/streaming.md).",
                  "", "| condition | first partial (s) | final latency (s) | partial words later changed | RTF |",
                  "|---|---|---|---|---|"]
        for r in rows:
            lines.append(f"| {r['condition']} | " + " | ".join(_fmt(r.get(m), r.get(f"{m}_ci")) for m in STREAM_METRICS)
                         + " |")
    norms = sorted({str(r.get("normalizer") or "evalkit") for r in rows})
    lines += ["", f"WER normaliser: {', '.join(norms)} (see evalkit.text.normalizers).", "", "## Curves", ""]
    for f in figures:
        lines.append(f"![{f.stem}]({f.name})" if fmt == "png" else f"Interactive curves: [{f.name}]({f.name})")
    lines.append("")
    md = d / "report.md"
    md.write_text("\n".join(lines), encoding="utf-8")
    return {"markdown": md, "figures": figures, "format": fmt}
