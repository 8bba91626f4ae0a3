"""The DuckDB store: the only package in evalkit that speaks SQL.

One file holds everything: consultations, runs, sessions (one scribe output each), scores,
judge findings, flags, annotations, users, caches and baselines. :class:`Store` is made of one
module per table family (:mod:`.runs`, :mod:`.results`, :mod:`.review`, :mod:`.users`,
:mod:`.llm_cache`, :mod:`.batches`, :mod:`.calibrations`) over one connection (:mod:`.connection`:
opened per call, waiting and retrying while another process holds the file) and the schema with its
migrations (:mod:`.migrations`).
"""

from __future__ import annotations

from .batches import BatchesMixin
from .calibrations import CalibrationsMixin
from .connection import StoreBase, StoreBusy, _KeepOpen
from .llm_cache import LLMCacheMixin
from .migrations import SCHEMA_VERSION
from .results import ResultsMixin
from .review import ReviewMixin
from .rows import FINDING_COLS, FLAG_COLS, SCORE_COLS, SESSION_COLS, SEVERITY_COLS, RawJSON, SessionResult, SessionRows
from .runs import RunsMixin
from .users import UsersMixin

__all__ = ["FINDING_COLS", "FLAG_COLS", "SCHEMA_VERSION", "SCORE_COLS", "SESSION_COLS", "SEVERITY_COLS", "RawJSON",
           "SessionResult", "SessionRows", "Store", "StoreBusy", "_KeepOpen"]


class Store(RunsMixin, ResultsMixin, ReviewMixin, UsersMixin, BatchesMixin, LLMCacheMixin, CalibrationsMixin,
            StoreBase):
    """A DuckDB file. Cheap to construct; opens the file only inside each call.

    Args:
        path: the database file (created with its schema on first use).
        busy_timeout: seconds to keep retrying while another process holds the file.
        on_busy: called with a one-line message each time the store waits for the lock.
        keep_open: seconds to keep the file open in this process after a call (0 = close after
            each call). Saves the ~30 ms open of every call in a busy reader (the review app); the
            file stays locked against other processes meanwhile, for at most 10 s at a stretch.
    """
