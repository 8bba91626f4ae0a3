"""Render a :class:`~evalkit.compare.gate.GateReport`: JUnit XML (one test case per check), Markdown
(a PR comment: verdict, the checks, then the comparison with the baseline) and the terminal.
"""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from ..security.escape import md_code, md_text, rich_text, xml_text
from .gate import GateReport


def to_junit(report: GateReport, *, suite_name: str | None = None) -> str:
    """JUnit XML: one ``testcase`` per check; a failed check carries a ``failure`` element.

    Args:
        report: the gate report.
        suite_name: the ``testsuite`` name (default ``evalkit gate (<config file name>)``).
    """
    name = xml_text(suite_name or f"evalkit gate ({Path(report.config.path).name})")
    n, nf = len(report.results), len(report.failed)
    root = ET.Element("testsuites", name="evalkit gate", tests=str(n), failures=str(nf), errors="0")
    ts = ET.SubElement(root, "testsuite", name=name, tests=str(n), failures=str(nf), errors="0", skipped="0",
                       time="0", timestamp=datetime.now(timezone.utc).replace(microsecond=0).isoformat())
    props = ET.SubElement(ts, "properties")
    for k, v in (("run", report.run), ("run_ids", ",".join(report.run_ids)), ("baseline", report.baseline or ""),
                 ("baseline_ids", ",".join(report.baseline_ids)), ("config", report.config.path),
                 ("wer_normalizer", ",".join(report.normalizers or ["evalkit"]))):
        ET.SubElement(props, "property", name=k, value=xml_text(v))
    for i, note in enumerate(report.notes):
        ET.SubElement(props, "property", name=f"note{i + 1}", value=xml_text(note))
    for r in report.results:
        detail = xml_text(f"rule: {r.check.rule} ({r.check.where})\n{r.message}")
        tc = ET.SubElement(ts, "testcase", classname=xml_text(f"evalkit.compare.gate.{r.check.kind}"), name=xml_text(r.name),
                           time="0")
        if not r.passed:
            f = ET.SubElement(tc, "failure", message=xml_text(r.message), type=xml_text(r.check.kind))
            f.text = detail
        out = ET.SubElement(tc, "system-out")
        out.text = detail
    ET.indent(root)
    return '<?xml version="1.0" encoding="utf-8"?>\n' + ET.tostring(root, encoding="unicode") + "\n"


def _md_cell(text: Any) -> str:
    return md_text(text)  # inert in a PR comment: no live HTML or link, no extra table column


def headline(report: GateReport, *, markdown: bool = True) -> str:
    """One line: the verdict and the failed checks (Markdown, or plain text for the terminal)."""
    n = len(report.results)
    b = "**" if markdown else ""
    if report.passed:
        return f"✅ {b}Gate passed{b}: all {n} checks passed."
    names = ", ".join(f"{b}{_md_cell(r.name) if markdown else r.name}{b}" for r in report.failed)
    return f"❌ {b}Gate failed{b}: {len(report.failed)} of {n} checks failed — {names}."


def to_markdown(report: GateReport, *, worst: int = 10) -> str:
    """Markdown for a PR comment: verdict naming the failed checks, the check table, then the
    comparison with the baseline (metric table and worst-regressed cases).

    Args:
        report: the gate report.
        worst: how many worst cases the comparison lists.
    """
    run, base = md_code(report.run), md_code(report.baseline or "")
    lines = [f"## evalkit gate: {run}", "", headline(report), "",
             f"Run {run} ({_md_cell(', '.join(report.run_ids))}, {report.n_sessions} sessions)"
             + (f" against baseline {base} ({_md_cell(', '.join(report.baseline_ids))})" if report.baseline else "")
             + f"; gate file {md_code(report.config.path)}; WER normaliser "
             + md_code(", ".join(report.normalizers or ["evalkit"])) + ".", ""]
    lines += [f"> ⚠️ {_md_cell(n)}" for n in report.notes] + ([""] if report.notes else [])
    lines += ["| | Check | Rule | Result |", "|---|---|---|---|"]
    for r in report.results:
        lines.append(f"| {'✅' if r.passed else '❌'} | {_md_cell(r.name)} | {md_code(r.check.rule, table=True)} | "
                     f"{_md_cell(r.message)} |")
    if report.comparison is not None:
        from .report import to_markdown as compare_md

        lines += ["", compare_md(report.comparison, worst=worst, level=3,
                                 title=f"Compared with baseline {base}")]
    return "\n".join(lines).rstrip("\n") + "\n"


def print_gate(report: GateReport, console: Any) -> None:
    """Checks table in the terminal, then the verdict."""
    from rich.table import Table

    t = Table(title=rich_text(f"gate {Path(report.config.path).name} on {report.run}"
                              + (f" vs {report.baseline}" if report.baseline else "")))
    for col in ("", "check", "rule", "result"):
        t.add_column(col)
    for r in report.results:
        t.add_row("[green]pass[/]" if r.passed else "[bold red]FAIL[/]", rich_text(r.name), rich_text(r.check.rule),
                  rich_text(r.message))
    console.print(t)
    used = f"run {report.run} = {', '.join(report.run_ids)}" + (
        f"; baseline {report.baseline} = {', '.join(report.baseline_ids)}" if report.baseline else "")
    console.print(f"[dim]{rich_text(used)}[/]", highlight=False)
    for note in report.notes:
        console.print(f"[yellow]note:[/] {rich_text(note)}", highlight=False)
    console.print(rich_text(headline(report, markdown=False)), highlight=False)


def write_outputs(report: GateReport, *, junit: str | Path | None = None, markdown: str | Path | None = None,
                  json_path: str | Path | None = None, worst: int = 10) -> None:
    """Write whichever of the JUnit, Markdown and JSON files were asked for."""
    if junit:
        Path(junit).write_text(to_junit(report), encoding="utf-8")
    if markdown:
        Path(markdown).write_text(to_markdown(report, worst=worst), encoding="utf-8")
    if json_path:
        Path(json_path).write_text(json.dumps(report.to_dict(), indent=2, ensure_ascii=False) + "\n",
                                   encoding="utf-8")


__all__ = ["headline", "print_gate", "to_junit", "to_markdown", "write_outputs"]
