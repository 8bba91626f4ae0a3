"""A per-run budget for model calls: a number of calls and/or an amount of money."""

from __future__ import annotations

import threading
from collections.abc import Iterator
from contextlib import contextmanager


class BudgetExceeded(BaseException):
    """The run's call or cost budget is spent. Not an ``Exception``: it stops the run."""


def split_budget_stops(got: list) -> tuple[list, bool]:
    """Results of ``gather(..., return_exceptions=True)``: budget stops become None, other errors re-raise.

    Returns ``(results, budget_hit)``.
    """
    results: list = []
    budget_hit = False
    for g in got:
        if isinstance(g, BudgetExceeded):
            budget_hit = True
            results.append(None)
        elif isinstance(g, BaseException):
            raise g
        else:
            results.append(g)
    return results, budget_hit


class Budget:
    """A per-run budget shared by every call of a client (thread-safe).

    Args:
        max_calls: model calls allowed (cache hits are free); None for no limit.
        max_cost_usd: spend allowed; checked before each call, so the calls in flight when the
            limit is reached (at most ``concurrency``) may overshoot it.
    """

    def __init__(self, max_calls: int | None = None, max_cost_usd: float | None = None):
        self.max_calls, self.max_cost_usd = max_calls, max_cost_usd
        self.calls = 0
        self.cost_usd = 0.0
        self._lock = threading.Lock()

    def reserve(self) -> None:
        with self._lock:
            if self.max_calls is not None and self.calls >= self.max_calls:
                raise BudgetExceeded(f"call budget of {self.max_calls} reached")
            if self.max_cost_usd is not None and self.cost_usd >= self.max_cost_usd:
                raise BudgetExceeded(f"cost budget of ${self.max_cost_usd:g} reached (${self.cost_usd:.4f} spent)")
            self.calls += 1

    def spend(self, cost: float | None) -> None:
        if cost:
            with self._lock:
                self.cost_usd += cost

    def release(self) -> None:
        """Give back a reserved call that was never made."""
        with self._lock:
            self.calls = max(0, self.calls - 1)


_RUN_BUDGETS: list[Budget] = []


@contextmanager
def run_budget(budget: Budget | None) -> Iterator[Budget | None]:
    """Apply ``budget`` to every model call this process makes inside the block, on top of each
    client's own budget: ``evalkit run --max-calls/--max-cost`` covers the suite's LLM scribe and
    judge however they were built. Calls made by other processes (Ray workers) are not counted."""
    if budget is None:
        yield None
        return
    _RUN_BUDGETS.append(budget)
    try:
        yield budget
    finally:
        _RUN_BUDGETS.remove(budget)


def reserve_all(own: Budget) -> list[Budget]:
    """Reserve one call on the active run budgets and ``own``; all or none. Returns them for :func:`spend_all`."""
    budgets = [*_RUN_BUDGETS, own]
    taken: list[Budget] = []
    try:
        for b in budgets:
            b.reserve()
            taken.append(b)
    except BudgetExceeded:
        for b in taken:
            b.release()
        raise
    return budgets


def spend_all(budgets: list[Budget], cost: float | None) -> None:
    for b in budgets:
        b.spend(cost)
