"""Run-vs-run comparison: paired deltas with bootstrap intervals, McNemar for binary outcomes,
the worst-regressed cases, and breakdowns by specialty, template, scribe and note section.

Only cases present in both runs (same consultation id; same scribe too when both sides hold the
same several scribes) are paired; the others are listed. Every interval comes from one seeded
case bootstrap (:func:`evalkit.compare.stats.bootstrap_sums`), so the numbers are reproducible.

Typical use::

    from evalkit.compare.runs import compare_runs
    res = compare_runs(store, "prod", "candidate")
    res.regressions   # metrics significantly worse in the candidate
"""

from __future__ import annotations

import hashlib
from typing import Any

import numpy as np
import pandas as pd

from .data import RunSide, load_side, pair_sides, session_table
from .results import APP_URL, CompareResult, GroupDelta, MetricDelta, Verdict, WorstCase, session_url
from ..errors import InputError
from ..metrics.info import MetricInfo, info_or_default, sort_key
from .stats import (DEFAULT_CONFIDENCE, DEFAULT_RESAMPLES, bootstrap_p_value, bootstrap_sums, mcnemar,
                    percentile_interval)
from ..store import Store

BREAKDOWN_DIMENSIONS = ("specialty", "template", "scribe")
#: metrics the Markdown breakdowns always show (regressed ones are added; JSON has every metric)
HEADLINE_METRICS = ("wer", "medical_wer", "adherence", "hallucination_rate", "omission_rate",
                    "major_hallucination_rate")


# ---------------------------------------------------------------------------- comparison


class _Columns:
    """Columns of one bootstrap pass, de-duplicated by content (many presence masks are equal)."""

    def __init__(self, n: int):
        self.n = n
        self.index: dict[bytes, int] = {}
        self.data: list[np.ndarray] = []

    def add(self, values: np.ndarray) -> int:
        v = np.ascontiguousarray(values, dtype=np.float64)
        key = hashlib.blake2b(v.tobytes(), digest_size=16).digest()
        if key not in self.index:
            self.index[key] = len(self.data)
            self.data.append(v)
        return self.index[key]

    def matrix(self) -> np.ndarray:
        return np.column_stack(self.data) if self.data else np.zeros((self.n, 0))


def _verdict(info: MetricInfo, n: int, delta: float, lo: float, hi: float, p: float, binary: bool,
             alpha: float) -> Verdict:
    if n < 2 or info.direction is None or delta != delta:
        return "n/a"
    significant = (p < alpha) if binary else (lo > 0 or hi < 0)
    if not significant or delta == 0:
        return "no significant change"
    return "improved" if info.better(delta) else "regressed"


