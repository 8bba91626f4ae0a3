"""Garbage-collector settings for batch work: scoring runs, judge runs, model calls.

CPython collects the youngest generation every 700 allocations of container objects, and
the whole heap whenever enough objects have survived. Scoring a session allocates tens of
thousands of short-lived tuples, lists and dicts, and a process that has loaded the lexicon,
templates, pandas and (for model calls) litellm holds hundreds of thousands of long-lived
ones that every full collection walks again. Measured here (``bench/bench_scoring.py``), the
collector was ~25 % of offline scoring's CPU time, and ~20 % of an LLM judge run's.

:func:`batch_mode` moves everything alive now into the permanent generation (``gc.freeze``),
so it is never walked again, and raises the youngest generation's threshold to 10,000.
Garbage is still freed by reference counting as before; only reference cycles wait a little
longer to be collected. Call it once the long-lived state is loaded; calling it again is
cheap and freezes what was loaded since.
"""

from __future__ import annotations

import atexit
import gc

#: allocations between collections of the youngest generation (CPython's default is 700)
YOUNG_THRESHOLD = 10_000

_registered = False


def batch_mode() -> None:
    """Tune the collector for throughput (see the module docstring). Idempotent."""
    global _registered
    gc.collect()  # garbage now is freed, not frozen (frozen objects are not walked: cheap after the first call)
    gc.freeze()
    if not _registered:
        atexit.register(gc.unfreeze)
        _registered = True
    g0, g1, g2 = gc.get_threshold()
    if 0 < g0 < YOUNG_THRESHOLD:
        gc.set_threshold(YOUNG_THRESHOLD, g1, g2)
