"""``evalkit judge``: claim-level hallucinations and omissions for transcript/note pairs in JSONL.

Default: the offline grounding judge. ``--judge MODEL`` uses an LLM through litellm (cached in
the database, retried, concurrent, budgeted); give ``--judge`` twice or more for a jury. ``--batch``
sends the model calls through the provider's batch API instead (:mod:`evalkit.llm.batch`; a re-run
resumes an open batch).
"""

from __future__ import annotations

from typing import Optional

import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import typer

from . import app
from ._common import (DB_OPTION, RPM_OPTION, TPM_OPTION, console, err_console, error_line, fail, iter_jsonl, pace,
                      warning_line)


def read_cases(path: Path, template: str | None = None,
               warn: Callable[[str], None] | None = None) -> Iterator[tuple[int, dict | None, str | None]]:
    """Yield ``(line number, {"id", "turns", "note"}, None)`` or ``(line number, None, error)`` per line.

    Args:
        path: the JSONL file.
        template: map note headings to this template's sections.
        warn: called with a one-line warning for a case taken with a repair (a first turn with no
            speaker tag).
    """
    from ..context import case_from_context
    from ..errors import InputError
    from ..text.parse import parse_note, parse_transcript

    for n, rec, err in iter_jsonl(path, '{"id", "transcript", "note"}', warn=warn):
        where = f"{path}:{n}"
        if rec is None:
            yield n, None, f"{where}: {err}"
            continue
        missing = [f for f in ("id", "transcript", "note") if f not in rec]
        if missing:
            yield n, None, (f"{where}: {missing[0]}: is missing — fix: give "
                            '{"id", "transcript", "note"} on every line')
            continue
        try:
            turns = parse_transcript(rec["transcript"], source=where, warn=warn)
            note = parse_note(rec["note"], template, source=where)
            case = case_from_context(rec["context"], where) if rec.get("context") is not None else None
        except InputError as e:
            yield n, None, f"{where}: {e.field or 'line'}: {e.problem}" + (f" — fix: {e.fix}" if e.fix else "")
            continue
        yield n, {"id": rec["id"], "turns": turns, "note": note, "case": case}, None


def result_line(case_id: Any, res: Any) -> dict[str, Any]:
    """One output line: ``{"id", "claims": [...], "omissions": [...]}`` (+ ``error`` when the judge failed)."""
    out: dict[str, Any] = {
        "id": case_id,
        "claims": [{"text": c.text, "verdict": c.verdict, "type": c.type, "severity": c.severity,
                    "confidence": c.confidence, "evidence": c.evidence, "sources": c.sources, "rule": c.rule}
                   for c in res.claims],
        "omissions": [{"text": o.text, "severity": o.severity, "evidence": o.evidence} for o in res.omissions],
    }
    if res.error:
        out["error"] = res.error
    return out


def _judge_llm(judge: Any, cases: list[dict], pdqi: bool) -> tuple[list[dict | None], bool]:
    """Judge concurrently; returns output lines (None where the budget stopped) and budget_hit."""
    import asyncio

    from ..llm.budget import split_budget_stops

    async def one(c: dict) -> dict:
        if hasattr(judge, "ajudge_detailed"):
            res, detail = await judge.ajudge_detailed(c["turns"], c["note"], c["case"])
        else:
            res, detail = await judge.ajudge(c["turns"], c["note"], c["case"]), None
        line = result_line(c["id"], res)
        if detail:
            line["jury"] = detail
        if pdqi:
            first = judge.judges[0] if hasattr(judge, "judges") else judge
            scores = await first.arubric_scores(str(c["id"]), c["turns"], c["note"], None, ("pdqi",))
            line["pdqi"] = {s.metric.removeprefix("pdqi_"): s.value for s in scores}
        return line

    async def all_() -> list[Any]:
        return list(await asyncio.gather(*(one(c) for c in cases), return_exceptions=True))

    return split_budget_stops(judge.client.run(all_()))


def _with_base(model: Any, api_base: str) -> Any:
    if isinstance(model, dict):
        return model if model.get("api_base") else {**model, "api_base": api_base}
    return {"model": model, "api_base": api_base}


