"""Rows as the store writes them: a session's rows built where the case ran, and JSON text for detail columns."""

from __future__ import annotations

import json
from typing import Any, Sequence

from ..schema import Finding, Flag, Score, ScribeOutput

__all__ = ["RawJSON", "SessionResult", "SessionRows"]

try:  # 5-10x faster than json for the per-score/per-finding details a run writes
    import orjson as _orjson
except ImportError:  # pragma: no cover - orjson is a dependency; keep working without it
    _orjson = None


class RawJSON(str):
    """Text that is already JSON (a model's ``model_dump_json()``): stored as it is, not encoded again."""


def _j(v: Any) -> str:
    if type(v) is RawJSON:
        return str(v)
    if _orjson is not None:
        try:
            return _orjson.dumps(v, default=str, option=_orjson.OPT_NON_STR_KEYS).decode()
        except TypeError:  # e.g. integers beyond 64 bits: json handles them
            pass
    return json.dumps(v, ensure_ascii=False, default=str)


SESSION_COLS = ("session_id", "run_id", "consultation_id", "scribe", "backend_version", "status", "error", "output",
                "input_hash", "latency_s", "cost_usd")
SCORE_COLS = ("run_id", "session_id", "metric", "value", "detail")
FINDING_COLS = ("run_id", "session_id", "finding_id", "kind", "section", "sentence_id", "text", "verdict", "type",
                "severity", "category", "evidence", "rationale", "judge", "judge_version", "prompt_hash", "confidence",
                "rule", "sources")
FLAG_COLS = ("run_id", "session_id", "rule", "reason", "severity")
SEVERITY_COLS = ("run_id", "session_id", "major_hallucinations", "major_omissions", "hallucination_rate", "confidence")


def _confidence(f: Finding) -> float | None:
    """The judge's confidence in a finding when it gives one (a number in 0-1), else None."""
    c = getattr(f, "confidence", None)
    try:
        c = float(c) if c is not None else None
    except (TypeError, ValueError):
        return None
    return c if c is not None and 0.0 <= c <= 1.0 else None


class SessionRows:
    """One session as the rows :meth:`Store.write_results` inserts (``created_at`` is added then).

    Built with :meth:`of` where the case ran, so the writing process only inserts: with the Ray
    executor that is a worker, and the driver — the one writer — does no per-field work. Plain
    tuples and strings: pickled as they are between processes. ``output_json`` is the scribe
    output's JSON (also what the scribe cache stores).
    """

    __slots__ = ("session_id", "consultation_id", "error", "input_hash", "output_json", "session", "scores",
                 "findings", "flags", "severity", "from_cache")
    pack_as_is = True  # evalkit.executors.ray_executor.pack: plain data, no pydantic models inside

    @classmethod
    def of(cls, run_id: str, r: "SessionResult") -> "SessionRows":
        out = r.output
        sid = r.session_id
        rows = cls.__new__(cls)
        rows.session_id, rows.consultation_id, rows.error, rows.input_hash = sid, r.consultation_id, r.error, r.input_hash
        rows.from_cache = False  # the runner sets it when the scribe output came from the cache
        rows.output_json = out.model_dump_json() if out is not None else None
        rows.session = (sid, run_id, r.consultation_id, r.scribe, out.backend_version if out else None,
                        "failed" if r.error else "ok", r.error, rows.output_json, r.input_hash,
                        out.latency_s if out else None, out.cost_usd if out else None)
        rows.scores = [(run_id, sid, s.metric, float(s.value) if s.value is not None else None, _j(s.detail))
                       for s in r.scores]
        rows.findings = [(run_id, sid, f.id, f.kind, f.section, f.sentence_id, f.text, f.verdict, f.type, f.severity,
                          f.category, _j(f.evidence), f.rationale, r.judge, r.judge_version, r.prompt_hash,
                          f.confidence, f.rule, _j(f.sources) if f.sources else None)
                         for f in r.findings]
        rows.flags = [(run_id, sid, fl.rule, fl.reason, getattr(fl, "severity", None)) for fl in r.flags]
        rows.severity = []
        if r.flags:  # what orders a flagged session within its severity in the review queue
            by = {x.metric: x.value for x in r.scores}
            errors = [c for f in r.findings if (f.kind == "omission" or f.verdict in ("unsupported", "contradicted"))
                      and (c := _confidence(f)) is not None]
            rows.severity = [(run_id, sid, by.get("major_hallucinations"), by.get("major_omissions"),
                              by.get("hallucination_rate"), max(errors) if errors else None)]
        return rows


class SessionResult:
    """What the runner hands the store for one consultation in one run."""

    __slots__ = ("session_id", "consultation_id", "scribe", "output", "scores", "findings", "flags",
                 "error", "input_hash", "judge", "judge_version", "prompt_hash")

    def __init__(self, session_id: str, consultation_id: str, scribe: str, output: ScribeOutput | None = None,
                 scores: Sequence[Score] = (), findings: Sequence[Finding] = (), flags: Sequence[Flag] = (),
                 error: str | None = None, input_hash: str = "", judge: str | None = None,
                 judge_version: str | None = None, prompt_hash: str | None = None):
        self.session_id = session_id
        self.consultation_id = consultation_id
        self.scribe = scribe
        self.output = output
        self.scores = list(scores)
        self.findings = list(findings)
        self.flags = list(flags)
        self.error = error
        self.input_hash = input_hash
        self.judge = judge
        self.judge_version = judge_version
        self.prompt_hash = prompt_hash
