"""A per-run budget for model calls: a number of calls and/or an amount of money."""

from __future__ import annotations

import threading


class BudgetExceeded(BaseException):
    """The run's call or cost budget is spent. Not an ``Exception``: it stops the run."""


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