def _judge_one_process(spec: Any, cases: list[dict], pdqi: bool, store: Any, concurrency: int,
                       max_calls: int | None, max_cost: float | None) -> tuple[list[dict | None], bool, dict]:
    from ..llm.judge import make_llm_judge
    from ..llm.client import Budget

    j = make_llm_judge(spec, store=store, budget=Budget(max_calls, max_cost), concurrency=concurrency)
    try:
        lines, budget_hit = _judge_llm(j, cases, pdqi)
    finally:
        j.client.close()
    return lines, budget_hit, j.client.stats


def _judge_batched(spec: Any, cases: list[dict], pdqi: bool, store: Any, concurrency: int, poll: float,
                   leftovers: str, quiet: bool) -> tuple[list[dict | None], bool, dict, Any]:
    """Judge through the provider's batch endpoint (:mod:`evalkit.llm.batch`)."""
    from ..llm.batch import BatchOptions, run_batched
    from ..llm.judge import make_llm_judge

    options = BatchOptions(poll=poll, leftovers=leftovers, progress=not quiet)
    j = make_llm_judge(spec, store=store, concurrency=concurrency)
    try:
        (lines, budget_hit), report = run_batched(j.client, lambda: _judge_llm(j, cases, pdqi), options)
    finally:
        j.client.close()
    return lines, budget_hit, j.client.stats, report


def _judge_pool(spec: Any, cases: list[dict], processes: int, store: Any, concurrency: int,
                max_calls: int | None, max_cost: float | None) -> tuple[list[dict | None], bool, dict]:
    from ..llm.pool import JudgePool

    with JudgePool(spec, processes=processes, store=store, concurrency=concurrency, max_calls=max_calls,
                   max_cost_usd=max_cost) as pool:
        results, budget_hit = pool.judge_many([(c["turns"], c["note"], c["case"]) for c in cases])
    return ([result_line(c["id"], r) if r is not None else None for c, r in zip(cases, results)], budget_hit,
            pool.stats)


