"""Which runs a reference names, said out loud: a label shared by the runs of two suites is refused.

A reference is a run id, ``latest``, a baseline label, or a run label. A label names the newest run
of each scribe carrying it (a suite with several scribes writes one run per scribe). When other,
older runs carry the label too — the same suite run again after its inputs changed — the newest
is used and a note says which. When the label's runs come from different suites (another suite
name or dataset), picking one would be a guess: :func:`resolve` refuses, listing them.
"""

from __future__ import annotations

from typing import Any

from ..errors import InputError

_LIST_FIX = "list runs with `evalkit runs` / baselines with `evalkit baseline list`"


def _when(rec: dict[str, Any]) -> str:
    return str(rec.get("created_at") or "")[:19]


def resolve(store: Any, ref: str) -> tuple[list[str], list[str]]:
    """``(run ids, notes)`` for a reference; notes say which run a shared label stood for.

    Args:
        store: the :class:`~evalkit.store.Store`.
        ref: run id, ``latest``, baseline label or run label.

    Raises:
        InputError: nothing carries the reference, or a label is shared by runs of different suites.
    """
    try:
        ids = store.runs_for_ref(ref)
    except KeyError:
        raise InputError(f"run {ref!r}", None, "no run with this id or label", _LIST_FIX) from None
    labelled = store.runs_with_label(ref) if ref != "latest" else []
    if not labelled or not set(ids) <= {r["run_id"] for r in labelled}:
        return ids, []  # a run id or a baseline label: one run, no guess
    suites = {(r["suite_name"], r["dataset"]) for r in labelled}
    if len(suites) > 1:
        listed = "; ".join(f"suite {name!r} on {dataset!r}: " + ", ".join(
            f"{r['run_id']} ({r['scribe']}, {_when(r)})" for r in labelled if (r["suite_name"], r["dataset"]) == (name, dataset))
            for name, dataset in sorted(suites, key=lambda s: (str(s[0]), str(s[1]))))
        raise InputError(f"run {ref!r}", None, f"label is shared by runs of {len(suites)} suites ({listed})",
                         "pass a run id instead, or give each suite's runs their own --label")
    notes = []
    for rid in ids:
        rec = next(r for r in labelled if r["run_id"] == rid)
        older = [r for r in labelled if r["scribe"] == rec["scribe"] and r["run_id"] != rid]
        if older:
            notes.append(f"label {ref!r} names {len(older) + 1} runs of {rec['scribe']} (suite {rec['suite_name']!r}, "
                         f"run again after its inputs changed); using the newest, {rid} ({_when(rec)}), not "
                         + ", ".join(r["run_id"] for r in older))
    return ids, notes


__all__ = ["resolve"]
