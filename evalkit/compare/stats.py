"""Paired statistics for run-vs-run comparison: a vectorised case bootstrap and McNemar's test.

The bootstrap resamples *cases* (rows) with replacement. Every statistic evalkit reports is a
function of column sums over the resampled cases (a mean of paired deltas is
``sum(delta * present) / sum(present)``; a per-section rate is ``sum(unsupported) / sum(claims)``),
so one resample matrix serves every metric and every breakdown at once: the resample counts
(``B × n``) are multiplied by the column matrix (``n × k``) in chunks, which costs one matrix
product instead of ``B × k`` Python-level means.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Iterator, Sequence

import numpy as np

DEFAULT_RESAMPLES = 10_000
DEFAULT_CONFIDENCE = 0.95
#: below this many discordant pairs McNemar uses the exact binomial test
EXACT_MCNEMAR_BELOW = 25


def bootstrap_counts(n: int, *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                     chunk_cells: int = 2_000_000) -> Iterator[np.ndarray]:
    """Case-resample counts, in chunks: each row says how often each of ``n`` cases was drawn.

    Args:
        n: number of cases.
        n_resamples: total rows over all chunks.
        seed: seed for numpy's ``default_rng`` (same seed → same counts).
        chunk_cells: cells per chunk (memory is ~12 bytes × this).

    Yields:
        ``(rows, n)`` float32 arrays whose rows each sum to ``n``.
    """
    bits = np.random.default_rng(seed).bit_generator
    rows = max(1, min(n_resamples, chunk_cells // max(n, 1)))
    offsets = (np.arange(rows, dtype=np.uint64) * np.uint64(n))[:, None]
    n64, low32, shift = np.uint64(n), np.uint64(0xFFFFFFFF), np.uint64(32)
    for start in range(0, n_resamples, rows):
        r = min(rows, n_resamples - start)
        cells = r * n
        half = (cells + 1) // 2
        # two uniform 32-bit draws per raw 64-bit word, mapped to 0..n-1 by multiply-shift
        # (Lemire's method without the rejection step: bias below n / 2**32, ~2e-6 at n = 10,000)
        raw = bits.random_raw(half)
        idx = np.empty(2 * half, dtype=np.uint64)
        np.bitwise_and(raw, low32, out=idx[:half])
        np.right_shift(raw, shift, out=idx[half:])
        idx = idx[:cells]
        idx *= n64
        idx >>= shift
        idx = idx.reshape(r, n)
        idx += offsets[:r]
        yield np.bincount(idx.ravel().view(np.int64), minlength=cells).reshape(r, n).astype(np.float32)


def bootstrap_sums(columns: np.ndarray, *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                   partitions: Sequence[np.ndarray] = (),
                   chunk_cells: int = 2_000_000) -> np.ndarray | tuple[np.ndarray, list[np.ndarray]]:
    """Column sums of ``columns`` over ``n_resamples`` case bootstrap resamples.

    Args:
        columns: ``(n_cases, k)`` array; NaN is not allowed (multiply by a presence mask first).
        n_resamples: number of bootstrap resamples ``B``.
        seed: seed for numpy's ``default_rng``; the same inputs and seed give the same output.
        partitions: optional integer label arrays (``(n_cases,)``, values ``0..G-1``), e.g. the
            specialty of each case. For each, the sums are also returned per group, from the
            same resamples (one matrix product per partition, not per group).
        chunk_cells: resample-count cells generated at a time (bounds memory).

    Returns:
        ``(B, k)`` float64 sums; with ``partitions`` a tuple ``(sums, [(B, G, k) per partition])``.
    """
    y = np.asarray(columns, dtype=np.float64)
    if y.ndim == 1:
        y = y[:, None]
    n, k = y.shape
    parts = [np.asarray(p, dtype=np.int64) for p in partitions]
    sizes = [int(p.max()) + 1 if p.size else 0 for p in parts]
    out = np.zeros((n_resamples, k), dtype=np.float64)
    part_out = [np.zeros((n_resamples, g, k)) for g in sizes]
    if n == 0 or k == 0:
        return (out, part_out) if partitions else out
    if np.isnan(y).any():
        raise ValueError("bootstrap_sums: columns contain NaN; mask missing values first")
    # Cases are exchangeable under resampling, so they may be reordered: sorting by the
    # partition with most groups makes each of its groups a contiguous slice (a cheap product
    # on a view). Other partitions get masked copies of the columns for all groups but the
    # largest, whose sums are the total minus the others.
    primary = int(np.argmax(sizes)) if parts else -1
    if parts:
        order = np.argsort(parts[primary], kind="stable")
        y = y[order]
        parts = [p[order] for p in parts]
    # float32 halves the product's cost: counts are small integers (exact in float32), each
    # column is scaled to max |value| 1 so 0/1 masks stay exact, and the sums only feed
    # interval end points.
    scale = np.abs(y).max(axis=0)
    scale[scale == 0] = 1.0
    yf = (y / scale).astype(np.float32)
    blocks, rest = [yf], []  # rest: (partition, largest group, [(group, column offset)])
    for d, p in enumerate(parts):
        if d == primary or sizes[d] <= 1:
            continue
        largest = int(np.argmax(np.bincount(p, minlength=sizes[d])))
        offs = []
        for g in range(sizes[d]):
            if g != largest:
                offs.append((g, k * len(blocks)))
                blocks.append(yf * (p == g)[:, None].astype(np.float32))
        rest.append((d, largest, offs))
    yall = np.ascontiguousarray(np.hstack(blocks)) if len(blocks) > 1 else yf
    bounds = np.searchsorted(parts[primary], np.arange(sizes[primary] + 1)) if parts else None
    start = 0
    for counts in bootstrap_counts(n, n_resamples=n_resamples, seed=seed, chunk_cells=chunk_cells):
        r = counts.shape[0]
        rows = slice(start, start + r)
        prod = counts @ yall
        out[rows] = prod[:, :k]
        for d, largest, offs in rest:
            po = part_out[d]
            for g, off in offs:
                po[rows, g] = prod[:, off:off + k]
            po[rows, largest] = out[rows] - po[rows].sum(axis=1)  # the largest group: zeros until now
        for d, size in enumerate(sizes):
            if size == 1:
                part_out[d][rows, 0] = out[rows]
        if bounds is not None and sizes[primary] > 1:
            po = part_out[primary]
            for g in range(sizes[primary]):
                lo, hi = bounds[g], bounds[g + 1]
                if hi > lo:
                    po[rows, g] = counts[:, lo:hi] @ yf[lo:hi]
        start += r
    out *= scale
    for po in part_out:
        po *= scale
    return (out, part_out) if partitions else out


def percentile_interval(samples: np.ndarray, confidence: float = DEFAULT_CONFIDENCE) -> tuple[np.ndarray, np.ndarray]:
    """Percentile bootstrap interval per column (NaN resamples, e.g. an empty group, ignored).

    Args:
        samples: ``(B, k)`` bootstrap replicates of ``k`` statistics.
        confidence: coverage of the two-sided interval, e.g. 0.95.
    """
    alpha = (1.0 - confidence) / 2.0
    s = np.asarray(samples, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    nan = np.isnan(s)
    if not nan.any():
        with np.errstate(all="ignore"):
            lo, hi = np.quantile(s, [alpha, 1.0 - alpha], axis=0)
        return lo, hi
    # a statistic with no finite replicate (a metric neither run has for a group) has no interval:
    # NaN, without asking numpy for the quantile of an all-NaN column (which warns "All-NaN slice")
    lo, hi = np.full(s.shape[1], np.nan), np.full(s.shape[1], np.nan)
    some = ~nan.all(axis=0)
    if some.any():
        with np.errstate(all="ignore"):
            lo[some], hi[some] = np.nanquantile(s[:, some], [alpha, 1.0 - alpha], axis=0)
    return lo, hi


def bootstrap_p_value(samples: np.ndarray) -> np.ndarray:
    """Two-sided bootstrap p-value for "the statistic is 0": twice the smaller tail mass at 0.

    Args:
        samples: ``(B, k)`` bootstrap replicates.
    """
    s = np.asarray(samples, dtype=np.float64)
    if s.ndim == 1:
        s = s[:, None]
    valid = ~np.isnan(s)
    n = np.maximum(valid.sum(axis=0), 1)
    le = ((s <= 0) & valid).sum(axis=0) / n
    ge = ((s >= 0) & valid).sum(axis=0) / n
    return np.minimum(1.0, 2.0 * np.minimum(le, ge))


@dataclass(frozen=True)
class BootstrapResult:
    """Mean paired delta ``b - a`` with its percentile bootstrap interval."""

    n: int
    mean_a: float
    mean_b: float
    delta: float
    lo: float
    hi: float
    p_value: float
    confidence: float
    n_resamples: int

    @property
    def significant(self) -> bool:
        """True when the interval excludes 0."""
        return self.n > 1 and (self.lo > 0 or self.hi < 0)


def paired_bootstrap(a, b, *, n_resamples: int = DEFAULT_RESAMPLES, seed: int = 0,
                     confidence: float = DEFAULT_CONFIDENCE) -> BootstrapResult:
    """Paired bootstrap interval for the mean of ``b - a`` over cases.

    Pairs where either value is NaN are dropped.

    Args:
        a: per-case values of run A.
        b: per-case values of run B, aligned with ``a``.
        n_resamples: bootstrap resamples (10,000 by default).
        seed: random seed.
        confidence: interval coverage.
    """
    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    if a.shape != b.shape:
        raise ValueError(f"paired_bootstrap: a and b differ in shape {a.shape} vs {b.shape}")
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep], b[keep]
    n = int(a.size)
    if n == 0:
        nan = float("nan")
        return BootstrapResult(0, nan, nan, nan, nan, nan, nan, confidence, n_resamples)
    d = b - a
    sums = bootstrap_sums(d, n_resamples=n_resamples, seed=seed)[:, 0] / n
    lo, hi = percentile_interval(sums, confidence)
    return BootstrapResult(n, float(a.mean()), float(b.mean()), float(d.mean()), float(lo[0]), float(hi[0]),
                           float(bootstrap_p_value(sums)[0]), confidence, n_resamples)


@dataclass(frozen=True)
class McNemarResult:
    """McNemar's test on paired binary outcomes.

    ``only_a``: cases where the outcome holds in A but not in B; ``only_b`` the reverse.
    """

    n: int
    both: int
    only_a: int
    only_b: int
    neither: int
    statistic: float
    p_value: float
    method: str  # "exact" (binomial) or "chi2" (with continuity correction)


def mcnemar(a, b, *, exact: bool | None = None) -> McNemarResult:
    """McNemar's test for paired binary outcomes (e.g. "session flagged" in run A vs run B).

    Args:
        a: per-case booleans (or 0/1) of run A; NaN pairs are dropped.
        b: per-case booleans of run B, aligned with ``a``.
        exact: force the exact binomial test (True) or the chi-squared test with continuity
            correction (False); by default exact below 25 discordant pairs.
    """
    from scipy import stats as sps

    a = np.asarray(a, dtype=np.float64)
    b = np.asarray(b, dtype=np.float64)
    keep = ~(np.isnan(a) | np.isnan(b))
    a, b = a[keep] > 0.5, b[keep] > 0.5
    both = int((a & b).sum())
    only_a = int((a & ~b).sum())
    only_b = int((~a & b).sum())
    neither = int((~a & ~b).sum())
    disc = only_a + only_b
    use_exact = disc < EXACT_MCNEMAR_BELOW if exact is None else exact
    if disc == 0:
        return McNemarResult(int(a.size), both, only_a, only_b, neither, 0.0, 1.0, "exact")
    if use_exact:
        p = float(sps.binomtest(min(only_a, only_b), disc, 0.5).pvalue)
        return McNemarResult(int(a.size), both, only_a, only_b, neither, float(min(only_a, only_b)), min(p, 1.0),
                             "exact")
    stat = (abs(only_a - only_b) - 1.0) ** 2 / disc
    p = float(sps.chi2.sf(stat, 1))
    return McNemarResult(int(a.size), both, only_a, only_b, neither, float(stat), p, "chi2")


__all__ = [
    "BootstrapResult", "McNemarResult", "bootstrap_counts", "bootstrap_p_value", "bootstrap_sums", "mcnemar",
    "paired_bootstrap", "percentile_interval",
]