def compare_sides(a: RunSide, b: RunSide, *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                  confidence: float = DEFAULT_CONFIDENCE, metrics: list[str] | None = None,
                  breakdown_metrics: list[str] | None = None, worst: int = 10, worst_by: str | None = None,
                  app_url: str = APP_URL) -> CompareResult:
    """Compare two loaded sides. See :func:`compare_runs` for the arguments."""
    paired, only_a, only_b, by_scribe = pair_sides(a, b)
    n = len(paired)
    available = sorted(set(a.metrics) | set(b.metrics), key=sort_key)
    names = metrics or available
    missing = [m for m in names if m not in available]
    if missing:
        raise InputError("metrics", None, f"no scores for {', '.join(missing)} in either run",
                         f"use one of: {', '.join(available)}")
    if worst_by and worst_by not in available:
        raise InputError("--worst-by", None, f"no scores for {worst_by!r} in either run",
                         f"use one of: {', '.join(available)}")
    cols = _Columns(n)
    stats: dict[str, Any] = {}  # stat id → function of the (B, k) sums giving (B,) replicates

    def ratio(num: int, den: int):
        return lambda s: s[:, num] / s[:, den]

    per_metric: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]] = {}
    for m in names:
        va, vb = (paired[f"{m}_{x}"].to_numpy(dtype=np.float64) if f"{m}_{x}" in paired else np.full(n, np.nan)
                  for x in ("a", "b"))
        mask = ~(np.isnan(va) | np.isnan(vb))
        per_metric[m] = (va, vb, mask)
        stats[f"all|{m}"] = ratio(cols.add(np.where(mask, vb - va, 0.0)), cols.add(mask))
    dims = _partitions(paired)
    bmetrics = [m for m in (breakdown_metrics or names) if m in per_metric]
    sections = _section_arrays(a, b, paired)
    for sec, (ua, ca, ub, cb, ok) in sections.items():
        i = [cols.add(v) for v in (ua, ca, ub, cb)]
        iok = cols.add(ok)
        stats[f"section|{sec}|hallucination_rate"] = (
            lambda s, i=i: s[:, i[2]] / s[:, i[3]] - s[:, i[0]] / s[:, i[1]])
        stats[f"section|{sec}|claims_per_note"] = lambda s, i=i, iok=iok: (s[:, i[3]] - s[:, i[1]]) / s[:, iok]
    group_stats = {f"{dim}|{g}|{m}": (d, gi, stats[f"all|{m}"])
                   for d, (dim, _, names_g) in enumerate(dims) for gi, g in enumerate(names_g) for m in bmetrics}

    ci = _intervals(cols, stats, dims, group_stats, n_resamples, seed, confidence)
    alpha = 1.0 - confidence
    deltas: list[MetricDelta] = []
    for m in names:
        info = info_or_default(m)
        va, vb, mask = per_metric[m]
        k = int(mask.sum())
        mean_a = float(va[mask].mean()) if k else float("nan")
        mean_b = float(vb[mask].mean()) if k else float("nan")
        lo, hi, p = ci[f"all|{m}"] if k > 1 else (float("nan"),) * 3
        test, mc = "bootstrap", None
        if info.kind == "binary" and k:
            mc = mcnemar(va[mask], vb[mask])
            test, p = f"mcnemar-{mc.method}", mc.p_value
        verdict = _verdict(info, k, mean_b - mean_a, lo, hi, p, info.kind == "binary", alpha)
        deltas.append(MetricDelta(m, info.label, info.direction, info.kind, k, mean_a, mean_b, mean_b - mean_a,
                                  lo, hi, p, test, verdict, mc))
    breakdowns: list[GroupDelta] = []
    for dim, codes, names_g in dims:
        for gi, g in enumerate(names_g):
            gmask = codes == gi
            for m in bmetrics:
                va, vb, mask = per_metric[m]
                mm = mask & gmask
                k = int(mm.sum())
                if k:
                    lo, hi, _ = ci[f"{dim}|{g}|{m}"] if k > 1 else (float("nan"),) * 3
                    ma, mb = float(va[mm].mean()), float(vb[mm].mean())
                    breakdowns.append(GroupDelta(dim, g, m, k, ma, mb, mb - ma, lo, hi))
    for sec, (ua, ca, ub, cb, ok) in sections.items():
        k = int(ok.sum())
        with np.errstate(all="ignore"):
            ra, rb = ua.sum() / ca.sum(), ub.sum() / cb.sum()
        lo, hi, _ = ci[f"section|{sec}|hallucination_rate"] if k > 1 else (float("nan"),) * 3
        breakdowns.append(GroupDelta("section", sec, "hallucination_rate", k, float(ra), float(rb), float(rb - ra), lo, hi))
        lo, hi, _ = ci[f"section|{sec}|claims_per_note"] if k > 1 else (float("nan"),) * 3
        pa, pb = (ca.sum() / k, cb.sum() / k) if k else (float("nan"),) * 2
        breakdowns.append(GroupDelta("section", sec, "claims_per_note", k, float(pa), float(pb), float(pb - pa), lo, hi))
    worst_cases = worst_cases_of(paired, per_metric, worst, worst_by, app_url) if worst and n else []
    settings = {"n_resamples": n_resamples, "seed": seed, "confidence": confidence, "app_url": app_url,
                "paired_on": "scribe+consultation_id" if by_scribe else "consultation_id",
                "breakdown_metrics": bmetrics,
                "normalizers": {"A": a.normalizers or ["evalkit"], "B": b.normalizers or ["evalkit"]}}
    return CompareResult(a.ref, b.ref, a.run_ids, b.run_ids, len(a.sessions), len(b.sessions), n, only_a, only_b,
                         deltas, breakdowns, worst_cases, settings, notes=a.notes + b.notes)


