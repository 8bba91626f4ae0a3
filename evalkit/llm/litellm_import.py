"""litellm imported once, quietly, for every model call and price lookup (see :func:`litellm_module`)."""

from __future__ import annotations

import logging
import os
from typing import Any

os.environ.setdefault("LITELLM_LOCAL_MODEL_COST_MAP", "True")  # never fetch price maps at import

__all__ = ["litellm_module"]

_LITELLM: Any = None


def litellm_module() -> Any:
    """Import litellm once, quietly: local price map, no debug banners, no prompts in its logs.

    litellm's import leaves ~350,000 long-lived objects (modules, classes, price tables) for the
    garbage collector to walk on every full collection; during a judge run that was most of the
    client's CPU time (``bench/bench_llm.py``). Right after the import they are moved to the
    permanent generation and the youngest generation's threshold is raised
    (:func:`evalkit.gcpolicy.batch_mode`): thousands of requests in flight keep many young objects
    alive, and collecting them every 700 allocations was ~20% of a judge run's CPU.
    """
    global _LITELLM
    if _LITELLM is None:
        import litellm

        from ..gcpolicy import batch_mode

        litellm.suppress_debug_info = True
        litellm.turn_off_message_logging = True  # prompts hold patient text
        logging.getLogger("LiteLLM").setLevel(logging.WARNING)
        batch_mode()
        _LITELLM = litellm
    return _LITELLM
