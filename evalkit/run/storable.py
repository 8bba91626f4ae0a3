"""Session rows that can always be written, whatever text a backend or judge returned.

Text holding a lone surrogate (half an emoji, from a JSON ``\\ud83d`` escape) cannot be encoded as
UTF-8, so neither serialised nor stored. The backends evalkit ships repair it as they read their
answers (:mod:`evalkit.security.safe_json`); these functions are the runner's net for everything else.
"""

from __future__ import annotations

import logging

from ..security import safe_json
from ..schema import ScribeOutput
from ..store import SessionResult, SessionRows

log = logging.getLogger("evalkit.runner")


def session_rows(rid: str, res: SessionResult) -> SessionRows:
    """The session's rows; an output holding a lone surrogate (half an emoji) is repaired first.

    Such text cannot be written as UTF-8. The backends evalkit ships repair it as they read their
    answers; this catches any other scribe's (a plugin's), marks the output
    (``metadata.repaired_characters``), and, should the output still not serialise, records the
    case as failed with a one-line error so the run goes on.
    """
    try:
        return SessionRows.of(rid, res)
    except (ValueError, UnicodeEncodeError):  # pydantic's serialisation error is a ValueError
        if res.output is None:
            raise
    try:
        data, n = safe_json.repair(res.output.model_dump(mode="python"))
        out = ScribeOutput.model_validate(data)
        out.metadata["repaired_characters"] = n
        res.output = out
        return SessionRows.of(rid, res)
    except Exception as e:  # noqa: BLE001 - the case fails alone
        log.warning("case %s: output could not be stored (%s)", res.consultation_id, type(e).__name__)
        return SessionRows.of(rid, SessionResult(
            res.session_id, res.consultation_id, res.scribe, error=f"the scribe's output cannot be stored as UTF-8 "
            f"text ({type(e).__name__}) — fix: make the backend return valid Unicode text", input_hash=res.input_hash))


def repair_pending(pending: list[SessionRows]) -> None:
    """Replace lone surrogates in every text field of rows about to be written (e.g. a judge's rationale)."""
    for r in pending:
        for attr in ("session", "scores", "findings", "flags"):
            val = getattr(r, attr)
            rows = [val] if attr == "session" else val
            fixed = [tuple(safe_json.repair_text(x)[0] if isinstance(x, str) else x for x in row) for row in rows]
            setattr(r, attr, fixed[0] if attr == "session" else fixed)


__all__ = ["repair_pending", "session_rows"]
