"""Export a run's results (sessions, scores, findings, flags) as Parquet, CSV or a HF dataset.

- ``parquet`` / ``csv``: a folder with one file per table — ``run``, ``sessions``, ``scores``,
  ``findings``, ``flags`` — the same columns in both formats (JSON columns stay JSON text).
- ``hf``: a ``datasets.Dataset`` saved with ``save_to_disk``: one row per session with the
  note text, every metric as a ``score_<metric>`` column, the findings as a list of records and
  the flag rules that fired. ``datasets.load_from_disk(PATH)`` reads it back.

Exports hold transcript and note text (that is their point): treat the files as patient data.
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pandas as pd

from ..errors import InputError

FORMATS = ("parquet", "csv", "hf")
TABLES = ("run", "sessions", "scores", "findings", "flags")


def _note_text(output_json: Any) -> str | None:
    if not isinstance(output_json, str) or not output_json:
        return None
    from ..schema import ScribeOutput

    return ScribeOutput.model_validate_json(output_json).note.to_text()


def session_records(tables: dict[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per session: ids, status, note text, ``score_<metric>`` columns, findings, flags.

    Args:
        tables: the result of :meth:`evalkit.store.Store.export_tables`.
    """
    s = tables["sessions"].copy()
    s["note"] = [_note_text(o) for o in s["output"]] if "output" in s else None
    s = s.drop(columns=[c for c in ("output",) if c in s])
    sc = tables["scores"]
    if not sc.empty:
        wide = sc.pivot_table(index="session_id", columns="metric", values="value", aggfunc="first")
        wide.columns = [f"score_{c}" for c in wide.columns]
        s = s.merge(wide, left_on="session_id", right_index=True, how="left")
    f = tables["findings"]
    by_sess: dict[str, list[dict]] = {}
    for rec in f.to_dict("records"):
        rec = {k: (None if isinstance(v, float) and pd.isna(v) else v) for k, v in rec.items()}
        rec["evidence"] = json.loads(rec["evidence"]) if isinstance(rec.get("evidence"), str) else []
        by_sess.setdefault(rec["session_id"], []).append(
            {k: rec.get(k) for k in ("finding_id", "kind", "section", "sentence_id", "text", "verdict", "type",
                                     "severity", "category", "evidence", "rationale")})
    s["findings"] = [by_sess.get(sid, []) for sid in s["session_id"]]
    fl = tables["flags"].groupby("session_id")["rule"].apply(list).to_dict() if not tables["flags"].empty else {}
    s["flags"] = [fl.get(sid, []) for sid in s["session_id"]]
    for col in s.columns:  # Arrow-friendly: timestamps as ISO text
        if str(s[col].dtype).startswith("datetime"):
            s[col] = s[col].astype(str)
    return s


def export_run(store: Any, run_ref: str, fmt: str, out: str | Path, include_output: bool = True) -> dict[str, int]:
    """Write a run's results to ``out``; returns rows written per table.

    Args:
        store: an :class:`evalkit.store.Store`.
        run_ref: run id, label, baseline label or ``latest``.
        fmt: ``parquet``, ``csv`` or ``hf``.
        out: output folder (created; existing files of the same names are replaced).
        include_output: include transcripts and notes (``sessions.output`` / the ``note`` column).
    """
    if fmt not in FORMATS:
        raise InputError("--format", fmt, "unknown export format", f"use one of: {', '.join(FORMATS)}")
    try:
        tables = store.export_tables(run_ref, include_output=include_output)
    except KeyError:
        raise InputError("run", run_ref, "no run with that id or label", "list runs with `evalkit runs`") from None
    path = Path(out)
    if path.exists() and not path.is_dir():
        raise InputError(str(path), None, "exists and is not a folder", "give a folder path for --out")
    path.mkdir(parents=True, exist_ok=True)
    if fmt == "hf":
        import datasets

        recs = session_records(tables)
        ds = datasets.Dataset.from_pandas(recs, preserve_index=False)
        ds.info.description = f"evalkit run {tables['run']['run_id'].iloc[0]} results"
        ds.save_to_disk(str(path))
        return {"sessions": len(recs)}
    counts = {}
    for name in TABLES:
        df = tables[name]
        if fmt == "parquet":
            df.to_parquet(path / f"{name}.parquet", index=False)
        else:
            df.to_csv(path / f"{name}.csv", index=False)
        counts[name] = len(df)
    return counts
