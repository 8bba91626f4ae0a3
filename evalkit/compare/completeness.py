"""Is a run complete? A gate or comparison must not pass judgement on cases it never saw.

A run is complete when its status is ``finished`` and it holds a session (ok or failed) for every
case it set out to run: ``summary.cases``, recorded when the run starts; for a run from before
that was recorded, the consultations its dataset holds now (at most the suite's ``limit``). A run
killed part-way stays ``running`` until it is resumed to the end.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from ..errors import InputError


@dataclass(frozen=True)
class RunProgress:
    """How far a run got.

    Attributes:
        run_id: the run.
        status: ``running`` (stopped or still going) or ``finished``.
        sessions: sessions stored (ok or failed).
        expected: cases it set out to run.
    """

    run_id: str
    status: str
    sessions: int
    expected: int

    @property
    def missing(self) -> int:
        return max(0, self.expected - self.sessions)

    @property
    def complete(self) -> bool:
        return self.status == "finished" and self.missing == 0

    def describe(self) -> str:
        """``177 of 402 cases missing, status 'running'`` (what is wrong, for messages)."""
        parts = []
        if self.missing:
            parts.append(f"{self.missing:,} of {self.expected:,} cases missing")
        if self.status != "finished":
            parts.append(f"status {self.status!r} (stopped before it finished, or still going)")
        return ", ".join(parts) or "complete"


def _expected(rec: dict[str, Any]) -> int:
    cases = rec["summary"].get("cases") if isinstance(rec["summary"], dict) else None
    if isinstance(cases, int) and not isinstance(cases, bool):
        return cases
    if rec["status"] == "finished":  # a finished run from before evalkit recorded its plan: what it holds
        return int(rec["sessions"])
    n = int(rec["dataset_cases"] or 0)
    return min(n, int(rec["suite_limit"])) if rec["suite_limit"] else n


def progress(store: Any, run_ids: list[str]) -> list[RunProgress]:
    """:class:`RunProgress` of each run (in the store's order)."""
    return [RunProgress(r["run_id"], str(r["status"] or "unknown"), int(r["sessions"]), _expected(r))
            for r in store.run_progress(run_ids)]


def require_complete(store: Any, run_ids: list[str], ref: str, *, allow: bool = False,
                     how_to_allow: str = "") -> list[str]:
    """Raise unless every run is complete (or ``allow``); returns a note per incomplete run allowed.

    Args:
        store: the store.
        run_ids: the runs a reference names.
        ref: the reference as the user gave it.
        allow: accept incomplete runs (the notes say what is missing).
        how_to_allow: how the user accepts one anyway, for the fix (``add allow_incomplete: true ...``).

    Raises:
        InputError: a run is incomplete and not ``allow``: names it, what is missing and the fix.
    """
    notes = []
    for p in progress(store, run_ids):
        if p.complete:
            continue
        what = f"run {ref!r}" + (f" ({p.run_id})" if p.run_id != ref else "")
        if not allow:
            raise InputError(what, None, f"is incomplete: {p.describe()}",
                             "resume it (run the same suite again, without --fresh) and check it then"
                             + (f", or {how_to_allow}" if how_to_allow else ""))
        notes.append(f"{what} is incomplete: {p.describe()} (allowed)")
    return notes


__all__ = ["RunProgress", "progress", "require_complete"]
