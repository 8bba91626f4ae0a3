"""Provider batch jobs (``evalkit judge --batch``): what was submitted, its state, and its collection.

A row is written *before* the batch is created at the provider (state ``submitting``, with the
submission id sent as batch metadata), updated with the batch id as soon as the provider answers,
and marked ``collected`` in the same transaction that writes the batch's replies to the reply cache
and its ``llm_calls`` rows: a process killed at any point re-finds its batch and never pays for a
request twice, nor records a cost twice.
"""

from __future__ import annotations

import json
from typing import Any, Sequence

from ..schema import utcnow
from .llm_cache import LLMCacheMixin

__all__ = ["BatchesMixin"]

_COLS = ("submission", "batch_id", "model", "api_base", "input_file_id", "output_file_id", "error_file_id", "state",
         "requests", "n_requests", "completed", "failed", "failed_keys", "run_id", "created_at", "updated_at",
         "collected_at")


def _row(r: tuple) -> dict[str, Any]:
    d = dict(zip(_COLS, r))
    d["requests"] = json.loads(d["requests"] or "{}")
    d["failed_keys"] = json.loads(d["failed_keys"] or "[]")
    return d


class BatchesMixin(LLMCacheMixin):
    """The ``llm_batches`` table."""

    def batch_add(self, submission: str, model: str, api_base: str | None, requests: dict[str, str],
                  run_id: str | None = None) -> None:
        """Record a batch about to be created (``requests``: cache key → purpose)."""
        now = utcnow()
        with self.connect() as con:
            con.execute(f"INSERT INTO llm_batches ({', '.join(_COLS)}) VALUES ({', '.join('?' * len(_COLS))})",
                        [submission, None, model, api_base, None, None, None, "submitting", json.dumps(requests),
                         len(requests), 0, 0, "[]", run_id, now, now, None])

    def batch_update(self, submission: str, **fields: Any) -> None:
        """Set ``batch_id``, ``input_file_id``, ``output_file_id``, ``error_file_id``, ``state``,
        ``completed`` or ``failed`` on a recorded batch."""
        allowed = {"batch_id", "input_file_id", "output_file_id", "error_file_id", "state", "completed", "failed"}
        bad = set(fields) - allowed
        if bad:
            raise ValueError(f"batch_update: unknown field(s) {sorted(bad)}")
        if not fields:
            return
        sets = ", ".join(f"{k} = ?" for k in fields)
        with self.connect() as con:
            con.execute(f"UPDATE llm_batches SET {sets}, updated_at = ? WHERE submission = ?",
                        [*fields.values(), utcnow(), submission])

    def batch_collect(self, submission: str, state: str, cache_items: dict[str, Any], calls: Sequence[dict],
                      failed_keys: Sequence[str]) -> None:
        """Write a finished batch's replies and call records and mark it collected, in one transaction."""
        now = utcnow()
        with self.connect() as con:
            self._llm_write(con, cache_items, calls, now)
            con.execute("""UPDATE llm_batches SET state = ?, failed_keys = ?, collected_at = ?, updated_at = ?
                           WHERE submission = ?""", [state, json.dumps(list(failed_keys)), now, now, submission])

    def batches_open(self, model: str | None = None, api_base: str | None = None) -> list[dict[str, Any]]:
        """Batches not collected yet (oldest first), optionally for one model and server."""
        where, args = "collected_at IS NULL", []
        if model is not None:
            where += " AND model = ? AND coalesce(api_base, '') = ?"
            args += [model, api_base or ""]
        with self.connect() as con:
            rows = con.execute(f"SELECT {', '.join(_COLS)} FROM llm_batches WHERE {where} ORDER BY created_at",
                               args).fetchall()
        return [_row(r) for r in rows]

    def batches(self) -> list[dict[str, Any]]:
        """Every recorded batch, oldest first."""
        with self.connect() as con:
            rows = con.execute(f"SELECT {', '.join(_COLS)} FROM llm_batches ORDER BY created_at").fetchall()
        return [_row(r) for r in rows]
