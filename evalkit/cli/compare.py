"""``evalkit compare``, ``evalkit gate`` and ``evalkit baseline set|list|rm``."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from ..errors import InputError
from . import app
from ._common import DB_OPTION, console, err_console, fail, open_store, warning_line

APP_URL_OPTION = typer.Option("http://localhost:8501", "--app-url", envvar="EVALKIT_APP_URL",
                              help="Base URL of the review app, for links to sessions.")


@app.command()
def compare(
    run_a: str = typer.Argument(..., help="Reference run A (e.g. production): run id, label, baseline label or 'latest'."),
    run_b: str = typer.Argument(..., help="Candidate run B; deltas are B − A."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the full comparison as JSON."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Write a Markdown PR comment."),
    metric: Optional[list[str]] = typer.Option(None, "--metric", "-m", help="Only these metrics (repeatable)."),
    worst: int = typer.Option(10, "--worst", min=0, help="How many worst-regressed cases to list."),
    worst_by: Optional[str] = typer.Option(None, "--worst-by", help="Rank worst cases by this metric."),
    resamples: int = typer.Option(10_000, "--resamples", min=1000, help="Bootstrap resamples."),
    seed: int = typer.Option(0, "--seed", help="Bootstrap seed."),
    confidence: float = typer.Option(0.95, "--confidence", min=0.5, max=0.999, help="Interval coverage."),
    fail_on_regression: bool = typer.Option(False, "--fail-on-regression",
                                            help="Exit 1 when any metric is significantly worse."),
    allow_incomplete: bool = typer.Option(False, "--allow-incomplete",
                                          help="Compare runs that stopped part-way or miss cases (a note says so); "
                                               "without it such a run is refused with exit code 2."),
    app_url: str = APP_URL_OPTION,
    db: str = DB_OPTION,
) -> None:
    """Compare two runs on the cases both ran: paired deltas, bootstrap intervals, McNemar, worst cases."""
    from ..compare.runs import compare_runs
    from ..compare.report import print_compare, to_markdown, write_json

    try:
        res = compare_runs(open_store(db), run_a, run_b, n_resamples=resamples, seed=seed, confidence=confidence,
                           metrics=metric or None, worst=worst, worst_by=worst_by, app_url=app_url,
                           allow_incomplete=allow_incomplete)
    except InputError as e:
        fail(str(e))
    print_compare(res, console, worst=worst)
    if json_out:
        write_json(res, json_out)
        err_console.print(f"wrote {json_out}", highlight=False)
    if markdown:
        markdown.write_text(to_markdown(res, worst=worst), encoding="utf-8")
        err_console.print(f"wrote {markdown}", highlight=False)
    if fail_on_regression and res.regressions:
        raise typer.Exit(1)


@app.command()
def gate(
    run: str = typer.Argument(..., help="Run to gate: run id, label, baseline label or 'latest'."),
    config: Path = typer.Option(..., "--config", "-c", help="Gate file (see examples/gate.yaml)."),
    baseline: Optional[str] = typer.Option(None, "--baseline", "-b",
                                           help="Baseline for relative checks (overrides the gate file)."),
    junit: Optional[Path] = typer.Option(None, "--junit", help="Write JUnit XML, one test case per check."),
    markdown: Optional[Path] = typer.Option(None, "--markdown", help="Write a Markdown PR comment."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the results as JSON."),
    worst: int = typer.Option(10, "--worst", min=0, help="Worst cases listed in the Markdown comparison."),
    app_url: str = APP_URL_OPTION,
    db: str = DB_OPTION,
) -> None:
    """Check a run against a gate file. Exit 0 pass, 1 a check failed, 2 configuration or data error."""
    from ..compare.gate import run_gate
    from ..compare.gate_report import print_gate, write_outputs

    try:
        report = run_gate(open_store(db), run, config, baseline=baseline, app_url=app_url)
    except InputError as e:
        fail(str(e))
    print_gate(report, console)
    write_outputs(report, junit=junit, markdown=markdown, json_path=json_out, worst=worst)
    for p in (junit, markdown, json_out):
        if p:
            err_console.print(f"wrote {p}", highlight=False)
    if not report.passed:
        raise typer.Exit(1)


baseline_app = typer.Typer(help="Named baseline runs that gates and comparisons refer to.", no_args_is_help=True)
app.add_typer(baseline_app, name="baseline")


@baseline_app.command("set")
def baseline_set(
    run: str = typer.Argument(..., help="Run id, run label or 'latest'."),
    label: str = typer.Option(..., "--label", "-l", help="Baseline name, e.g. prod."),
    db: str = DB_OPTION,
) -> None:
    """Point a baseline label at a run (replacing what it pointed at)."""
    from ..compare.refs import resolve

    store = open_store(db)
    try:
        ids, notes = resolve(store, run)
    except InputError as e:
        fail(str(e))
    for note in notes:
        warning_line(note)
    if len(ids) > 1:
        fail(f"run {run!r}: names {len(ids)} runs ({', '.join(ids)}), one per scribe — fix: pass one run id")
    if label != ids[0] and _is_run_id(store, label):
        fail(f"--label {label!r}: is already a run id — fix: choose another baseline name")
    store.set_baseline(label, ids[0])
    from rich.markup import escape

    console.print(f"baseline [bold]{escape(label)}[/] → run {ids[0]}", highlight=False)


def _is_run_id(store, ref: str) -> bool:
    try:
        return store.runs_for_ref(ref) == [ref]
    except KeyError:
        return False


@baseline_app.command("list")
def baseline_list(db: str = DB_OPTION) -> None:
    """List baselines and the runs they point at."""
    from rich.table import Table

    df = open_store(db).list_baselines()
    if df.empty:
        console.print("no baselines yet — set one with `evalkit baseline set RUN --label prod`")
        return
    t = Table()
    for col in ("label", "run_id", "run label", "scribe", "dataset", "sessions", "set at"):
        t.add_column(col)
    for r in df.itertuples():
        t.add_row(r.label, r.run_id, str(r.run_label or ""), str(r.scribe or ""), str(r.dataset or ""),
                  str(r.sessions), str(r.set_at)[:19])
    console.print(t)


@baseline_app.command("rm")
def baseline_rm(label: str = typer.Argument(..., help="Baseline to remove."), db: str = DB_OPTION) -> None:
    """Remove a baseline label (the run itself is kept)."""
    if not open_store(db).delete_baseline(label):
        fail(f"baseline {label!r}: not found — fix: see `evalkit baseline list`")
    console.print(f"removed baseline {label}", markup=False)
