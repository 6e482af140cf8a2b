"""The drift sampler's bounds: the share, the per-minute reservoir and the rows per request
(nothing is written: ``flush`` is not called)."""

from __future__ import annotations

import numpy as np
import pytest

from ranking.serving.drift_sampling import DriftSampler


@pytest.fixture
def drift_settings(settings):
    def apply(**overrides):
        settings.SEARCHOP_DRIFT = {**settings.SEARCHOP_DRIFT, "flush_seconds": 3600.0, **overrides}

    return apply


def _offer(sampler: DriftSampler, times: int, rows: int = 5) -> None:
    for i in range(times):
        sampler.offer(model_version=1, query_norm=f"q{i}", features=np.full((rows, 4), float(i)))


def test_a_share_of_zero_keeps_nothing(drift_settings):
    drift_settings(sample_share=0.0)
    sampler = DriftSampler()
    _offer(sampler, 100)
    assert sampler.pending() == 0


def test_a_busy_minute_keeps_at_most_the_cap_drawn_from_all_its_requests(drift_settings):
    drift_settings(sample_share=1.0, max_requests_per_minute=10)
    sampler = DriftSampler()
    _offer(sampler, 1000)
    held = [row for rows in sampler._minutes.values() for row in rows]
    assert len(held) <= 20  # a minute boundary may fall inside the loop
    assert max(int(row.query_norm[1:]) for row in held) > 100  # not only the first ten


def test_a_request_with_many_candidates_keeps_a_random_subset_of_its_rows(drift_settings):
    drift_settings(sample_share=1.0, rows_per_request=3)
    sampler = DriftSampler()
    sampler.offer(model_version=1, query_norm="q", features=np.arange(40.0).reshape(10, 4))
    [row] = [row for rows in sampler._minutes.values() for row in rows]
    assert row.rows.shape == (3, 4)
    assert row.rows.dtype == np.float64
    assert set(row.rows[:, 0]) <= set(np.arange(0.0, 40.0, 4.0))
