"""Render a :class:`~evalkit.compare.results.CompareResult`: Markdown (a PR comment: verdict
first, then the table, then the worst cases), a rich terminal table, and JSON.

No patient text is rendered: only ids, metric names and numbers.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from ..security.escape import md_code, md_text, rich_text
from .runs import HEADLINE_METRICS
from .results import CompareResult, GroupDelta, MetricDelta
from ..metrics.info import info_or_default

_MAX_LISTED = 20


def _cell(text: Any) -> str:
    """Untrusted text (a specialty, a scribe name, a metric label) as inert Markdown (prose or table cell)."""
    return md_text(text)


def _p(p: float | None) -> str:
    if p is None or p != p:
        return "–"
    return "<0.001" if p < 0.001 else f"{p:.3f}"


def _ci(m: MetricDelta | GroupDelta) -> str:
    info = info_or_default(m.metric)
    if m.lo != m.lo:
        return "–"
    return f"[{info.fmt(m.lo, signed=True)}, {info.fmt(m.hi, signed=True)}]"


def _arrow(m: MetricDelta) -> str:
    return {"lower": " ↓", "higher": " ↑"}.get(m.direction or "", "")


_VERDICT_MD = {"regressed": "🔴 worse", "improved": "🟢 better", "no significant change": "no sig. change", "n/a": "n/a"}
_VERDICT_RICH = {"regressed": "[bold red]worse[/]", "improved": "[bold green]better[/]",
                 "no significant change": "[dim]no sig. change[/]", "n/a": "[dim]n/a[/]"}


def _change(m: MetricDelta, conf: int) -> str:
    info = info_or_default(m.metric)
    if m.test.startswith("mcnemar"):
        return f"{_cell(m.label)} {info.fmt(m.mean_a)} → {info.fmt(m.mean_b)} (McNemar p {_p(m.p_value)})"
    return f"{_cell(m.label)} {info.fmt(m.delta, signed=True)} ({conf}% CI {_ci(m)})"


def headline(res: CompareResult) -> str:
    """One line: the verdict and the metrics that decided it."""
    conf = int(round(res.settings.get("confidence", 0.95) * 100))
    if res.n_paired == 0:
        return "⚠️ **No paired cases**: the runs share no consultations, nothing was compared."
    if res.regressions:
        what = "; ".join(_change(m, conf) for m in res.regressions)
        n = len(res.regressions)
        return f"❌ **Regression**: {n} metric{'s' * (n != 1)} significantly worse — {what}."
    better = ""
    if res.improvements:
        better = " Improved: " + "; ".join(_change(m, conf) for m in res.improvements) + "."
    return f"✅ **No significant regression** over {res.n_paired} paired cases.{better}"


def normalizer_line(res: CompareResult, markdown: bool = True) -> str:
    """Which text normalisation the WER figures used, with a warning when the two sides differ."""
    norms = res.settings.get("normalizers") or {}
    a, b = ", ".join(norms.get("A") or ["evalkit"]), ", ".join(norms.get("B") or ["evalkit"])
    c = "`" if markdown else ""
    if a == b:
        return f"WER normaliser: {c}{a}{c} (both runs)."
    warn = "⚠️ " if markdown else ""
    return (f"{warn}WER normaliser differs: A {c}{a}{c}, B {c}{b}{c} — WER-family deltas mix two normalisations; "
            "rerun one side with the other's `normalizer:`.")


def _metric_table(res: CompareResult) -> list[str]:
    conf = int(round(res.settings.get("confidence", 0.95) * 100))
    out = [f"| Metric | A | B | Δ (B − A) | {conf}% CI | p | n | Verdict |", "|---|---:|---:|---:|---|---:|---:|---|"]
    for m in res.metrics:
        info = info_or_default(m.metric)
        out.append(f"| {_cell(m.label)}{_arrow(m)} | {info.fmt(m.mean_a)} | {info.fmt(m.mean_b)} | "
                   f"{info.fmt(m.delta, signed=True)} | {_ci(m)} | {_p(m.p_value)} | {m.n} | {_VERDICT_MD[m.verdict]} |")
    return out


def _worst_lines(res: CompareResult, worst: int) -> list[str]:
    if not res.worst:
        return ["No paired case got worse."]
    out = ["| # | Case | Scribe | What got worse | Open |", "|---:|---|---|---|---|"]
    for i, w in enumerate(res.worst[:worst], 1):
        what = "; ".join(f"{_cell(info_or_default(c['metric']).label)} {info_or_default(c['metric']).fmt(c['a'])} → "
                         f"{info_or_default(c['metric']).fmt(c['b'])}" for c in w.changes)
        out.append(f"| {i} | {md_code(w.consultation_id, table=True)} | {_cell(w.scribe)} | {what} | "
                   f"[B]({w.url_b}) · [A]({w.url_a}) |")
    return out


def _breakdown_lines(res: CompareResult) -> list[str]:
    regressed = {m.metric for m in res.regressions}
    shown = [m for m in res.settings.get("breakdown_metrics", []) if m in HEADLINE_METRICS or m in regressed]
    out: list[str] = []
    for dim in ("specialty", "template", "scribe"):
        rows = [g for g in res.breakdowns if g.dimension == dim and g.metric in shown]
        groups = list(dict.fromkeys(g.group for g in rows))
        if len(groups) < 2:
            continue
        metrics = [m for m in shown if any(g.metric == m for g in rows)]
        out += ["", f"**By {dim}** (Δ = B − A, bootstrap interval)", "",
                "| " + dim.capitalize() + " | n | " + " | ".join(_cell(info_or_default(m).label) for m in metrics) + " |",
                "|---|---:|" + "---|" * len(metrics)]
        for g in groups:
            cells, n = [], 0
            for m in metrics:
                r = next((x for x in rows if x.group == g and x.metric == m), None)
                n = max(n, r.n if r else 0)
                cells.append(f"{info_or_default(m).fmt(r.delta, signed=True)} {_ci(r)}" if r else "–")
            out.append(f"| {_cell(g)} | {n} | " + " | ".join(cells) + " |")
    secs = [g for g in res.breakdowns if g.dimension == "section"]
    if secs:
        out += ["", "**By note section** (judge claims)", "",
                "| Section | claims/note A → B | Δ | hallucination rate A → B | Δ |", "|---|---|---|---|---|"]
        for sec in dict.fromkeys(g.group for g in secs):
            c = next(g for g in secs if g.group == sec and g.metric == "claims_per_note")
            h = next(g for g in secs if g.group == sec and g.metric == "hallucination_rate")

            def f(x: float) -> str:
                return "–" if x != x else f"{x:.2f}"

            out.append(f"| {_cell(sec)} | {f(c.mean_a)} → {f(c.mean_b)} | {c.delta:+.2f} [{c.lo:+.2f}, {c.hi:+.2f}] | "
                       f"{f(h.mean_a)} → {f(h.mean_b)} | {h.delta:+.3f} [{h.lo:+.3f}, {h.hi:+.3f}] |"
                       .replace("nan", "–"))
    return out


def to_markdown(res: CompareResult, *, worst: int = 10, title: str | None = None, level: int = 2) -> str:
    """Markdown for a PR comment: verdict, metric table, worst cases, breakdowns, unpaired cases.

    Args:
        res: the comparison.
        worst: how many worst cases to list.
        title: heading text (default names both runs).
        level: heading level of the title (sub-sections are one deeper).
    """
    h = "#" * level
    s = res.settings
    a, b = md_code(res.ref_a), md_code(res.ref_b)
    lines = [f"{h} {title or f'evalkit compare: {a} → {b}'}", "", headline(res), "",
             f"A = {a} ({_cell(', '.join(res.run_a))}), B = {b} ({_cell(', '.join(res.run_b))}). "
             f"{res.n_paired} paired cases (A {res.n_a} sessions, B {res.n_b}; {len(res.only_a)} only in A, "
             f"{len(res.only_b)} only in B). Paired bootstrap over cases: {s.get('n_resamples', 0):,} resamples, "
             f"seed {s.get('seed')}; binary outcomes use McNemar's test. ↓ lower is better, ↑ higher is better. "
             + normalizer_line(res), ""]
    lines += [f"> ⚠️ {_cell(n)}" for n in res.notes] + ([""] if res.notes else [])
    lines += _metric_table(res)
    lines += ["", f"{h}# Worst-regressed cases", ""] + _worst_lines(res, worst)
    bd = _breakdown_lines(res)
    if bd:
        lines += ["", "<details><summary>Breakdowns</summary>"] + bd + ["", "</details>"]
    for name, keys in (("A", res.only_a), ("B", res.only_b)):
        if keys:
            more = f" (+{len(keys) - _MAX_LISTED} more)" if len(keys) > _MAX_LISTED else ""
            lines += ["", f"Only in {name} (not compared): " + ", ".join(md_code(k) for k in keys[:_MAX_LISTED])
                      + more]
    return "\n".join(lines) + "\n"


def write_json(res: CompareResult, path: str | Path) -> None:
    """Write the full comparison (metrics, breakdowns, worst cases, settings) as JSON."""
    Path(path).write_text(json.dumps(res.to_dict(), indent=2, ensure_ascii=False) + "\n", encoding="utf-8")


def print_compare(res: CompareResult, console: Any, *, worst: int = 10) -> None:
    """Rich tables in the terminal: verdict, metrics, worst cases."""
    from rich.table import Table

    console.print(headline(res).replace("**", ""), highlight=False)
    console.print(f"[dim]{res.n_paired} paired cases · A {rich_text(res.ref_a)} ({res.n_a}) · "
                  f"B {rich_text(res.ref_b)} ({res.n_b}) · "
                  f"{len(res.only_a)} only in A, {len(res.only_b)} only in B · "
                  f"{res.settings.get('n_resamples', 0):,} bootstrap resamples · "
                  f"{rich_text(normalizer_line(res, markdown=False))}[/]", highlight=False)
    console.print(f"[dim]A {rich_text(res.ref_a)} = {rich_text(', '.join(res.run_a))} · "
                  f"B {rich_text(res.ref_b)} = {rich_text(', '.join(res.run_b))}[/]", highlight=False)
    for note in res.notes:
        console.print(f"[yellow]note:[/] {rich_text(note)}", highlight=False)
    conf = int(round(res.settings.get("confidence", 0.95) * 100))
    t = Table(show_lines=False)
    for col, just in (("metric", "left"), ("A", "right"), ("B", "right"), ("Δ B−A", "right"),
                      (f"{conf}% CI", "left"), ("p", "right"), ("n", "right"), ("verdict", "left")):
        t.add_column(col, justify=just)  # type: ignore[arg-type]
    for m in res.metrics:
        info = info_or_default(m.metric)
        t.add_row(rich_text(m.label) + _arrow(m), info.fmt(m.mean_a), info.fmt(m.mean_b), info.fmt(m.delta, signed=True),
                  _ci(m), _p(m.p_value), str(m.n), _VERDICT_RICH[m.verdict])
    console.print(t)
    if res.worst:
        w = Table(title="worst-regressed cases")
        for col in ("#", "case", "what got worse", "open"):
            w.add_column(col)
        for i, c in enumerate(res.worst[:worst], 1):
            what = "; ".join(f"{ch['metric']} {ch['a']:.3g}→{ch['b']:.3g}" for ch in c.changes)
            w.add_row(str(i), rich_text(c.consultation_id), rich_text(what), rich_text(c.url_b))
        console.print(w)


__all__ = ["headline", "normalizer_line", "print_compare", "to_markdown", "write_json"]
