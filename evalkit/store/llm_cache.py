"""The reply cache (LLM replies, scribe outputs) and the record of every model call."""

from __future__ import annotations

import json
from typing import Any, Sequence

import pandas as pd

from ..schema import utcnow
from .connection import StoreBase
from .rows import _j

__all__ = ["LLMCacheMixin"]


class LLMCacheMixin(StoreBase):
    """The reply cache (LLM replies, scribe outputs) and the record of every model call."""

    def cache_get(self, key: str) -> Any | None:
        with self.connect() as con:
            row = con.execute("SELECT value FROM cache WHERE key=?", [key]).fetchone()
        return json.loads(row[0]) if row else None

    def cache_get_many(self, keys: Sequence[str], raw: bool = False) -> dict[str, Any]:
        """Cached values by key (missing keys are left out); ``raw``: their JSON text, not parsed."""
        if not keys:
            return {}
        with self.connect() as con:
            con.register("_k", pd.DataFrame({"key": list(keys)}))
            rows = con.execute("SELECT c.key, c.value FROM cache c JOIN _k USING (key)").fetchall()
        if raw:
            return dict(rows)
        return {k: json.loads(v) for k, v in rows}

    def cache_put_many(self, kind: str, items: dict[str, Any]) -> None:
        if not items:
            return
        with self.connect() as con:
            self._cache_insert(con, kind, items, utcnow())

    @staticmethod
    def _cache_insert(con: Any, kind: str, items: dict[str, Any], now: Any) -> None:
        df = pd.DataFrame([{"key": k, "kind": kind, "value": _j(v), "created_at": now} for k, v in items.items()])
        con.register("_c", df)
        con.execute("INSERT INTO cache SELECT key, kind, value, created_at FROM _c ON CONFLICT DO NOTHING")
        con.unregister("_c")

    def cache_put(self, kind: str, key: str, value: Any) -> None:
        self.cache_put_many(kind, {key: value})

    _LLM_CALL_COLS = ("run_id", "model", "purpose", "prompt_tokens", "completion_tokens", "cost_usd",
                      "latency_s", "cached", "error", "created_at")

    def llm_flush(self, cache_items: dict[str, Any], calls: Sequence[dict], kind: str = "llm") -> None:
        """Write LLM reply cache entries and call records in one transaction.

        Args:
            cache_items: cache key → JSON-able reply (existing keys are kept).
            calls: rows for ``llm_calls`` (keys: the table's columns; ``created_at`` optional).
            kind: the cache ``kind`` column.
        """
        if not cache_items and not calls:
            return
        with self.connect() as con:
            self._llm_write(con, cache_items, calls, utcnow(), kind)

    def _llm_write(self, con: Any, cache_items: dict[str, Any], calls: Sequence[dict], now: Any,
                   kind: str = "llm") -> None:
        """:meth:`llm_flush`'s writes, on an open connection (inside the caller's transaction)."""
        cdf = pd.DataFrame([{"key": k, "kind": kind, "value": _j(v), "created_at": now}
                            for k, v in cache_items.items()])
        ldf = pd.DataFrame([{c: r.get(c, now if c == "created_at" else None) for c in self._LLM_CALL_COLS}
                            for r in calls], columns=list(self._LLM_CALL_COLS))
        if not ldf.empty:
            for c in ("prompt_tokens", "completion_tokens"):
                ldf[c] = ldf[c].astype("Int64")
            for c in ("cost_usd", "latency_s"):
                ldf[c] = ldf[c].astype("float64")
            ldf["cached"] = ldf["cached"].astype("boolean")
            ldf["created_at"] = pd.to_datetime(ldf["created_at"], utc=True)
        if not cdf.empty:
            con.register("_c", cdf)
            con.execute("INSERT INTO cache SELECT key, kind, value, created_at FROM _c ON CONFLICT DO NOTHING")
            con.unregister("_c")
        self._insert_df(con, "llm_calls", ldf)

    def cache_keys(self, prefix: str, max_values: int = 20_000) -> tuple[set[str], dict[str, str]]:
        """Cache keys starting with ``prefix``, and their values (JSON text) when there are at most
        ``max_values`` of them: a client then knows its misses and hits without asking again."""
        with self.connect() as con:
            n = con.execute("SELECT count(*) FROM cache WHERE starts_with(key, ?)", [prefix]).fetchone()[0]
            if n <= max_values:
                rows = con.execute("SELECT key, value FROM cache WHERE starts_with(key, ?)", [prefix]).fetchall()
                return {r[0] for r in rows}, {r[0]: r[1] for r in rows}
            rows = con.execute("SELECT key FROM cache WHERE starts_with(key, ?)", [prefix]).fetchall()
        return {r[0] for r in rows}, {}

    def llm_call_summary(self, run_id: str | None = None) -> dict[str, Any]:
        """Totals over ``llm_calls``: model calls made, cache hits, errors, tokens and cost."""
        where, args = ("WHERE run_id = ?", [run_id]) if run_id else ("", [])
        with self.connect() as con:
            row = con.execute(f"""
                SELECT count(*) FILTER (WHERE NOT cached) AS calls,
                       count(*) FILTER (WHERE cached) AS cached,
                       count(*) FILTER (WHERE error IS NOT NULL) AS errors,
                       coalesce(sum(prompt_tokens) FILTER (WHERE NOT cached), 0) AS prompt_tokens,
                       coalesce(sum(completion_tokens) FILTER (WHERE NOT cached), 0) AS completion_tokens,
                       sum(cost_usd) FILTER (WHERE NOT cached) AS cost_usd
                FROM llm_calls {where}""", args).fetchone()
        keys = ("calls", "cached", "errors", "prompt_tokens", "completion_tokens", "cost_usd")
        return dict(zip(keys, row))