def _partitions(paired: pd.DataFrame) -> list[tuple[str, np.ndarray, list[str]]]:
    """(dimension, group code per paired case, group names) for specialty, template and scribe."""
    out = []
    for dim in BREAKDOWN_DIMENSIONS:
        ga = paired[f"{dim}_a"].fillna("(unknown)").astype(str)
        gb = paired[f"{dim}_b"].fillna("(unknown)").astype(str)
        label = ga.where(ga == gb, ga + " → " + gb)
        names = sorted(set(label.tolist()))
        codes = pd.Categorical(label, categories=names).codes.astype(np.int64)
        out.append((dim, codes, names))
    return out


def _section_arrays(a: RunSide, b: RunSide, paired: pd.DataFrame) -> dict[str, tuple[np.ndarray, ...]]:
    """Per note section: (unsupported A, claims A, unsupported B, claims B, both-ok mask) per paired case."""
    if a.sections.empty or b.sections.empty or paired.empty:
        return {}
    ok = ((paired["status_a"] == "ok") & (paired["status_b"] == "ok")).to_numpy().astype(np.float64)
    piv = []
    for side, sids in ((a, paired["session_id_a"]), (b, paired["session_id_b"])):
        p = side.sections.pivot_table(index="session_id", columns="section", values=["claims", "unsupported"],
                                      aggfunc="sum", fill_value=0)
        piv.append((p, sids))
    out = {}
    for sec in sorted(set(a.sections["section"]) | set(b.sections["section"])):
        arrs = []
        for p, sids in piv:
            for what in ("unsupported", "claims"):
                v = p[(what, sec)].reindex(sids).fillna(0).to_numpy(dtype=np.float64) if (what, sec) in p else \
                    np.zeros(len(sids))
                arrs.append(v * ok)
        out[sec] = (*arrs, ok)
    return out


def _intervals(cols: _Columns, stats: dict[str, Any], dims: list, group_stats: dict[str, tuple], n_resamples: int,
               seed: int, confidence: float) -> dict[str, tuple[float, float, float]]:
    """Bootstrap every statistic, overall and per group, in one pass: stat id → (lo, hi, p)."""
    ids = list(stats) + list(group_stats)
    if cols.n == 0 or not ids:
        return {sid: (float("nan"),) * 3 for sid in ids}
    sums, part_sums = bootstrap_sums(cols.matrix(), n_resamples=n_resamples, seed=seed,
                                     partitions=[codes for _, codes, _ in dims])
    with np.errstate(all="ignore"):
        reps = np.column_stack([fn(sums) for fn in stats.values()]
                               + [fn(part_sums[d][:, g, :]) for d, g, fn in group_stats.values()])
    lo, hi = percentile_interval(reps, confidence)
    p = bootstrap_p_value(reps)
    return {sid: (float(lo[i]), float(hi[i]), float(p[i])) for i, sid in enumerate(ids)}


