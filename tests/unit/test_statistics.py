"""The statistics over per-list values (``training.statistics``): the pooled ratio, and the
paired and pooled-ratio bootstrap intervals against references and their coverage."""

from __future__ import annotations

import numpy as np
import pytest

from training import statistics

# --- pooled ratio ----------------------------------------------------------------------------


def test_pooled_ratio_ignores_lists_left_out_and_is_nan_without_any():
    assert statistics.pooled_ratio([1.0, np.nan, 2.0], [2.0, np.nan, 4.0]) == pytest.approx(0.5)
    assert np.isnan(statistics.pooled_ratio([np.nan], [np.nan]))
    assert np.isnan(statistics.pooled_ratio([], []))


# --- bootstrap -------------------------------------------------------------------------------


def paired_values(rng: np.random.Generator, n: int, true_difference: float):
    difficulty = rng.uniform(0.2, 0.8, n)  # shared by both rankers: the pairing removes it
    a = difficulty + true_difference + rng.normal(0, 0.15, n)
    b = difficulty + rng.normal(0, 0.15, n)
    return a, b


def test_paired_bootstrap_covers_the_true_difference_about_95_percent_of_the_time():
    hits = 0
    for seed in range(200):
        a, b = paired_values(np.random.default_rng(seed), 300, 0.02)
        low, high = statistics.paired_bootstrap_interval(a, b, n_resamples=400, seed=seed)
        hits += low <= 0.02 <= high
    assert 0.90 <= hits / 200 <= 0.99


def test_paired_bootstrap_is_deterministic_for_a_seed():
    a, b = paired_values(np.random.default_rng(0), 2000, 0.01)
    first = statistics.paired_bootstrap_interval(a, b, seed=3)
    assert first == statistics.paired_bootstrap_interval(a, b, seed=3)
    assert first != statistics.paired_bootstrap_interval(a, b, seed=4)
    assert first.low < float(np.mean(a - b)) < first.high


def test_paired_bootstrap_narrows_with_more_lists():
    a, b = paired_values(np.random.default_rng(1), 8000, 0.01)
    small = statistics.paired_bootstrap_interval(a[:2000], b[:2000])
    large = statistics.paired_bootstrap_interval(a, b)
    # four times the lists: about half the width
    assert (large.high - large.low) < 0.6 * (small.high - small.low)


def test_paired_bootstrap_drops_pairs_with_nan():
    a, b = paired_values(np.random.default_rng(2), 500, 0.05)
    with_gaps_a, with_gaps_b = a.copy(), b.copy()
    with_gaps_a[::7] = np.nan
    with_gaps_b[::11] = np.nan
    keep = np.isfinite(with_gaps_a) & np.isfinite(with_gaps_b)
    assert statistics.paired_bootstrap_interval(with_gaps_a, with_gaps_b) == (
        statistics.paired_bootstrap_interval(a[keep], b[keep])
    )
    assert np.isnan(statistics.paired_bootstrap_interval([np.nan, 1.0], [0.0, np.nan])).all()


def test_pooled_ratio_bootstrap_covers_the_true_difference():
    hits = 0
    for seed in range(100):
        rng = np.random.default_rng(seed)
        den = rng.gamma(2.0, 5.0, 400)  # ideal weighted DCG, heavy-ish tail
        num_a = den * rng.beta(6, 4, 400)  # E[ratio] = 0.6
        num_b = den * rng.beta(5, 5, 400)  # E[ratio] = 0.5
        low, high = statistics.pooled_ratio_bootstrap_interval(
            num_a, den, num_b, den, n_resamples=400, seed=seed
        )
        hits += low <= 0.1 <= high
    assert 0.88 <= hits / 100 <= 1.0


def test_pooled_ratio_bootstrap_resamples_whole_lists():
    rng = np.random.default_rng(5)
    num_a, num_b = rng.random(50), rng.random(50)
    den_a, den_b = num_a + rng.random(50), num_b + rng.random(50)
    # The reference: one matrix of list indices, each resample recomputes both pooled ratios.
    rows = np.random.default_rng(9).integers(0, 50, size=(300, 50))
    diff = num_a[rows].sum(1) / den_a[rows].sum(1) - num_b[rows].sum(1) / den_b[rows].sum(1)
    expected = np.quantile(diff, [0.05, 0.95])
    result = statistics.pooled_ratio_bootstrap_interval(
        num_a, den_a, num_b, den_b, n_resamples=300, confidence=0.9, seed=9
    )
    np.testing.assert_allclose(result, expected)
    # One shared denominator takes the two-column path and gives the same numbers.
    shared = statistics.pooled_ratio_bootstrap_interval(num_a, den_a, num_b, den_a, n_resamples=300, seed=9)
    diff = (num_a[rows].sum(1) - num_b[rows].sum(1)) / den_a[rows].sum(1)
    np.testing.assert_allclose(shared, np.quantile(diff, [0.025, 0.975]))


def test_pooled_ratio_bootstrap_is_nan_safe():
    num = np.array([1.0, np.nan, 2.0, 3.0])
    den = np.array([2.0, np.nan, 4.0, 6.0])
    low, high = statistics.pooled_ratio_bootstrap_interval(num, den, num, den)
    assert low == high == 0.0  # the same ranker twice
    assert np.isnan(statistics.pooled_ratio_bootstrap_interval([np.nan], [np.nan], [1.0], [1.0])).all()
    # Resamples with a zero denominator total are skipped, not propagated.
    low, high = statistics.pooled_ratio_bootstrap_interval([0.0, 1.0], [0.0, 2.0], [0.0, 0.5], [0.0, 2.0])
    assert low == high == pytest.approx(0.25)


def test_the_bootstrap_uses_the_same_resamples_across_chunks(monkeypatch):
    a, b = paired_values(np.random.default_rng(3), 1000, 0.02)
    whole = statistics.paired_bootstrap_interval(a, b, n_resamples=200, seed=1)
    monkeypatch.setattr(statistics, "_BOOTSTRAP_CHUNK_ELEMENTS", 1000 * 7)  # 7 resamples a chunk
    assert statistics.paired_bootstrap_interval(a, b, n_resamples=200, seed=1) == pytest.approx(whole)
