"""κ statistics (checked against statsmodels) and agreement from stored claim labels."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from statsmodels.stats.inter_rater import aggregate_raters, cohens_kappa, fleiss_kappa, to_table

from evalkit.review import agreement as ag
from evalkit.review import queue as review
from evalkit.review.auth import User

LABELS = ["supported", "unsupported", "contradicted"]


def _random_pair(seed: int, n: int = 60):
    rng = np.random.default_rng(seed)
    a = rng.choice(LABELS, n, p=[0.6, 0.3, 0.1]).tolist()
    b = [x if rng.random() < 0.7 else rng.choice(LABELS) for x in a]
    return a, b


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_cohen_kappa_matches_statsmodels(seed):
    a, b = _random_pair(seed)
    idx = {lab: i for i, lab in enumerate(LABELS)}
    table = np.zeros((3, 3))
    for x, y in zip(a, b):
        table[idx[x], idx[y]] += 1
    assert ag.cohen_kappa(a, b, LABELS) == pytest.approx(cohens_kappa(table).kappa, abs=1e-9)
    assert ag.cohen_kappa(a, b, LABELS, weights="linear") == pytest.approx(
        cohens_kappa(table, wt="linear").kappa, abs=1e-9)
    assert ag.cohen_kappa(a, b, LABELS, weights="quadratic") == pytest.approx(
        cohens_kappa(table, wt="quadratic").kappa, abs=1e-9)


def test_cohen_kappa_edge_cases():
    assert ag.cohen_kappa(["x"] * 5, ["x"] * 5) == 1.0
    assert ag.cohen_kappa(["a", "b", "a", "b"], ["b", "a", "b", "a"]) == pytest.approx(-1.0)
    assert np.isnan(ag.cohen_kappa([], []))
    with pytest.raises(ValueError):
        ag.cohen_kappa(["a"], ["a", "b"])
    with pytest.raises(ValueError):
        ag.cohen_kappa(["a"], ["z"], labels=["a"])


def test_fleiss_kappa_matches_statsmodels():
    rng = np.random.default_rng(3)
    ratings = [[rng.choice(LABELS, p=[0.5, 0.3, 0.2]) for _ in range(4)] for _ in range(40)]
    codes = np.array([[LABELS.index(x) for x in r] for r in ratings])
    expected = fleiss_kappa(aggregate_raters(codes)[0])
    assert ag.fleiss_kappa(ratings, LABELS) == pytest.approx(expected, abs=1e-9)
    assert ag.fleiss_kappa([["a", "a"], ["b", "b"]]) == 1.0
    assert np.isnan(ag.fleiss_kappa([["a"]]))  # single ratings are not counted
    assert to_table is not None


def _labels(store, sid, who, claim, verdict, sev=None):
    judge = "unsupported"
    review.label_claim(store, User(who, "clinician"), sid, claim, agree=(verdict == judge), judge_verdict=judge,
                       verdict=verdict, type="fabrication" if verdict != "supported" else None, severity=sev)


def test_agreement_from_stored_labels(demo):
    s, sid = demo["store"], demo["fabricated"]
    fab, contra = "assessment_and_plan.15#1", "history_of_present_illness.1#1"
    _labels(s, sid, "dr.ada", fab, "unsupported", "major")
    _labels(s, sid, "dr.bob", fab, "unsupported", "minor")
    _labels(s, sid, "dr.ada", contra, "unsupported", "minor")
    _labels(s, sid, "dr.bob", contra, "supported")
    _labels(s, sid, "dr.cy", contra, "supported")
    ann = s.annotation_frame(kinds=["claim_label"])
    t = ag.label_table(ann, "verdict")
    assert list(t.columns) == ["dr.ada", "dr.bob", "dr.cy"] and len(t) == 2
    assert t.loc[(sid, contra)].tolist() == ["unsupported", "supported", "supported"]
    assert t.loc[(sid, fab), "dr.cy"] is None
    pk = ag.pairwise_kappa(t, "verdict").set_index(["reviewer_a", "reviewer_b"])
    assert pk.loc[("dr.ada", "dr.bob"), "items"] == 2 and pk.loc[("dr.ada", "dr.bob"), "agreement"] == 0.5
    assert pk.loc[("dr.bob", "dr.cy"), "items"] == 1
    sev = ag.label_table(ann, "severity")
    assert sev.loc[(sid, contra), "dr.bob"] == "none"  # supported claims have no severity
    d = ag.disagreements(t)
    assert list(d.index) == [(sid, contra)] and "dr.ada: unsupported" in d.iloc[0]["labels"]
    jv = ag.judge_vs_clinician(t, s.claim_findings([sid])).set_index("reviewer")
    # the judge said unsupported (fab) and contradicted (contra)
    assert jv.loc["dr.ada", "items"] == 2 and jv.loc["dr.ada", "agreement"] == 0.5
    assert jv.loc["all clinicians", "items"] == 5
    summ = ag.agreement_summary(ann).set_index("label")
    assert summ.loc["verdict", "items"] == 2 and summ.loc["verdict", "disagreements"] == 1
    assert summ.loc["severity", "disagreements"] == 2
    expected = ag.fleiss_kappa([["unsupported", "unsupported"], ["unsupported", "supported", "supported"]])
    assert summ.loc["verdict", "fleiss_kappa"] == pytest.approx(expected)


def test_latest_label_wins_in_the_table():
    rows = [{"kind": "claim_label", "session_id": "s", "target": "c", "reviewer": "a",
             "payload": json.dumps({"verdict": v}), "created_at": pd.Timestamp(t, unit="s")}
            for v, t in (("supported", 2), ("contradicted", 1))]
    t = ag.label_table(pd.DataFrame(rows), "verdict")
    assert t.loc[("s", "c"), "a"] == "supported"
