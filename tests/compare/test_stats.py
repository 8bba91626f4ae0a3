"""Paired bootstrap and McNemar: correctness, determinism, and honest coverage."""

from __future__ import annotations

import numpy as np
import pytest

from evalkit.compare.stats import bootstrap_counts, bootstrap_sums, mcnemar, paired_bootstrap, percentile_interval


def test_counts_are_multinomial_resamples():
    c = np.vstack(list(bootstrap_counts(7, n_resamples=20_001, seed=1, chunk_cells=1000)))
    assert c.shape == (20_001, 7)
    assert (c.sum(axis=1) == 7).all()  # each resample draws n cases
    assert np.allclose(c.mean(axis=0), 1.0, atol=0.03)
    assert np.allclose(c.var(axis=0), 6 / 7, atol=0.04)  # Multinomial(7, 1/7) variance


def test_bootstrap_is_seeded_and_chunking_does_not_matter():
    rng = np.random.default_rng(0)
    y = rng.normal(size=(50, 3))
    a = bootstrap_sums(y, n_resamples=500, seed=4)
    b = bootstrap_sums(y, n_resamples=500, seed=4)
    c = bootstrap_sums(y, n_resamples=500, seed=5)
    assert np.array_equal(a, b)
    assert not np.allclose(a, c)
    # sums of resampled rows: the mean over resamples approaches n * column mean
    assert np.allclose(a.mean(axis=0) / 50, y.mean(axis=0), atol=0.05)


def test_bootstrap_matches_a_naive_loop():
    rng = np.random.default_rng(1)
    d = rng.gamma(2.0, 0.05, size=80) - 0.05
    fast = paired_bootstrap(np.zeros(80), d, n_resamples=10_000, seed=3)
    naive_rng = np.random.default_rng(99)
    naive = np.array([d[naive_rng.integers(0, 80, 80)].mean() for _ in range(10_000)])
    lo, hi = np.quantile(naive, [0.025, 0.975])
    assert fast.delta == pytest.approx(d.mean())
    assert fast.lo == pytest.approx(lo, abs=0.004)
    assert fast.hi == pytest.approx(hi, abs=0.004)


def test_partition_sums_add_up_and_match_masked_columns():
    rng = np.random.default_rng(2)
    n = 300
    y = rng.normal(size=(n, 2))
    spec = rng.integers(0, 4, n)
    tmpl = rng.integers(0, 2, n)
    tot, (ps, pt) = bootstrap_sums(y, n_resamples=400, seed=7, partitions=[spec, tmpl])
    assert ps.shape == (400, 4, 2) and pt.shape == (400, 2, 2)
    assert np.allclose(ps.sum(axis=1), tot, atol=1e-3)
    assert np.allclose(pt.sum(axis=1), tot, atol=1e-3)
    # the same resamples as summing masked columns (same primary ordering → same counts)
    masked = np.hstack([y * (tmpl == 1)[:, None], y * (spec == 2)[:, None]])
    tot2, _ = bootstrap_sums(masked, n_resamples=400, seed=7, partitions=[spec, tmpl])
    assert np.allclose(tot2[:, :2], pt[:, 1], atol=1e-3)
    assert np.allclose(tot2[:, 2:], ps[:, 2], atol=1e-3)


def test_identical_and_shifted_runs():
    a = np.linspace(0.05, 0.4, 40)
    same = paired_bootstrap(a, a)
    assert (same.delta, same.lo, same.hi) == (0.0, 0.0, 0.0)
    assert not same.significant
    shifted = paired_bootstrap(a, a + 0.02)
    assert shifted.lo == pytest.approx(0.02) and shifted.hi == pytest.approx(0.02)
    assert shifted.significant


def test_missing_pairs_are_dropped():
    a = np.array([0.1, np.nan, 0.3, 0.2])
    b = np.array([0.2, 0.5, np.nan, 0.3])
    r = paired_bootstrap(a, b, n_resamples=2000)
    assert r.n == 2 and r.delta == pytest.approx(0.1)


def test_nan_in_bootstrap_columns_is_refused():
    with pytest.raises(ValueError, match="NaN"):
        bootstrap_sums(np.array([[1.0], [np.nan]]), n_resamples=10)


def test_percentile_interval_ignores_empty_group_resamples():
    s = np.array([[1.0], [np.nan], [3.0], [2.0]])
    lo, hi = percentile_interval(s, 0.5)
    assert 1.0 <= lo[0] < hi[0] <= 3.0


@pytest.mark.parametrize("only_a,only_b,both,neither", [(3, 9, 20, 68), (0, 7, 5, 10), (40, 22, 30, 108),
                                                        (12, 13, 0, 0)])
def test_mcnemar_matches_statsmodels(only_a, only_b, both, neither):
    from statsmodels.stats.contingency_tables import mcnemar as sm_mcnemar

    a = np.array([1] * both + [1] * only_a + [0] * only_b + [0] * neither)
    b = np.array([1] * both + [0] * only_a + [1] * only_b + [0] * neither)
    r = mcnemar(a, b)
    assert (r.both, r.only_a, r.only_b, r.neither) == (both, only_a, only_b, neither)
    table = [[both, only_a], [only_b, neither]]
    exact = only_a + only_b < 25
    ref = sm_mcnemar(table, exact=exact, correction=True)
    assert r.method == ("exact" if exact else "chi2")
    assert r.p_value == pytest.approx(ref.pvalue, rel=1e-9)


def test_mcnemar_without_discordant_pairs():
    r = mcnemar([1, 0, 1], [1, 0, 1])
    assert r.p_value == 1.0 and r.only_a == r.only_b == 0


@pytest.mark.slow
def test_bootstrap_interval_covers_the_true_delta_95_percent_of_the_time():
    """400 simulated paired comparisons with a known true mean delta (WER-like, skewed data):
    the 95% interval must cover it in 93–97% of them."""
    rng = np.random.default_rng(20240607)
    true_delta, n_cases, sims = 0.015, 100, 400
    covered = 0
    for i in range(sims):
        a = rng.beta(2, 10, n_cases)  # per-case WER of run A
        noise = rng.gamma(2.0, 0.02, n_cases) - 0.04  # skewed, mean 0
        b = a + true_delta + noise
        r = paired_bootstrap(a, b, n_resamples=10_000, seed=i)
        covered += r.lo <= true_delta <= r.hi
    rate = covered / sims
    assert 0.93 <= rate <= 0.97, rate
