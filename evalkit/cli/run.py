"""``evalkit run`` and ``evalkit runs``."""

from __future__ import annotations

import json
import math
from contextlib import nullcontext
from typing import Any, Optional

import typer
from rich.table import Table

from . import app
from ._common import DB_OPTION, console, fail, open_store, RPM_OPTION, TPM_OPTION, pace

#: columns of the runs table: (metric, header, format)
SUMMARY_COLUMNS = [
    ("wer", "WER", "{:.1%}"), ("medical_wer", "med WER", "{:.1%}"), ("cpwer", "cpWER", "{:.1%}"),
    ("adherence", "adherence", "{:.2f}"),
    ("hallucination_rate", "halluc.", "{:.1%}"), ("major_hallucinations", "major/note", "{:.2f}"),
    ("omission_rate", "omission", "{:.1%}"), ("flagged", "flagged sessions", "{:.0f}"),
]


def _fmt(v, fmt: str) -> str:
    if v is None or (isinstance(v, float) and math.isnan(v)):
        return "–"
    return fmt.format(v)


def runs_table(store, run_ids: list[str] | None = None) -> tuple[Table, list[dict]]:
    """A rich table and plain records of runs with their mean metrics."""
    runs = store.list_runs()
    if run_ids:
        runs = runs[runs.run_id.isin(run_ids)]
    means = store.run_means(list(runs.run_id)) if len(runs) else None
    if len(runs) and len(runs) <= 4 and console.width < 130:
        return _runs_by_column(runs, means)
    table = Table(title="runs", header_style="bold")
    for h in ("run", "label", "scribe", "WER norm.", "sessions", "failed"):
        table.add_column(h)
    for _, h, _ in SUMMARY_COLUMNS:
        table.add_column(h, justify="right")
    records = []
    for r in runs.itertuples():
        rec = _record(r, means)
        records.append(rec)
        table.add_row(rec["run_id"], rec["label"] or "", rec["scribe"], rec["normalizer"], str(rec["sessions"]),
                      str(rec["failed"]),
                      *[_fmt(rec.get(k), f) for k, _, f in SUMMARY_COLUMNS])
    return table, records


def _record(r, means) -> dict:
    m = means.loc[r.run_id].to_dict() if means is not None and r.run_id in means.index else {}
    rec = {"run_id": r.run_id, "label": r.label, "suite": r.suite_name, "dataset": r.dataset,
           "scribe": r.scribe, "normalizer": getattr(r, "normalizer", None) or "evalkit", "status": r.status,
           "sessions": int(r.sessions), "failed": int(r.failed),
           "created_at": str(r.created_at)}
    rec.update(m)
    # SQL NULL comes back from pandas as NaN (a run with no label, a metric with no value): None for tables and --json
    return {k: (None if isinstance(v, float) and math.isnan(v) else v) for k, v in rec.items()}


def _runs_by_column(runs, means) -> tuple[Table, list[dict]]:
    """A few runs on a narrow terminal: one column per run, one row per metric."""
    records = [_record(r, means) for r in runs.itertuples()]
    table = Table(title="runs", header_style="bold")
    table.add_column("")
    for rec in records:
        table.add_column(f"{rec['scribe']}\n{rec['run_id']}", justify="right")
    table.add_row("label", *[rec["label"] or "" for rec in records])
    table.add_row("sessions (failed)", *[f"{rec['sessions']} ({rec['failed']})" for rec in records])
    table.add_row("WER normaliser", *[rec["normalizer"] for rec in records])
    for key, header, fmt in SUMMARY_COLUMNS:
        table.add_row(header, *[_fmt(rec.get(key), fmt) for rec in records])
    return table, records


