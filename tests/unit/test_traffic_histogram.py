"""The roll-up's latency histogram (training.dashboard.histogram): fixed log-spaced bins that
add up, and nearest-rank percentiles read from them, each worked out by hand."""

from __future__ import annotations

import math

import pytest

from training.dashboard.histogram import (
    BINS,
    HIGHEST,
    LOWEST,
    OVER,
    RATIO,
    RELATIVE_ERROR,
    UNDER,
    bin_value,
    histogram_merge,
    histogram_percentiles,
)


def bin_of(latency: float) -> int:
    """What the database computes (training.dashboard.traffic._latency_histogram_by_bucket)."""
    if latency < LOWEST:
        return UNDER
    if latency >= HIGHEST:
        return OVER
    return math.floor(math.log(latency / LOWEST) / math.log(RATIO))


def test_the_bins_cover_a_tenth_of_a_millisecond_to_a_minute_ten_percent_apart():
    assert BINS == 140  # ceil(ln(600,000) / ln(1.1))
    assert LOWEST * RATIO**BINS >= HIGHEST > LOWEST * RATIO ** (BINS - 1)
    assert round(RELATIVE_ERROR, 4) == 0.0488  # sqrt(1.1) - 1


@pytest.mark.parametrize("latency", [0.000105, 0.0037, 0.021, 0.35, 7.9, 59.0])
def test_a_bins_middle_is_within_the_relative_error_of_every_latency_in_it(latency):
    assert abs(bin_value(bin_of(latency)) / latency - 1) <= RELATIVE_ERROR


def test_below_the_lowest_and_from_the_highest_bound_the_bounds_are_reported():
    assert bin_value(bin_of(0.0)) == LOWEST
    assert bin_value(bin_of(120.0)) == HIGHEST


def test_histograms_add_up_bin_by_bin_whether_keys_are_numbers_or_json_text():
    assert histogram_merge([{"3": 2, "-1": 1}, {3: 1, 140: 4}]) == {3: 3, -1: 1, 140: 4}


def test_percentiles_are_the_bin_holding_the_nearest_rank():
    # 10 latencies: 6 in bin 20, 3 in bin 30, 1 in bin 50. p50 is the 5th smallest (bin 20),
    # p90 the 9th (bin 30), p99 the 10th (ceil(9.9)): bin 50.
    counts = {"30": 3, "20": 6, "50": 1}
    assert histogram_percentiles(counts, (0.5, 0.9, 0.99)) == (bin_value(20), bin_value(30), bin_value(50))


def test_an_empty_histogram_has_no_percentiles():
    assert histogram_percentiles({}, (0.5, 0.99)) == (None, None)
