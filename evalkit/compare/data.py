"""Loading runs for comparison: one row per session with a column per metric, and pairing.

A *side* is what a run reference names (a run id, a label, a baseline label or ``latest``):
one run, or one run per scribe when a label covers several.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from ..errors import InputError
from ..metrics.info import sort_key
from ..store import Store

_META = ["run_id", "session_id", "consultation_id", "scribe", "status", "specialty", "template", "flagged"]


@dataclass
class RunSide:
    """One side of a comparison: the reference given, its run ids, one row per session."""

    ref: str
    run_ids: list[str]
    sessions: pd.DataFrame  # _META columns + one float column per metric (NaN when missing)
    sections: pd.DataFrame  # session_id, section, claims, unsupported
    metrics: list[str]
    notes: list[str] = field(default_factory=list)  # which run a shared label stood for; incomplete runs allowed
    normalizers: list[str] = field(default_factory=list)  # the WER normalisers its runs were scored with


def session_table(sess: pd.DataFrame, scores: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
    """One row per session with a float column per metric (stored scores + derived outcomes).

    Args:
        sess: sessions as :meth:`Store.compare_frames` returns them.
        scores: the long score table (session_id, metric, value).

    Returns:
        ``(table, metric_names)``.
    """
    if not scores.empty:
        scores = scores.drop_duplicates(["session_id", "metric"], keep="last")
        wide = scores.pivot(index="session_id", columns="metric", values="value").astype("float64")
        wide.columns.name = None
    else:
        wide = pd.DataFrame(index=pd.Index([], name="session_id"))
    ops = sess[["session_id", "latency_s", "cost_usd"]].set_index("session_id")
    table = sess[_META].set_index("session_id").join(wide, how="left")
    for col in ("latency_s", "cost_usd"):  # from the session record when not stored as a score
        if col not in table or table[col].isna().all():
            vals = pd.to_numeric(ops[col], errors="coerce").astype("float64")
            if vals.notna().any():
                table[col] = vals
    failed = (table["status"] == "failed").to_numpy()
    table["failure_rate"] = failed.astype("float64")
    table["flagged_rate"] = table["flagged"].fillna(False).astype("float64")
    for derived, src in (("major_hallucination_rate", "major_hallucinations"), ("major_omission_rate", "major_omissions")):
        if src in table:
            table[derived] = np.where(table[src].isna(), np.nan, (table[src] > 0).astype("float64"))
    table = table.reset_index()
    metrics = sorted([c for c in table.columns if c not in _META], key=sort_key)
    return table, metrics


def load_side(store: Store, ref: str, *, allow_incomplete: bool = True, how_to_allow: str = "") -> RunSide:
    """Resolve a run reference (id, label, baseline label, ``latest``) and load its sessions.

    Args:
        store: the store.
        ref: the reference.
        allow_incomplete: accept a run that is still ``running`` or misses cases (a note says so);
            otherwise raise an InputError saying how many cases are missing.
        how_to_allow: how the user accepts an incomplete run anyway, for that error's fix.

    Raises:
        InputError: unknown reference, a label shared by runs of different suites, or an
            incomplete run not allowed.
    """
    from .completeness import require_complete
    from .refs import resolve

    run_ids, notes = resolve(store, ref)
    notes += require_complete(store, run_ids, ref, allow=allow_incomplete, how_to_allow=how_to_allow)
    sess, scores, sections = store.compare_frames(run_ids)
    table, metrics = session_table(sess, scores)
    from ..text.normalizers import run_normalizer

    norms = sorted({run_normalizer(store.get_run(r)) for r in run_ids})
    return RunSide(ref, run_ids, table, sections, metrics, notes, norms)


def pair_sides(a: RunSide, b: RunSide) -> tuple[pd.DataFrame, list[str], list[str], bool]:
    """Join the two sides' sessions on the case key.

    The key is the consultation id, or scribe + consultation id when both sides hold the same
    set of several scribes (a label naming one run per scribe).

    Returns:
        ``(paired, only_in_a, only_in_b, by_scribe)``; paired columns carry ``_a``/``_b`` suffixes.
    """
    sa, sb = set(a.sessions["scribe"].tolist()), set(b.sessions["scribe"].tolist())
    by_scribe = sa == sb and len(sa) > 1
    frames = []
    for side in (a, b):
        t = side.sessions.copy()
        t["key"] = (t["scribe"] + "/" + t["consultation_id"]) if by_scribe else t["consultation_id"]
        if t["key"].duplicated().any():
            scribes = ", ".join(sorted(set(t["scribe"].tolist())))
            raise InputError(f"run {side.ref!r}", None,
                             f"names {len(side.run_ids)} runs ({scribes}) holding the same consultations, so cases "
                             "cannot be paired", "compare one run id per side (list them with `evalkit runs`)")
        frames.append(t)
    ta, tb = frames
    paired = ta.merge(tb, on="key", how="inner", suffixes=("_a", "_b")).sort_values("key", kind="stable")
    ka, kb = set(ta["key"].tolist()), set(tb["key"].tolist())
    only_a, only_b = sorted(ka - kb), sorted(kb - ka)
    return paired.reset_index(drop=True), only_a, only_b, by_scribe



__all__ = ["RunSide", "load_side", "pair_sides", "session_table"]
