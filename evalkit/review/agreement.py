"""Inter-rater agreement: Cohen's κ (plain and weighted), Fleiss' κ, judge-vs-clinician.

Pure functions over label lists, plus helpers that turn stored ``claim_label`` annotations into
an item × reviewer table (item = session id + claim id; the latest label of each reviewer
counts). Labels compared: ``verdict`` (supported / unsupported / contradicted), ``type``
(CREOLA: fabrication / negation / causality / contextual, "none" for supported claims),
``severity`` (major / minor, "none" for supported) and ``agree`` (agrees with the judge).

``blind_only=True`` keeps only labels made blind — without any other reviewer's label on the claim
in view (:mod:`evalkit.review.blinding`; the payload's ``blind``) — the labels κ should be computed on.
Labels saved before blind labelling was recorded carry no ``blind`` and count as not blind.
"""

from __future__ import annotations

import json
from itertools import combinations
from typing import Hashable, Sequence

import numpy as np
import pandas as pd

LABEL_FIELDS = ("verdict", "type", "severity", "agree")
ORDINAL = {"verdict": ("supported", "unsupported", "contradicted"), "severity": ("none", "minor", "major")}


def percent_agreement(a: Sequence[Hashable], b: Sequence[Hashable]) -> float:
    if len(a) != len(b):
        raise ValueError("both raters must label the same items")
    return float(np.mean([x == y for x, y in zip(a, b)])) if a else float("nan")


def cohen_kappa(a: Sequence[Hashable], b: Sequence[Hashable], labels: Sequence[Hashable] | None = None,
                weights: str | None = None) -> float:
    """Cohen's κ between two raters over the same items.

    Args:
        a, b: one label per item from each rater.
        labels: the label set, in order (needed for weighted κ on ordinal labels).
        weights: None (nominal), "linear" or "quadratic" (ordinal disagreement weights).

    Returns:
        κ in [-1, 1]; 1.0 when both raters use one identical label throughout; nan with no items.
    """
    if len(a) != len(b):
        raise ValueError("both raters must label the same items")
    if not a:
        return float("nan")
    labels = list(labels) if labels is not None else sorted(set(a) | set(b), key=str)
    idx = {lab: i for i, lab in enumerate(labels)}
    missing = (set(a) | set(b)) - set(idx)
    if missing:
        raise ValueError(f"labels not in the label set: {sorted(map(str, missing))}")
    k = len(labels)
    m = np.zeros((k, k))
    for x, y in zip(a, b):
        m[idx[x], idx[y]] += 1
    m /= m.sum()
    expected = np.outer(m.sum(axis=1), m.sum(axis=0))
    if weights is None:
        w = 1.0 - np.eye(k)
    else:
        d = np.abs(np.subtract.outer(np.arange(k), np.arange(k))) / max(k - 1, 1)
        if weights == "linear":
            w = d
        elif weights == "quadratic":
            w = d ** 2
        else:
            raise ValueError("weights must be None, 'linear' or 'quadratic'")
    denom = float((w * expected).sum())
    if denom == 0:
        return 1.0 if float((w * m).sum()) == 0 else 0.0
    return float(1.0 - (w * m).sum() / denom)


def fleiss_kappa(ratings: Sequence[Sequence[Hashable]], labels: Sequence[Hashable] | None = None) -> float:
    """Fleiss' κ for many raters; items may have different numbers of ratings (≥ 2 counted).

    Args:
        ratings: for each item, the labels it received (one per rater).
        labels: the label set (default: every label seen).

    With the same number of raters per item this is Fleiss (1971) exactly; otherwise each item's
    agreement uses its own rater count and category shares are pooled over all ratings.
    """
    items = [list(r) for r in ratings if len(r) >= 2]
    if not items:
        return float("nan")
    labels = list(labels) if labels is not None else sorted({x for r in items for x in r}, key=str)
    idx = {lab: i for i, lab in enumerate(labels)}
    counts = np.zeros((len(items), len(labels)))
    for i, r in enumerate(items):
        for x in r:
            counts[i, idx[x]] += 1
    n_i = counts.sum(axis=1)
    p_i = ((counts ** 2).sum(axis=1) - n_i) / (n_i * (n_i - 1))
    p_bar = p_i.mean()
    p_j = counts.sum(axis=0) / counts.sum()
    p_e = float((p_j ** 2).sum())
    if p_e == 1.0:
        return 1.0 if p_bar == 1.0 else 0.0
    return float((p_bar - p_e) / (1 - p_e))


# ------------------------------------------------------------------------- from annotations


def _norm(field: str, p: dict) -> str | None:
    if field == "agree":
        v = p.get("agree")
        return None if v is None else ("agree" if v else "disagree")
    if field in ("type", "severity"):
        if p.get("verdict") == "supported":
            return "none"
        return p.get(field)
    return p.get(field)


def _payload(p) -> dict:
    return json.loads(p) if isinstance(p, str) else (p or {})


def blind_counts(annotations: pd.DataFrame) -> dict[str, int]:
    """How many ``claim_label`` annotations were made blind, and how many not."""
    if annotations is None or annotations.empty:
        return {"blind": 0, "not_blind": 0}
    df = annotations[annotations["kind"] == "claim_label"] if "kind" in annotations else annotations
    blind = sum(_payload(p).get("blind") is True for p in df["payload"])
    return {"blind": int(blind), "not_blind": int(len(df) - blind)}


