"""``evalkit judge-bench``: any judge on labelled real notes — precision, recall, false flags, omissions.

Runs the offline judge (or ``--judge MODEL``, an LLM through litellm) on a sentence-labelled set
of real notes (default: the ACI-Bench test1 labels shipped in ``datasets/aci-bench-labels``) and
prints, per system and overall, flag precision, recall of labelled errors (all / major), false
major flags per note, severity agreement and omission precision/recall, with a reliability table
of the judge's confidence and the labellers' agreement. ``--fit-confidence`` refits the offline
judge's per-rule confidences (``rubrics/grounding/confidence.json``) on the dev split.
Exit codes: 0 ok, 1 below a ``--min-*`` gate, 2 bad input, 3 the LLM budget ran out.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any, Optional

import typer
from rich.table import Table

from . import app
from ._common import DB_OPTION, console, err_console, fail, RPM_OPTION, TPM_OPTION, pace

_COLS = (("notes", "notes"), ("errors", "errors"), ("major_errors", "major"), ("flagged", "flags"),
         ("precision", "prec."), ("recall", "recall"), ("recall_major", "rec. major"),
         ("false_major_per_note", "false major /note"), ("major_on_major", "major on major"),
         ("severity_agreement", "sev. agree"), ("omission_precision", "omis. prec."),
         ("omission_recall_major", "omis. rec. major"))


def _fmt(v: Any) -> str:
    return "—" if v is None else (f"{v:.2f}" if isinstance(v, float) else str(v))


def print_bench(res: dict[str, Any], agreement: dict[str, Any] | None) -> None:
    """The per-system table, the reliability table and the labellers' agreement, for a terminal."""
    conf = f", flags at confidence ≥ {res['min_confidence']:g}" if res["min_confidence"] else ""
    t = Table(title=f"{res['judge']} {res['judge_version']} on labelled real notes ({', '.join(res['splits'])} split, "
                    f"labeller {res['labeller']}{conf})", padding=(0, 1))
    t.add_column("system", no_wrap=True)
    for _, head in _COLS:
        t.add_column(head, justify="right", max_width=7)
    for name, f in [*res["systems"].items(), ("all", res["overall"])]:
        t.add_row(f"[bold]{name}[/]" if name == "all" else name, *(_fmt(f[k]) for k, _ in _COLS))
    console.print(t)
    o = res["overall"]
    console.print(f"strict precision (flags on 'outside' sentences — true of the record, not said in the visit — "
                  f"counted as false): {_fmt(o['strict_precision'])}; flags on 'outside': {o['flags_on_outside']}; "
                  f"faithful notes: {o['faithful_notes']}, false major flags on each: "
                  f"{_fmt(o['false_major_per_faithful_note'])}; judge errors: {res['errors']}", highlight=False)
    r = Table(title="reliability: flags by the judge's confidence")
    for col in ("confidence", "flags", "on errors", "precision"):
        r.add_column(col, justify="right")
    for row in res["reliability"]:
        if row["flags"]:
            r.add_row(row["confidence"], str(row["flags"]), str(row["on_errors"]), _fmt(row["precision"]))
    console.print(r)
    if agreement and agreement.get("notes"):
        console.print(f"labellers {' and '.join(agreement['labellers'])} on {agreement['notes']} notes "
                      f"({agreement['sentences']} sentences): κ errors {_fmt(agreement['kappa_error'])}, "
                      f"κ labels {_fmt(agreement['kappa_label'])}, weighted κ severity "
                      f"{_fmt(agreement['kappa_severity'])}", highlight=False)