def worst_cases_of(paired: pd.DataFrame, per_metric: dict[str, tuple[np.ndarray, np.ndarray, np.ndarray]],
                   top: int = 10, worst_by: str | None = None, app_url: str = APP_URL) -> list[WorstCase]:
    """The paired cases that got most worse.

    With ``worst_by`` cases are ranked by that metric's worsening. Otherwise by a composite:
    each quality metric's worsening is divided by the metric's spread (std over both runs), the
    largest per family (ASR, structure, grounding, completeness, judge) is kept, and families are
    summed, so five correlated WER variants do not outvote one omission.

    Args:
        paired: output of :func:`pair_sides`.
        per_metric: metric → (values A, values B, both-present mask) aligned with ``paired``.
        top: how many cases to return.
        worst_by: rank by this metric only.
        app_url: base URL of the review app for the links.
    """
    n = len(paired)
    z: dict[str, np.ndarray] = {}
    for m, (va, vb, mask) in per_metric.items():
        info = info_or_default(m)
        if info.direction is None or (not worst_by and (info.kind == "binary" or info.family in ("ops", "review", "streaming"))):
            continue
        if worst_by and m != worst_by:
            continue
        with np.errstate(all="ignore"):
            spread = np.nanstd(np.concatenate([va[mask], vb[mask]])) if mask.any() else 0.0
        w = np.where(mask, info.worsening(1.0) * (vb - va), 0.0)
        z[m] = w if worst_by else (w / spread if spread > 0 else np.zeros(n))
    if not z:
        return []
    if worst_by:
        score = z[worst_by]
    else:
        fams: dict[str, np.ndarray] = {}
        for m, v in z.items():
            f = info_or_default(m).family
            fams[f] = np.maximum(fams[f], v) if f in fams else v
        score = np.sum([np.maximum(v, 0) for v in fams.values()], axis=0)
    order = [i for i in np.argsort(-score, kind="stable")[:top] if score[i] > 0]
    out = []
    for i in order:
        changes = sorted(((m, float(v[i])) for m, v in z.items() if v[i] > 0), key=lambda t: -t[1])[:4]
        row = paired.iloc[i]
        out.append(WorstCase(
            key=row["key"], consultation_id=row["consultation_id_a"],
            scribe=row["scribe_a"] if row["scribe_a"] == row["scribe_b"] else f"{row['scribe_a']} → {row['scribe_b']}",
            session_a=row["session_id_a"], session_b=row["session_id_b"],
            url_a=session_url(row["session_id_a"], app_url), url_b=session_url(row["session_id_b"], app_url),
            score=float(score[i]),
            changes=[{"metric": m, "a": float(per_metric[m][0][i]), "b": float(per_metric[m][1][i]),
                      "delta": float(per_metric[m][1][i] - per_metric[m][0][i])} for m, _ in changes]))
    return out


def compare_runs(store: Store, ref_a: str, ref_b: str, *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                 confidence: float = DEFAULT_CONFIDENCE, metrics: list[str] | None = None,
                 breakdown_metrics: list[str] | None = None, worst: int = 10, worst_by: str | None = None,
                 app_url: str = APP_URL, allow_incomplete: bool = False) -> CompareResult:
    """Compare run B against run A on the cases both ran (delta = B − A).

    Both runs must be complete (finished, no case missing): a comparison of a run killed part-way
    raises an InputError saying how many cases are missing, unless ``allow_incomplete``.

    Args:
        store: the store holding both runs.
        ref_a: the reference run (baseline): run id, label, baseline label or ``latest``.
        ref_b: the candidate run.
        n_resamples: bootstrap resamples (>= 10,000 recommended).
        seed: bootstrap seed (same inputs + seed → same intervals).
        confidence: interval coverage and 1 − significance level.
        metrics: restrict to these metrics (default: every metric either run has).
        breakdown_metrics: metrics broken down by specialty/template/scribe (default: headline metrics).
        worst: how many worst-regressed cases to list.
        worst_by: rank worst cases by this metric instead of the composite.
        app_url: base URL of the review app, for links to sessions.
        allow_incomplete: compare runs that are still running or miss cases (``notes`` say so).
    """
    how = "pass --allow-incomplete"
    a = load_side(store, ref_a, allow_incomplete=allow_incomplete, how_to_allow=how)
    b = load_side(store, ref_b, allow_incomplete=allow_incomplete, how_to_allow=how)
    return compare_sides(a, b, n_resamples=n_resamples, seed=seed, confidence=confidence, metrics=metrics,
                         breakdown_metrics=breakdown_metrics, worst=worst, worst_by=worst_by, app_url=app_url)


__all__ = ["APP_URL", "BREAKDOWN_DIMENSIONS", "CompareResult", "GroupDelta", "HEADLINE_METRICS", "MetricDelta",
           "RunSide", "WorstCase", "compare_runs", "compare_sides", "load_side", "pair_sides", "session_table",
           "session_url", "worst_cases_of"]