def label_table(annotations: pd.DataFrame, field: str = "verdict", blind_only: bool = False) -> pd.DataFrame:
    """Item × reviewer table of one label from ``claim_label`` annotations (latest label wins).

    Args:
        annotations: rows with session_id, target, reviewer, payload (JSON text or dict), created_at
            — as returned by :meth:`Store.annotation_frame`.
        field: one of :data:`LABEL_FIELDS`.
        blind_only: only labels made blind count (each reviewer's latest blind label).

    Returns:
        Index (session_id, claim_id); one column per reviewer; missing labels are None.
    """
    if field not in LABEL_FIELDS:
        raise ValueError(f"field must be one of {LABEL_FIELDS}")
    if annotations is None or annotations.empty:
        return pd.DataFrame()
    df = annotations[annotations["kind"] == "claim_label"] if "kind" in annotations else annotations
    df = df.sort_values("created_at")
    rows: dict[tuple[str, str], dict[str, str | None]] = {}
    for r in df.itertuples():
        p = _payload(r.payload)
        if blind_only and p.get("blind") is not True:
            continue
        rows.setdefault((r.session_id, r.target), {})[r.reviewer] = _norm(field, p)
    if not rows:
        return pd.DataFrame()
    t = pd.DataFrame.from_dict(rows, orient="index")
    t.index = pd.MultiIndex.from_tuples(t.index, names=["session_id", "claim_id"])
    return t.astype(object).where(t.notna(), None).sort_index(axis=1)


def pairwise_kappa(table: pd.DataFrame, field: str = "verdict") -> pd.DataFrame:
    """Cohen's κ (weighted for ordinal labels) for every reviewer pair over the items both labelled."""
    out = []
    for ra, rb in combinations(list(table.columns), 2):
        both = table[[ra, rb]].dropna()
        a, b = both[ra].tolist(), both[rb].tolist()
        labels = ORDINAL.get(field) if set(a + b) <= set(ORDINAL.get(field, ())) else None
        out.append({"reviewer_a": ra, "reviewer_b": rb, "items": len(a),
                    "agreement": percent_agreement(a, b) if a else float("nan"),
                    "kappa": cohen_kappa(a, b) if a else float("nan"),
                    "weighted_kappa": (cohen_kappa(a, b, labels, weights="linear") if a and labels
                                       else float("nan"))})
    return pd.DataFrame(out, columns=["reviewer_a", "reviewer_b", "items", "agreement", "kappa",
                                      "weighted_kappa"])


def table_fleiss(table: pd.DataFrame) -> float:
    """Fleiss' κ over the items of an item × reviewer table labelled by two or more reviewers."""
    return fleiss_kappa([[v for v in row if v is not None] for row in table.itertuples(index=False)])


def disagreements(table: pd.DataFrame) -> pd.DataFrame:
    """Items where the reviewers' labels differ (a column per reviewer plus ``labels`` summary)."""
    if table.empty:
        return table
    mask = table.apply(lambda r: len({v for v in r if v is not None}) > 1, axis=1)
    d = table[mask].copy()
    d["labels"] = d.apply(lambda r: ", ".join(f"{k}: {v}" for k, v in r.items() if v is not None), axis=1)
    return d


def judge_vs_clinician(table: pd.DataFrame, judge: pd.DataFrame) -> pd.DataFrame:
    """Agreement of each clinician's verdict with the judge's, per reviewer and overall.

    Args:
        table: :func:`label_table` for ``verdict``.
        judge: the judge's claims (session_id, finding_id, verdict) — :meth:`Store.claim_findings`.
    """
    cols = ["reviewer", "items", "agreement", "kappa"]
    if table.empty or judge.empty:
        return pd.DataFrame(columns=cols)
    jv = {(r.session_id, r.finding_id): r.verdict for r in judge.itertuples()}
    out, all_a, all_b = [], [], []
    for reviewer in table.columns:
        pairs = [(jv[k], v) for k, v in table[reviewer].items() if v is not None and k in jv]
        a, b = [p[0] for p in pairs], [p[1] for p in pairs]
        all_a += a
        all_b += b
        out.append({"reviewer": reviewer, "items": len(a),
                    "agreement": percent_agreement(a, b) if a else float("nan"),
                    "kappa": cohen_kappa(a, b) if a else float("nan")})
    out.append({"reviewer": "all clinicians", "items": len(all_a),
                "agreement": percent_agreement(all_a, all_b) if all_a else float("nan"),
                "kappa": cohen_kappa(all_a, all_b) if all_a else float("nan")})
    return pd.DataFrame(out, columns=cols)


def agreement_summary(annotations: pd.DataFrame, blind_only: bool = False) -> pd.DataFrame:
    """Per label field: items labelled by ≥ 2 reviewers, Fleiss' κ, and the number of disagreements."""
    out = []
    for f in LABEL_FIELDS:
        t = label_table(annotations, f, blind_only=blind_only)
        multi = t[t.notna().sum(axis=1) >= 2] if not t.empty else t
        out.append({"label": f, "items": len(multi), "fleiss_kappa": table_fleiss(multi) if len(multi) else
                    float("nan"), "disagreements": len(disagreements(multi)) if len(multi) else 0})
    return pd.DataFrame(out)


__all__ = ["LABEL_FIELDS", "agreement_summary", "blind_counts", "cohen_kappa", "disagreements", "fleiss_kappa",
           "judge_vs_clinician", "label_table", "pairwise_kappa", "percent_agreement", "table_fleiss"]
