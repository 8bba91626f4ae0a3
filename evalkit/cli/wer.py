"""``evalkit wer``: word error rates for reference/hypothesis pairs in a JSONL file."""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any, Callable, Iterator

import typer

from . import app
from ._common import console, err_console, error_line, fail, iter_jsonl, warning_line

OUTPUT_FIELDS = ("wer", "cer", "hits", "substitutions", "deletions", "insertions", "medical_wer",
                 "numeric_error_rate", "wer_clinician", "wer_patient")


def _read_pairs(path: Path) -> Iterator[tuple[int, dict[str, Any] | None, str | None]]:
    """Yield (line number, record, error) for each non-blank line."""
    return iter_jsonl(path, '{"id", "reference", "hypothesis"}', warn=warning_line)


def score_pair(rec: dict[str, Any], warn: Callable[[str], None] | None = None,
               where: str = "pair", normalizer: str = "evalkit") -> dict[str, Any]:
    """Score one input record ``{"id", "reference", "hypothesis", ["terms"]}``.

    When both transcripts are turns with speakers, the speaker-attributed rates (``cpwer``,
    ``tcpwer`` with times on both sides, ``speaker_confusion``) are added.

    Args:
        rec: the parsed JSONL line.
        warn: called with a one-line warning for a transcript taken with a repair (a first turn
            with no speaker tag).
        where: the record's place (``FILE:LINE``), named in warnings.
        normalizer: ``evalkit`` or ``whisper`` (:mod:`evalkit.text.normalizers`).

    Returns:
        ``{"id", "wer", "cer", "hits", "substitutions", "deletions", "insertions", "medical_wer", ...}``.

    Raises:
        InputError: a missing or malformed field (the source is the field name).
    """
    from ..errors import InputError
    from ..metrics.wer import wer_details

    for f in ("id", "reference", "hypothesis"):
        if f not in rec:
            raise InputError("pair", f, "is missing", 'give {"id", "reference", "hypothesis"} on every line')
    for f in ("reference", "hypothesis"):
        if not isinstance(rec[f], (str, list)):
            raise InputError("pair", f, f"must be text or a list of turns, got {type(rec[f]).__name__}",
                             'give transcript text or a list of {"speaker", "text"}')
    from ..security.limits import MAX_TRANSCRIPT_CHARS

    for f in ("reference", "hypothesis"):
        size = len(rec[f]) if isinstance(rec[f], str) else sum(len(str(t.get("text", ""))) if isinstance(t, dict)
                                                               else 0 for t in rec[f])
        if size > MAX_TRANSCRIPT_CHARS:
            raise InputError("pair", f, f"is {size:,} characters, more than the {MAX_TRANSCRIPT_CHARS:,} evalkit reads "
                             "in one transcript", "split the consultation into parts")
    terms = rec.get("terms")
    if terms is not None and not (isinstance(terms, list) and all(isinstance(t, str) for t in terms)):
        raise InputError("pair", "terms", "must be a list of strings", 'e.g. "terms": ["lisinopril"]')
    from ..text.parse import has_speaker_tags, parse_transcript

    said = None if warn is None else (lambda m: warn(f"{where}: {m}"))
    ref, hyp = ((parse_transcript(v, source=f, warn=said)
                 if isinstance(v, str) and has_speaker_tags(v) else v)
                for f, v in (("reference", rec["reference"]), ("hypothesis", rec["hypothesis"])))
    res = wer_details(ref, hyp, terms=terms, normalizer=normalizer)
    out = {"id": rec["id"]}
    out.update({f: getattr(res, f) for f in OUTPUT_FIELDS})
    out["ref_words"] = res.ref_words
    out["normalizer"] = res.normalizer
    from ..metrics.speaker_wer import labels_speakers, speaker_wer

    if not isinstance(ref, str) and labels_speakers(ref) and labels_speakers(hyp):
        sres = speaker_wer(ref, hyp, normalizer=normalizer)  # type: ignore[arg-type]
        if sres is not None:
            out.update(cpwer=sres.cpwer, tcpwer=sres.tcpwer, speaker_confusion=sres.speaker_confusion)
    return out


@app.command("wer")
def wer_command(
    input: Path = typer.Option(..., "--input", "-i", help='JSONL: one {"id", "reference", "hypothesis"} a line; '
                               "reference/hypothesis are ACI-Bench text ('[doctor] ...'), a list of "
                               '{"speaker", "text"} or plain text; optional "terms": extra medical terms.'),
    output: str = typer.Option(..., "--output", "-o", help="JSONL scores out, one line per input line ('-' = stdout)."),
    quiet: bool = typer.Option(False, "--quiet", "-q", help="No summary."),
    normalizer: str = typer.Option("evalkit", "--normalizer", help="Text normalisation: evalkit (clinical: "
                                   "doses, units, numbers) or whisper (Whisper's EnglishTextNormalizer, as on "
                                   "the Open ASR Leaderboard)."),
) -> None:
    """Word/character error rates, medical-term WER, speaker WER and cpWER for transcript pairs."""
    from ..errors import InputError
    from ..gcpolicy import batch_mode
    from ..text.normalizers import get_normalizer

    try:
        norm = get_normalizer(normalizer, source="--normalizer")
    except InputError as e:
        fail(str(e))
    batch_mode()
    if not input.exists():
        fail(f"{input}: file not found — fix: give the path of a JSONL file of pairs")
    failed = 0
    rows: list[dict[str, Any]] = []
    out_fh = sys.stdout if output == "-" else open(output, "w", encoding="utf-8")
    try:
        for n, rec, err in _read_pairs(input):
            if rec is not None:
                try:
                    row = score_pair(rec, warn=warning_line, where=f"{input}:{n}", normalizer=norm.name)
                except InputError as e:
                    prefix = e.field if e.source == "pair" else (e.source + ("" if (e.field or "").startswith("[") else ".") + e.field
                                                                      if e.field else e.source)
                    err = f"{prefix}: {e.problem}" + (f" — fix: {e.fix}" if e.fix else "")
                else:
                    rows.append(row)
                    out_fh.write(json.dumps(row) + "\n")
                    continue
            failed += 1
            error_line(f"{input}:{n}: {err}")
    finally:
        if out_fh is not sys.stdout:
            out_fh.close()
    if not quiet and rows:
        words = sum(r["ref_words"] for r in rows)
        errors = sum(r["substitutions"] + r["deletions"] + r["insertions"] for r in rows)
        mean = sum(r["wer"] for r in rows) / len(rows)
        target = err_console if output == "-" else console
        target.print(f"{len(rows)} pairs scored, {failed} failed; corpus WER {errors / words:.3f} "
                     f"({errors}/{words} words), mean WER {mean:.3f}; normaliser {norm.label()}", highlight=False)
        target.print(f"[dim]{norm.description}[/]", highlight=False)
    if failed:
        raise typer.Exit(1)
