"""Statistics over per-list values: pooled ratios and paired bootstrap intervals.

Pure functions over arrays (numpy only), each with its definition in its docstring. The
inputs are one value per list (or a numerator and a denominator per list), ``NaN`` where a
metric leaves the list out; such lists are dropped before anything is computed, for every
ranker alike. The bootstrap draws its resamples as index matrices, in chunks of bounded
memory, and is deterministic for its seed.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike

from training.long_format import FloatArray

__all__ = [
    "Interval",
    "PooledParts",
    "paired_bootstrap_interval",
    "pooled_ratio",
    "pooled_ratio_bootstrap_interval",
]

# Bound on the elements of one chunk of bootstrap indices (32 MB of intp).
_BOOTSTRAP_CHUNK_ELEMENTS = 1 << 22


class Interval(NamedTuple):
    """A confidence interval; ``(nan, nan)`` when the data cannot give one."""

    low: float
    high: float


class PooledParts(NamedTuple):
    """Per-list numerators and denominators of a pooled metric (NaN for lists left out)."""

    numerators: FloatArray
    denominators: FloatArray


def pooled_ratio(numerators: ArrayLike, denominators: ArrayLike) -> float:
    """``sum(numerators) / sum(denominators)`` over lists where both are finite; NaN if none."""
    num = np.asarray(numerators, dtype=np.float64)
    den = np.asarray(denominators, dtype=np.float64)
    keep = np.isfinite(num) & np.isfinite(den)
    total = den[keep].sum()
    return float(num[keep].sum() / total) if total != 0 else math.nan


def paired_bootstrap_interval(
    a: ArrayLike, b: ArrayLike, *, n_resamples: int = 1000, confidence: float = 0.95, seed: int = 0
) -> Interval:
    """Percentile bootstrap interval for ``mean(a - b)`` over lists, resampling lists.

    ``a`` and ``b`` are the per-list values of two rankers on the same lists; pairs where
    either is NaN are dropped first (the lists the metric leaves out). Paired: a resample
    draws lists, each with both its values, so the list-to-list variance common to both
    rankers cancels. Deterministic for ``seed``; ``(nan, nan)`` with fewer than 2 pairs.
    """
    x, y = _paired("a", a, "b", b)
    keep = np.isfinite(x) & np.isfinite(y)
    diff = (x - y)[keep]
    if diff.size < 2:
        return Interval(math.nan, math.nan)
    sums = _bootstrap_sums([diff], n_resamples=n_resamples, seed=seed)[0]
    return _percentile_interval(sums / diff.size, confidence)


def pooled_ratio_bootstrap_interval(
    num_a: ArrayLike,
    den_a: ArrayLike,
    num_b: ArrayLike,
    den_b: ArrayLike,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval for ``pooled_ratio(num_a, den_a) - pooled_ratio(num_b, den_b)``.

    Resamples lists (each with its four values), recomputes both pooled ratios on each
    resample and takes the difference. Lists where any value is NaN are dropped first;
    resamples whose denominators sum to 0 are ignored. Deterministic for ``seed``;
    ``(nan, nan)`` with fewer than 2 lists.
    """
    na, da = _paired("num_a", num_a, "den_a", den_a)
    nb, db = _paired("num_b", num_b, "den_b", den_b)
    if na.shape != nb.shape:
        raise ValueError("both rankers must have values for the same lists")
    keep = np.isfinite(na) & np.isfinite(da) & np.isfinite(nb) & np.isfinite(db)
    if np.count_nonzero(keep) < 2:
        return Interval(math.nan, math.nan)
    same_den = np.array_equal(da[keep], db[keep])
    # With one denominator (the usual case: the ideal DCG depends on the list, not the
    # ranker) the difference is sum(num_a - num_b) / sum(den): two columns instead of four.
    columns = [(na - nb)[keep], da[keep]] if same_den else [na[keep], da[keep], nb[keep], db[keep]]
    sums = _bootstrap_sums(columns, n_resamples=n_resamples, seed=seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = sums[0] / sums[1] if same_den else sums[0] / sums[1] - sums[2] / sums[3]
    return _percentile_interval(diff, confidence)


def _paired(name_x: str, x: ArrayLike, name_y: str, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
    first = np.asarray(x, dtype=np.float64)
    second = np.asarray(y, dtype=np.float64)
    if first.ndim != 1 or first.shape != second.shape:
        raise ValueError(f"{name_x} and {name_y} must be 1-D arrays of the same length")
    return first, second


def _bootstrap_sums(columns: list[FloatArray], *, n_resamples: int, seed: int) -> FloatArray:
    """Sums of each column over ``n_resamples`` resamples of its rows (with replacement).

    Shape ``(len(columns), n_resamples)``. The resample indices are drawn as matrices of
    at most ``_BOOTSTRAP_CHUNK_ELEMENTS`` entries and shared by all columns, so every
    column sees the same resampled lists.
    """
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    n = columns[0].size
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, _BOOTSTRAP_CHUNK_ELEMENTS // n))
    sums = np.empty((len(columns), n_resamples))
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        rows = rng.integers(0, n, size=(stop - start, n), dtype=np.intp)
        for j, column in enumerate(columns):
            sums[j, start:stop] = np.take(column, rows).sum(axis=1)
    return sums


def _percentile_interval(statistics: FloatArray, confidence: float) -> Interval:
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    finite = statistics[np.isfinite(statistics)]
    if finite.size == 0:
        return Interval(math.nan, math.nan)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return Interval(float(low), float(high))
