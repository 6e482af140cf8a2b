"""ranking.drift.psi and ranking.drift.compute against hand-computed cases."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ranking.drift.compute import Served, Thresholds, drift_compute, profile_make
from ranking.drift.psi import bin_shares, column_profile, column_psi, psi, quantile_edges


def test_psi_of_a_shift_between_two_bins_is_the_hand_computed_sum():
    # (0.25 - 0.5) ln(0.25 / 0.5) + (0.75 - 0.5) ln(0.75 / 0.5)
    expected = -0.25 * math.log(0.5) + 0.25 * math.log(1.5)
    assert psi([0.5, 0.5], [0.25, 0.75]) == pytest.approx(expected)
    assert expected == pytest.approx(0.274653, abs=1e-6)


def test_an_empty_bin_counts_as_epsilon_so_the_index_stays_finite():
    # e = [1, 1e-4], a = [0.5, 0.5]: (0.5 - 1) ln(0.5) + (0.5 - 1e-4) ln(0.5 / 1e-4)
    expected = -0.5 * math.log(0.5) + (0.5 - 1e-4) * math.log(0.5 / 1e-4)
    assert psi([1.0, 0.0], [0.5, 0.5]) == pytest.approx(expected)
    assert expected == pytest.approx(4.604319, abs=1e-6)


def test_the_same_shares_have_no_drift():
    assert psi([0.2, 0.3, 0.5], [0.2, 0.3, 0.5]) == 0.0


def test_bins_are_closed_on_the_right_so_a_repeated_value_has_its_own_bin():
    assert bin_shares([0.0, 0.0, 1.0, 2.0], [0.0, 1.0]).tolist() == [0.5, 0.25, 0.25]


def test_a_constant_column_has_one_edge_and_everything_in_its_first_bin():
    edges = quantile_edges(np.zeros(100))
    assert edges.tolist() == [0.0]
    assert bin_shares(np.zeros(10), edges).tolist() == [1.0, 0.0]


def test_an_edge_sits_halfway_to_the_next_value_so_a_shared_value_moved_a_little_stays_in_its_bin():
    # 40% zeros, 30% at 4.228 (one click's share of one window's engagement), 30% at 6.0.
    reference = np.array([0.0] * 40 + [4.228] * 30 + [6.0] * 30)
    profile = column_profile(reference)
    assert profile["edges"] == pytest.approx([2.114, 5.114, 6.0])
    assert profile["shares"] == pytest.approx([0.4, 0.3, 0.3, 0.0])
    # The next window's total is a little smaller: one click reads 4.288 there.
    served = np.array([0.0] * 40 + [4.288] * 30 + [6.0] * 30)
    assert column_psi(profile, served) == pytest.approx(0.0)


def test_deciles_of_a_uniform_column_give_ten_bins_of_a_tenth():
    column = np.arange(1000.0)
    profile = column_profile(column)
    assert len(profile["edges"]) == 9
    assert profile["shares"] == pytest.approx([0.1] * 10)
    assert column_psi(profile, column) == pytest.approx(0.0)


def test_a_shifted_column_crosses_the_customary_threshold_and_a_resample_does_not():
    rng = np.random.default_rng(0)
    profile = column_profile(rng.normal(size=20_000))
    assert column_psi(profile, rng.normal(size=5_000)) < 0.02
    assert column_psi(profile, rng.normal(loc=1.0, size=5_000)) > 0.2


def _profile() -> dict:
    rng = np.random.default_rng(1)
    features = np.column_stack([rng.normal(size=5000), rng.integers(1, 4, 5000), np.full(5000, 30.0)])
    return profile_make(
        names=["price", "terms", "p_age_days"],
        features=features,
        scores=rng.normal(size=5000),
        queries=["shoes", "socks"],
        eval_queries=["shoes", "socks", "socks", "hat"],
        ctr=0.3,
        features_until="2026-01-01T00:00:00+00:00",
    )


def test_the_profile_keeps_the_training_rate_of_new_queries():
    assert _profile()["unseen_share"] == 0.25


def test_served_rows_like_the_training_rows_flag_nothing():
    rng = np.random.default_rng(2)
    served = Served(
        features=np.column_stack([rng.normal(size=2000), rng.integers(1, 4, 2000), np.full(2000, 30.0)]),
        names=["price", "terms", "p_age_days"],
        scores=rng.normal(size=2000),
        queries=["shoes"] * 9 + ["hat"],
    )
    result = drift_compute(_profile(), served, thresholds=Thresholds(), ctr_day=0.3, ctr_trailing=0.31)
    assert [row["flagged"] for row in result["features"]] == [False, False, False]
    assert result["unseen_queries"]["share"] == 0.1
    assert not result["flagged"]


def test_a_shifted_feature_new_queries_and_a_fallen_ctr_are_each_flagged():
    rng = np.random.default_rng(3)
    served = Served(
        features=np.column_stack(
            [rng.normal(loc=2.0, size=2000), rng.integers(1, 4, 2000), np.full(2000, 30.0)]
        ),
        names=["price", "terms", "p_age_days"],
        scores=None,
        queries=["new"] * 5 + ["shoes"] * 5,
    )
    result = drift_compute(
        _profile(), served, thresholds=Thresholds(features={"terms": 5.0}), ctr_day=0.2, ctr_trailing=0.3
    )
    by_name = {row["feature"]: row for row in result["features"]}
    assert by_name["price"]["flagged"]
    assert not by_name["terms"]["flagged"]
    assert by_name["terms"]["threshold"] == 5.0
    assert result["unseen_queries"]["flagged"]  # 0.5 > 0.25 + 0.1
    assert result["ctr"]["relative_change"] == pytest.approx(-1 / 3)
    assert result["ctr"]["flagged"]
    assert result["score"]["psi"] is None
    assert result["flagged"]


def test_a_watched_feature_is_reported_but_never_flagged():
    rng = np.random.default_rng(4)
    served = Served(
        features=np.column_stack([rng.normal(loc=3.0, size=500), np.full(500, 2.0), np.full(500, 30.0)]),
        names=["price", "terms", "p_age_days"],
        scores=None,
        queries=["shoes"],
    )
    result = drift_compute(_profile(), served, thresholds=Thresholds(watched=("price",)))
    price = result["features"][0]
    assert price["psi"] > 1.0
    assert price["threshold"] is None
    assert not price["flagged"]
