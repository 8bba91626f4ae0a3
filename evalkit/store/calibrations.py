"""Judge calibration results, appended and listed."""

from __future__ import annotations

import json
import uuid

import pandas as pd

from ..schema import utcnow
from .connection import StoreBase
from .rows import _j

__all__ = ["CalibrationsMixin"]


class CalibrationsMixin(StoreBase):
    """Judge calibration results, appended and listed."""

    def put_calibration(self, judge: str, judge_version: str, dataset: str, result: dict) -> str:
        """Store one calibration result (appended); returns its id."""
        cid = uuid.uuid4().hex[:12]
        with self.connect() as con:
            con.execute("INSERT INTO calibrations VALUES (?,?,?,?,?,?)",
                        [cid, judge, judge_version, dataset, _j(result), utcnow()])
        return cid

    def calibrations(self, judge: str | None = None) -> pd.DataFrame:
        """Stored calibrations, newest first (``result`` parsed back to a dict)."""
        where, args = ("WHERE judge = ?", [judge]) if judge else ("", [])
        with self.connect() as con:
            df = con.execute(f"SELECT id, judge, judge_version, dataset, result, created_at FROM calibrations "
                             f"{where} ORDER BY created_at DESC", args).df()
        df["result"] = [json.loads(r) if r else {} for r in df["result"]]
        return df
