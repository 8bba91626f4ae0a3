"""``evalkit calibrate``: how well does a judge catch known errors, and agree with clinicians?

Plants known errors (``evalkit.calibrate.plant``) into reference notes of a dataset (from the
database or an ACI-Bench CSV) with a seed, runs the judge (offline, LLM or jury), and reports
recall per error kind, the false-flag rate on the untouched notes, the cost, and Cohen's κ with
clinicians' claim labels. Gates (``--min-recall``, ``--max-false-flag``, ``--min-kappa``) set the
exit code: 0 pass, 1 a gate failed, 2 bad input, 3 the LLM budget ran out (re-run to resume).
"""

from __future__ import annotations

from typing import Optional

import json
from pathlib import Path
from typing import Any

import typer
from rich.markup import escape
from rich.table import Table

from . import app
from ._common import DB_OPTION, console, err_console, fail, RPM_OPTION, TPM_OPTION, pace


def _fmt(v: Any, digits: int = 3) -> str:
    if v is None:
        return "—"
    if isinstance(v, float):
        return f"{v:.{digits}f}"
    return str(v)


def print_report(res: dict[str, Any]) -> None:
    """Recall table, false flags, cost and κ, for a terminal."""
    t = Table(title=f"calibration of {res['judge']} ({res['judge_version']}) on {res['dataset']}, seed {res['seed']}")
    for col in ("kind", "planted", "caught", "recall", "recall (strict)", "major share"):
        t.add_column(col, justify="left" if col == "kind" else "right", no_wrap=col == "kind")
    for kind in res["kinds"]:
        t.add_row(kind, _fmt(res["planted"].get(kind, 0)), _fmt(res["caught"].get(kind, 0)),
                  _fmt(res["recall"].get(kind)), _fmt(res["recall_strict"].get(kind)),
                  _fmt(res["major_share"].get(kind)))
    t.add_row("[bold]all[/]", _fmt(sum(res["planted"].values())), _fmt(sum(res["caught"].values())),
              _fmt(res.get("recall_overall")), _fmt(res.get("recall_strict_overall")), "")
    console.print(t)
    console.print(f"false flags on untouched notes: {_fmt(res.get('false_flag_claim_rate'))} of claims "
                  f"({res.get('clean_flagged_claims')}/{res.get('clean_claims')}), "
                  f"{_fmt(res.get('false_flag_note_rate'))} of notes; judge errors: {res.get('judge_errors', 0)}",
                  highlight=False)
    c = res.get("cost") or {}
    usd = c.get("cost_usd")
    console.print(f"cost: {c.get('calls', 0)} model calls ({c.get('cached', 0)} cached), "
                  f"{(c.get('prompt_tokens') or 0) + (c.get('completion_tokens') or 0)} tokens, "
                  + (f"${usd:.4f}" if usd is not None else "no price known for this model"), highlight=False)
    cl = res.get("clinicians")
    if cl:
        console.print(f"clinicians: κ judge–clinician {_fmt(cl.get('kappa_judge_clinician'))}, weighted κ severity "
                      f"{_fmt(cl.get('weighted_kappa_severity'))} over {cl['items']} labels from "
                      f"{len(cl['reviewers'])} reviewer(s); κ between clinicians "
                      f"{_fmt(cl.get('kappa_between_clinicians_mean'))}", highlight=False)
    elif "clinicians" in res:
        console.print("clinicians: no claim labels in the database", highlight=False)
    if res.get("jury_agreement"):
        console.print("jury agreement: " + ", ".join(f"{k} {_fmt(v)}" for k, v in res["jury_agreement"].items()),
                      highlight=False)


@app.command("calibrate")
def calibrate_command(
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Dataset name in the database."),
    csv: Path | None = typer.Option(None, "--csv", help="An ACI-Bench CSV (dataset, encounter_id, dialogue, note)."),
    judge: list[str] = typer.Option([], "--judge", "-j", help="grounding (default), or an LLM model string; "
                                    "repeat for a jury."),
    api_base: str | None = typer.Option(None, "--api-base", help="OpenAI-compatible server for LLM judges."),
    jury_rule: str = typer.Option("majority", "--jury-rule", help="majority or any_major."),
    kinds: str | None = typer.Option(None, "--kinds", help="Comma-separated planted-error kinds (default: all)."),
    limit: int | None = typer.Option(None, "--limit", min=1, help="Use the first N consultations."),
    seed: int = typer.Option(0, "--seed", help="Planting seed (same seed, same errors)."),
    min_recall: float | None = typer.Option(None, "--min-recall", help="Gate: every kind's recall ≥ this."),
    max_false_flag: float | None = typer.Option(None, "--max-false-flag", help="Gate: false-flag rate (claims) ≤ this."),
    min_kappa: float | None = typer.Option(None, "--min-kappa", help="Gate: κ judge–clinician ≥ this."),
    clinicians: bool = typer.Option(True, "--clinicians/--no-clinicians", help="Compare with clinicians' labels."),
    max_cost: float | None = typer.Option(None, "--max-cost", help="Stop cleanly after spending this many USD."),
    max_calls: int | None = typer.Option(None, "--max-calls", help="Stop cleanly after this many model calls."),
    rpm: Optional[float] = RPM_OPTION,
    tpm: Optional[float] = TPM_OPTION,
    concurrency: int = typer.Option(16, "--concurrency", min=1, max=512, help="Model calls in flight."),
    json_out: Path | None = typer.Option(None, "--json", help="Also write the full result as JSON here."),
    db: str = DB_OPTION,
) -> None:
    """Measure a judge on planted errors (recall per kind, false flags, cost) and against clinicians (κ)."""
    pace(rpm, tpm)
    from ..calibrate.calibrate import calibrate, gate, load_items, make_calibration_judge
    from ..calibrate.plant import KINDS
    from ..errors import InputError
    from ..llm.client import Budget, BudgetExceeded, LLMClient
    from ._common import open_store

    kind_list = [k.strip() for k in kinds.split(",") if k.strip()] if kinds else list(KINDS)
    bad = [k for k in kind_list if k not in KINDS]
    if bad:
        fail(f"--kinds: unknown kind(s) {', '.join(bad)} — fix: use any of {', '.join(KINDS)}")
    store = open_store(db)
    try:
        items, label = load_items(store=store, dataset=dataset, csv=str(csv) if csv else None, limit=limit)
        client = LLMClient(store, concurrency=concurrency, budget=Budget(max_calls, max_cost)) if judge else None
        spec: Any = None
        if judge:
            spec = judge[0] if len(judge) == 1 else {"jury": list(judge), "rule": jury_rule}
        j = make_calibration_judge(spec, store=store, client=client, api_base=api_base)
    except InputError as e:
        fail(str(e))
    try:
        res = calibrate(j, items, kinds=kind_list, seed=seed, store=store, dataset=label, clinicians=clinicians)
    except BudgetExceeded as e:
        err_console.print(f"[yellow]budget reached:[/] {escape(str(e))} — re-run the same command to resume "
                          "(replies already paid for are cached)", highlight=False)
        raise typer.Exit(3)
    finally:
        if client is not None:
            client.close()
    print_report(res)
    if json_out:
        json_out.write_text(json.dumps(res, indent=2, default=str), encoding="utf-8")
    fails = gate(res, min_recall=min_recall, max_false_flag=max_false_flag, min_kappa=min_kappa)
    for f in fails:
        err_console.print(f"[bold red]gate failed:[/] {escape(f)}", highlight=False)
    if fails:
        raise typer.Exit(1)
    if any(v is not None for v in (min_recall, max_false_flag, min_kappa)):
        console.print("[green]gate passed[/]")