@app.command("judge")
def judge_command(
    input: Path = typer.Option(..., "--input", "-i", help='JSONL: one {"id", "transcript", "note"} a line; transcript '
                               "is ACI-Bench text ('[doctor] ...') or a list of {speaker, text}; note is plain "
                               "text with upper-case headings."),
    output: str = typer.Option(..., "--output", "-o", help="JSONL findings out, one line per judged case ('-' = stdout)."),
    judge: list[str] = typer.Option([], "--judge", "-j", help="LLM judge model (litellm string, e.g. openai/gpt-4o-mini "
                                    "or openai/NAME with --api-base). Repeat for a jury. Default: offline grounding judge."),
    api_base: str | None = typer.Option(None, "--api-base", help="OpenAI-compatible server for the judge model(s)."),
    jury_rule: str = typer.Option("majority", "--jury-rule", help="Jury aggregation: majority or any_major."),
    template: str | None = typer.Option(None, "--template", help="Map note headings to this template's sections."),
    pdqi: bool = typer.Option(False, "--pdqi", help="Also score PDQI-9 (LLM judge only)."),
    max_cost: float | None = typer.Option(None, "--max-cost", help="Stop cleanly after spending this many USD."),
    max_calls: int | None = typer.Option(None, "--max-calls", help="Stop cleanly after this many model calls."),
    rpm: Optional[float] = RPM_OPTION,
    tpm: Optional[float] = TPM_OPTION,
    concurrency: int = typer.Option(16, "--concurrency", min=1, max=512, help="Model calls in flight."),
    processes: int = typer.Option(1, "--processes", min=1, max=64, help="Worker processes for LLM judging "
                                  "(one per core lifts the client-CPU ceiling at high concurrency)."),
    batch: bool = typer.Option(False, "--batch", help="Judge through the provider's batch API (OpenAI-compatible "
                               "/v1/files + /v1/batches): about half the price, results within the provider's "
                               "24 h window. The batch is kept in --db: re-run the same command to resume it."),
    batch_poll: float = typer.Option(30.0, "--batch-poll", help="Seconds between batch status checks."),
    batch_leftovers: str = typer.Option("live", "--batch-leftovers", help="Requests that failed or expired in "
                                        "a batch: live (call the model now) or skip (leave them not judged)."),
    db: str = DB_OPTION,
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary."),
) -> None:
    """Judge notes against transcripts: claims (supported / unsupported / contradicted, CREOLA type,
    severity, evidence turns) and omissions. Bad lines are reported and skipped."""
    pace(rpm, tpm)
    from ..errors import InputError
    from ..llm.transport import LLMCallError
    from ..security.safe_json import repair_text

    if not input.exists():
        fail(f"{input}: file not found — fix: give the path of a JSONL file of cases")
    if pdqi and not judge:
        fail("--pdqi: needs an LLM judge — fix: add --judge MODEL")
    if batch:
        if not judge:
            fail("--batch: needs an LLM judge — fix: add --judge MODEL")
        if processes > 1:
            fail("--batch: runs in one process (the provider does the work) — fix: drop --processes")
        if max_cost is not None or max_calls is not None:
            fail("--batch: --max-cost and --max-calls limit live calls, not batches — fix: drop them (the batch "
                 "cost is reported at the end)")
        if batch_leftovers not in ("live", "skip"):
            fail(f"--batch-leftovers: {batch_leftovers!r} is not a choice — fix: use live or skip")
        if not batch_poll > 0:
            fail(f"--batch-poll: {batch_poll} is not a positive number of seconds — fix: give e.g. --batch-poll 30")
    cases, bad = [], 0
    for n, rec, err in read_cases(input, template, warn=warning_line):
        if rec is None:
            bad += 1
            error_line(err or "")
        else:
            cases.append(rec)
    budget_hit, stats, report = False, None, None
    if not judge:
        from ..gcpolicy import batch_mode
        from ..metrics.hallucination import judge_note

        batch_mode()

        lines: list[dict | None] = [result_line(c["id"], judge_note(c["turns"], c["note"], c["case"])) for c in cases]
    else:
        from ._common import open_store

        store = open_store(db)
        members = [_with_base(m, api_base) if api_base else m for m in judge]
        spec: Any = members[0] if len(members) == 1 else {"jury": members, "rule": jury_rule}
        try:
            if batch:
                lines, budget_hit, stats, report = _judge_batched(spec, cases, pdqi, store, concurrency, batch_poll,
                                                                  batch_leftovers, quiet)
            elif processes > 1 and not pdqi:
                lines, budget_hit, stats = _judge_pool(spec, cases, processes, store, concurrency, max_calls,
                                                       max_cost)
            else:
                lines, budget_hit, stats = _judge_one_process(spec, cases, pdqi, store, concurrency, max_calls,
                                                              max_cost)
        except InputError as e:
            fail(str(e))
        except LLMCallError as e:  # only batch mode lets these out: the files or batches endpoint failed
            fail(f"--batch: {e} — fix: check the server and its batch API, then re-run the same command "
                 "(open batches are resumed, never paid twice)")
    out_fh = sys.stdout if output == "-" else open(output, "w", encoding="utf-8")
    try:
        for line in lines:
            if line is not None:  # (a lone surrogate from a model's reply cannot be written: repaired)
                out_fh.write(repair_text(json.dumps(line, ensure_ascii=False))[0] + "\n")
    finally:
        if out_fh is not sys.stdout:
            out_fh.close()
    done = [x for x in lines if x is not None]
    judge_errors = sum(1 for x in done if x.get("error"))
    if not quiet:
        target = err_console if output == "-" else console
        msg = f"{len(done)} of {len(cases)} cases judged, {bad} bad line(s), {judge_errors} judge error(s)"
        if stats is not None:
            cost = f", ${stats['cost_usd']:.4f}" if stats.get("priced_calls") else ""
            refused = f", {stats['rate_limited']} refused by the rate limit" if stats.get("rate_limited") else ""
            msg += (f"; {stats['calls']} model calls ({stats['cached']} cached, {stats['retries']} retries"
                    f"{refused}), {stats['prompt_tokens'] + stats['completion_tokens']} tokens{cost}")
        target.print(msg, highlight=False)
        if report is not None:
            target.print(report.summary(), highlight=False)
    if budget_hit:
        err_console.print(f"[yellow]budget reached:[/] {len(cases) - len(done)} case(s) not judged — re-run the "
                          "same command to resume (replies already paid for are cached)", highlight=False)
        raise typer.Exit(3)
    if bad or judge_errors:
        raise typer.Exit(1)
