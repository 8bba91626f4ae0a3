"""Bulk judging with one process per core: each worker runs its own event loop, HTTP session and
judge; the parent owns the database.

A single Python process tops out at roughly one core of client work per call (building the
request, HTTP, validating the reply), so at high concurrency against a fast server the client,
not the model, sets the pace. ``JudgePool`` splits the notes across worker processes. Workers
read the reply cache from the store (one batched query each) but never write to it: their new
replies and call records come back with the results and the parent writes them in one
transaction, so DuckDB's one-writer rule holds and nothing paid for is lost. A budget is split
evenly between workers (the total is never exceeded); the rate limits are not split but shared
(:func:`evalkit.llm.ratelimit.share_table`): all workers pace to one allowance per model. Workers
are forked when the parent has no other threads (they then share litellm's imported state
copy-on-write), else spawned.
"""

from __future__ import annotations

import multiprocessing as mp
import os
import threading
from typing import Any

from ..schema import JudgeResult

_WORKER: dict[str, Any] = {}
_CHUNK = 64  # notes per pickled chunk sent to a worker


class _CollectingStore:
    """A worker's view of the store: reads the cache, collects writes for the parent."""

    def __init__(self, path: str | None):
        from ..store import Store

        self.store = Store(path) if path else None
        self.cache: dict[str, Any] = {}
        self.calls: list[dict] = []

    def cache_get_many(self, keys: list[str]) -> dict[str, Any]:
        return self.store.cache_get_many(keys) if self.store is not None else {}

    def cache_keys(self, prefix: str) -> tuple[set[str], dict[str, str]]:
        return self.store.cache_keys(prefix) if self.store is not None else (set(), {})

    def llm_flush(self, cache_items: dict[str, Any], calls: list[dict], kind: str = "llm") -> None:
        self.cache.update(cache_items)
        self.calls.extend(calls)


def _init(spec: Any, store_path: str | None, run_id: str | None, concurrency: int, max_calls: int | None,
          max_cost: float | None, limits: Any = None, default_limits: tuple = (None, None)) -> None:
    from .judge import make_llm_judge
    from .client import Budget, LLMClient
    from .ratelimit import install_table, set_default_limits

    if limits is not None:  # pace together with the parent and the other workers
        install_table(limits)
    set_default_limits(*default_limits)

    sink = _CollectingStore(store_path)
    client = LLMClient(sink, run_id=run_id, concurrency=concurrency, budget=Budget(max_calls, max_cost),
                       flush_every=10**9, flush_interval=1e9)
    _WORKER.update(sink=sink, client=client, judge=make_llm_judge(spec, client=client))


def _judge_shard(chunks: list[bytes]) -> tuple[list[JudgeResult | None], dict, list, bool, dict]:
    """Judge a shard sent as pickled chunks: each chunk's notes start as soon as it is unpickled,
    while the next is being unpickled (unpickling 1,000 notes took ~0.2 s before the first call)."""
    import asyncio
    import pickle

    from .budget import split_budget_stops

    judge, client, sink = _WORKER["judge"], _WORKER["client"], _WORKER["sink"]

    async def some(items: list[tuple[Any, Any, Any]]) -> list[Any]:
        return list(await asyncio.gather(*(judge.ajudge(t, n, c) for t, n, c in items), return_exceptions=True))

    futures = [client.submit(some(pickle.loads(blob))) for blob in chunks]
    got = [g for f in futures for g in f.result()]
    client.flush()
    results, budget_hit = split_budget_stops(got)
    cache, calls = sink.cache, sink.calls
    sink.cache, sink.calls = {}, []
    prev = _WORKER.get("prev") or {}
    now = dict(client.stats)
    _WORKER["prev"] = now
    return results, cache, calls, budget_hit, {k: v - prev.get(k, 0) for k, v in now.items()}


def _can_fork() -> bool:
    return "fork" in mp.get_all_start_methods() and threading.active_count() == 1


class JudgePool:
    """Worker processes judging notes with one judge spec.

    Args:
        spec: a judge spec for :func:`evalkit.llm.judge.make_llm_judge` (model, mapping or jury).
        processes: worker processes (default: the number of cores).
        store: the Store (cache reads in workers; the parent writes replies and call records).
        run_id: recorded on ``llm_calls`` rows.
        concurrency: calls in flight in total (split between workers).
        max_calls, max_cost_usd: the run's budget (split evenly between workers).
    """

    def __init__(self, spec: Any, *, processes: int | None = None, store: Any = None, run_id: str | None = None,
                 concurrency: int = 64, max_calls: int | None = None, max_cost_usd: float | None = None):
        from .judge import make_llm_judge

        make_llm_judge(spec).close()  # a bad spec fails here, with its message, not in a worker
        self.processes = max(1, processes or os.cpu_count() or 1)
        self.store = store
        n = self.processes
        share_calls = None if max_calls is None else max_calls // n
        share_cost = None if max_cost_usd is None else max_cost_usd / n
        ctx = mp.get_context("fork" if _can_fork() else "spawn")
        path = str(store.path) if store is not None else None
        from .ratelimit import default_limits, share_table

        self._pool = ctx.Pool(n, initializer=_init,
                              initargs=(spec, path, run_id, max(1, concurrency // n), share_calls, share_cost,
                                        share_table(ctx), default_limits()))
        self.stats = {"calls": 0, "cached": 0, "errors": 0, "retries": 0, "prompt_tokens": 0,
                      "completion_tokens": 0, "cost_usd": 0.0, "priced_calls": 0, "rate_limited": 0}

    def judge_many(self, items: list[tuple[Any, Any, Any]]) -> tuple[list[JudgeResult | None], bool]:
        """Judge ``(transcript, note, case)`` items; returns results in order (None where the budget
        stopped) and whether the budget was reached. Replies and call records are in the store."""
        import pickle

        n = self.processes
        shards = [items[i::n] for i in range(n)]
        chunked = [[pickle.dumps(sh[j:j + _CHUNK], pickle.HIGHEST_PROTOCOL) for j in range(0, len(sh), _CHUNK)]
                   for sh in shards]
        outs = self._pool.map(_judge_shard, chunked, chunksize=1)
        results: list[JudgeResult | None] = [None] * len(items)
        cache: dict[str, Any] = {}
        calls: list[dict] = []
        budget_hit = False
        for i, (res, c, rows, hit, stats) in enumerate(outs):
            for k, r in enumerate(res):
                results[i + k * n] = r
            cache.update(c)
            calls += rows
            budget_hit |= hit
            for key in self.stats:
                self.stats[key] += stats.get(key, 0) or 0
        if self.store is not None:
            self.store.llm_flush(cache, calls)
        return results, budget_hit

    def close(self) -> None:
        self._pool.close()
        self._pool.join()

    def __enter__(self) -> "JudgePool":
        return self

    def __exit__(self, *exc: Any) -> None:
        self.close()