@app.command("run")
def run_cmd(
    suite_path: str = typer.Argument(..., metavar="SUITE.yaml", help="Suite YAML (dataset × scribes × metrics)."),
    db: str = DB_OPTION,
    label: Optional[str] = typer.Option(None, help="Label for the runs (e.g. baseline, candidate)."),
    executor: str = typer.Option("local", help="local (threads) or ray."),
    address: Optional[str] = typer.Option(None, help="Ray cluster address (with --executor ray)."),
    batch_size: Optional[int] = typer.Option(None, "--batch-size", min=1, help="Cases per Ray task (with "
                                             "--executor ray; default: sized from the measured time per case)."),
    limit: Optional[int] = typer.Option(None, help="Only the first N consultations."),
    fresh: bool = typer.Option(False, help="Start new runs instead of continuing (caches still apply)."),
    json_out: Optional[str] = typer.Option(None, "--json", help="Write the run summaries as JSON here."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", min=0, help="Stop cleanly once the suite's "
                                             "model calls (LLM scribe and judge) have cost this many USD."),
    max_calls: Optional[int] = typer.Option(None, "--max-calls", min=0, help="Stop cleanly after this many "
                                            "model calls (cache hits are free)."),
    rpm: Optional[float] = RPM_OPTION,
    tpm: Optional[float] = TPM_OPTION,
) -> None:
    """Run a suite. Kill it and run it again: it continues where it stopped."""
    pace(rpm, tpm)
    from ..run.runner import run_suite
    from ..run.suite import load_suite

    suite = load_suite(suite_path)
    if isinstance(suite.judge, dict) and suite.judge.get("batch") is True:
        if executor != "local":
            fail(f"{suite_path}: judge.batch: batch mode judges in the process that writes the database — fix: use "
                 "--executor local, or drop batch: true")
        if max_cost is not None or max_calls is not None:
            fail(f"{suite_path}: judge.batch: --max-cost and --max-calls limit live calls, not batches — fix: drop "
                 "them, or drop batch: true")
    store = open_store(db)
    opts: dict = {"address": address} if address else {}
    if batch_size:
        opts["batch_size"] = batch_size
    budget_ctx: Any = nullcontext()
    budget_stop: Any = ()  # `except ()` catches nothing: without a budget, nothing is a budget stop
    if max_cost is not None or max_calls is not None:
        from ..llm.budget import Budget, BudgetExceeded, run_budget

        if executor != "local":  # Ray workers make their calls in other processes, out of the budget's sight
            fail(f"--max-calls/--max-cost: count the calls made in this process and cannot limit --executor "
                 f"{executor} — fix: drop the budget or use --executor local")
        budget_ctx, budget_stop = run_budget(Budget(max_calls, max_cost)), BudgetExceeded
    try:
        with budget_ctx:
            run_ids = run_suite(suite, store, label=label, executor=executor, limit=limit, fresh=fresh,
                                executor_options=opts)
    except budget_stop as e:
        console.print(f"[yellow]budget reached ({e}): finished sessions and paid replies are stored; "
                      f"run the same command again (without --fresh) to resume.[/]")
        raise typer.Exit(3)
    except Exception as e:  # noqa: BLE001 - re-raised unless it is a batch endpoint failure
        from ..llm.transport import LLMCallError  # (imported only then: an offline run does not load it)

        if not isinstance(e, LLMCallError):  # only a suite judge in batch mode lets these out
            raise
        fail(f"{suite_path}: judge.batch: {e} — fix: check the server and its batch API, then run the same command "
             "again (open batches are resumed, never paid twice)")
    table, records = runs_table(store, run_ids)
    console.print(table)
    if json_out:
        with open(json_out, "w") as f:
            json.dump(records, f, indent=2, default=str)
    failed = sum(r["failed"] for r in records)
    if failed:
        console.print(f"[yellow]{failed} case(s) failed; their errors are stored with the sessions "
                      f"(see `evalkit runs --db {db} --json`).[/]")


@app.command("runs")
def runs_cmd(db: str = DB_OPTION, as_json: bool = typer.Option(False, "--json", help="Print JSON.")) -> None:
    """List runs with their scribe and mean metrics."""
    store = open_store(db)
    table, records = runs_table(store)
    if as_json:
        typer.echo(json.dumps(records, indent=2, default=str))
    else:
        console.print(table)