@app.command("judge-bench")
def judge_bench_command(
    labels: Path = typer.Option(None, "--labels", "-l", help="Labelled set folder (manifest.json, labels-*.jsonl). "
                                "Default: datasets/aci-bench-labels (ACI-Bench test1, 6 systems)."),
    split: str = typer.Option("test", "--split", "-s", help="test, dev, holdout (labelled after the rules were last changed) or all."),
    labeller: str = typer.Option("A", "--labeller", help="Whose labels are the reference."),
    systems: Optional[str] = typer.Option(None, "--systems", help="Comma-separated systems (default: all)."),
    judge: Optional[str] = typer.Option(None, "--judge", "-j", help="LLM judge model (litellm string); default "
                                        "the offline grounding judge."),
    api_base: Optional[str] = typer.Option(None, "--api-base", help="OpenAI-compatible server for --judge."),
    min_confidence: float = typer.Option(0.5, "--min-confidence", min=0.0, max=1.0,
                                         help="Count only flags at least this confident (default: the review "
                                              "queue's operating point, the default flag rule's 0.5; 0 counts "
                                              "every flag)."),
    no_context: bool = typer.Option(False, "--no-context", help="Do not give the judge the record context "
                                    "(age, sex, name)."),
    json_out: Optional[Path] = typer.Option(None, "--json", help="Write the figures as JSON here."),
    rows_out: Optional[Path] = typer.Option(None, "--rows", help="Write one JSON line per labelled sentence "
                                            "(label, flag, rule, confidence) here, to read the errors."),
    fit_confidence: bool = typer.Option(False, "--fit-confidence", help="Refit the offline judge's per-rule "
                                        "confidences on this split (use --split dev) and write "
                                        "rubrics/grounding/confidence.json."),
    min_precision: Optional[float] = typer.Option(None, "--min-precision", help="Exit 1 when overall flag "
                                                  "precision is below this."),
    min_recall_major: Optional[float] = typer.Option(None, "--min-recall-major", help="Exit 1 when the recall of "
                                                     "labelled major errors is below this."),
    max_calls: Optional[int] = typer.Option(None, "--max-calls", help="LLM judge: stop after this many calls."),
    max_cost: Optional[float] = typer.Option(None, "--max-cost", help="LLM judge: stop after this many USD."),
    rpm: Optional[float] = RPM_OPTION,
    tpm: Optional[float] = TPM_OPTION,
    db: str = DB_OPTION,
) -> None:
    """Measure a judge on labelled real notes (per system: precision, recall, false flags, omissions)."""
    pace(rpm, tpm)
    from ..calibrate.labels import labeller_agreement, labellers, load_labelled_set
    from ..calibrate.realnotes import fit_confidence as fit, judge_bench, judge_notes
    from ..paths import datasets_dir

    folder = labels or datasets_dir() / "aci-bench-labels"
    if split not in ("test", "dev", "holdout", "all"):
        fail(f"--split {split}: unknown split — fix: use test, dev, holdout or all")
    splits = None if split == "all" else (split,)
    systems_t = tuple(s.strip() for s in systems.split(",")) if systems else None
    lset = load_labelled_set(folder, labeller, splits=splits, systems=systems_t)
    if not lset.notes:
        fail(f"{folder}: no labelled notes for split {split!r}{' and those systems' if systems else ''} — fix: "
             "check --split and --systems")
    if judge:
        from ..llm.judge import make_llm_judge
        from ..llm.client import Budget
        from ._common import open_store

        j = make_llm_judge(judge, store=open_store(db), budget=Budget(max_calls, max_cost), api_base=api_base)
    else:
        from ..metrics.hallucination import GroundingJudge

        j = GroundingJudge()
    from ..llm.budget import BudgetExceeded

    try:
        outcomes = judge_notes(j, lset, with_context=not no_context)
    except BudgetExceeded:
        err_console.print("[yellow]budget reached:[/] re-run the same command to resume (paid replies are cached)")
        raise typer.Exit(3)
    if fit_confidence:
        if judge:
            fail("--fit-confidence: fits the offline judge only — fix: drop --judge")
        table = fit(outcomes, lset)
        from ..grounding import GROUNDING_VERSION
        from ..grounding.lexicon import grounding_dir

        table.update(judge_version=GROUNDING_VERSION, fitted_on=f"{folder.name} split {split}, labeller {labeller}")
        path = grounding_dir() / "confidence.json"
        path.write_text(json.dumps(table, indent=1) + "\n", encoding="utf-8")
        console.print(f"wrote {path}: {len(table['rules'])} rules from {table['notes']} notes, coverage slope "
                      f"{table['coverage_slope']:g} "
                      "(run again without --fit-confidence to measure with them)", highlight=False)
        return
    res = judge_bench(j, lset, min_confidence=min_confidence, outcomes=outcomes)
    others = [b for b in labellers(folder) if b != labeller]
    agreement = None
    if others:
        second = load_labelled_set(folder, others[0], splits=splits, systems=systems_t)
        agreement = labeller_agreement(lset, second) if second.notes else None
    res["labeller_agreement"] = agreement
    print_bench(res, agreement)
    if json_out:
        json_out.write_text(json.dumps(res, indent=1) + "\n", encoding="utf-8")
    if rows_out:
        with rows_out.open("w", encoding="utf-8") as fh:
            for no in outcomes:
                for so in no.sentences:
                    lab, fl = so.label, so.flags(min_confidence)
                    fh.write(json.dumps({
                        "encounter_id": no.note.encounter_id, "system": no.note.system, "sentence": lab.id,
                        "text": lab.text, "label": lab.label, "severity": lab.severity, "type": lab.type,
                        "flagged": bool(fl), "judge_severity": ("major" if any(c.severity == "major" for c in fl)
                                                                else "minor") if fl else None,
                        "rules": [c.rule for c in fl], "confidence": max((c.confidence or 1.0 for c in fl), default=None),
                        "rationale": "; ".join(c.rationale for c in fl)}, ensure_ascii=False) + "\n")
    o = res["overall"]
    fails = []
    if min_precision is not None and (o["precision"] or 0) < min_precision:
        fails.append(f"precision {_fmt(o['precision'])} < {min_precision:g}")
    if min_recall_major is not None and (o["recall_major"] or 0) < min_recall_major:
        fails.append(f"recall of major errors {_fmt(o['recall_major'])} < {min_recall_major:g}")
    if fails:
        err_console.print("[red]gate failed:[/] " + "; ".join(fails), highlight=False)
        raise typer.Exit(1)
