"""The statistics of online experiments (``ranking.experiments.statistics``) against cases
computed by hand, and the bootstrap's behaviour where a hand computation is not possible."""

from __future__ import annotations

import math

import numpy as np
import pytest

from ranking.experiments import statistics as st

# --- interleaving ------------------------------------------------------------------------------


def test_a_search_is_won_lost_or_tied_by_the_sign_of_the_credit_difference():
    outcomes = st.search_outcomes([0, 2, 1, 1, 0], [1, 0, 1, 3, 0])
    assert outcomes.tolist() == [1, -1, 0, 1, 0]


def test_the_preference_is_wins_minus_losses_over_the_searches_with_a_click():
    # Two wins, one loss, one tie among clicked searches, one search without a click.
    summary = st.preference_summarise([1, 1, -1, 0, 0], [True, True, True, True, False])

    assert summary == st.PreferenceSummary(
        searches=5, searches_with_click=4, wins=2, losses=1, ties=1, preference=0.25
    )


def test_a_preference_without_clicks_is_nan_and_a_won_search_without_a_click_is_refused():
    assert math.isnan(st.preference_summarise([0, 0], [False, False]).preference)
    with pytest.raises(ValueError, match="without a click"):
        st.preference_summarise([1], [False])


def test_the_sign_test_of_nine_wins_and_one_loss_is_twice_eleven_in_1024():
    # P(X <= 1) + P(X >= 9) for X ~ Binomial(10, 1/2) = 2 * (1 + 10) / 1024.
    assert st.sign_test_p(9, 1) == pytest.approx(22 / 1024)
    assert st.sign_test_p(0, 0) == 1.0
    assert st.sign_test_p(5, 5) == pytest.approx(1.0)


def test_the_mixture_sign_test_with_a_uniform_mixture_matches_the_beta_integral():
    # a = 1: Λ = 2^(W+L) B(W+1, L+1). W = 2, L = 0: 4 * 1/3 = 4/3, p = 3/4.
    assert st.sign_sequential_p(2, 0, concentration=1.0) == pytest.approx(0.75)
    # W = 5, L = 0: 32 * 1/6 = 16/3, p = 3/16.
    assert st.sign_sequential_p(5, 0, concentration=1.0) == pytest.approx(3 / 16)
    # No decisive search: Λ = 1.
    assert st.sign_sequential_p(0, 0) == 1.0


def test_the_mixture_sign_test_is_symmetric_and_works_on_running_counts():
    assert st.sign_sequential_p(30, 10) == pytest.approx(st.sign_sequential_p(10, 30))
    wins = np.array([1, 2, 3])
    losses = np.array([0, 0, 0])
    log_ratio = st.sign_sequential_log_ratio(wins, losses, concentration=1.0)
    # 2 B(2, 1) = 1, 4 B(3, 1) = 4/3, 8 B(4, 1) = 2.
    assert np.exp(log_ratio) == pytest.approx([1.0, 4 / 3, 2.0])


def test_the_bootstrap_interval_of_identical_outcomes_is_that_outcome():
    assert st.preference_interval([1, 1, 1, 1]) == (1.0, 1.0)
    assert all(math.isnan(v) for v in st.preference_interval([]))


def test_the_bootstrap_of_one_win_and_one_loss_spans_minus_one_to_one():
    # Resamples of two searches give +1, 0 or -1 with chances 1/4, 1/2, 1/4.
    low, high = st.preference_interval([1, -1], n_resamples=4000)
    assert (low, high) == (-1.0, 1.0)


def test_resampling_users_gives_a_wider_interval_when_a_users_searches_agree():
    rng = np.random.default_rng(0)
    users = np.repeat(np.arange(100), 10)  # 100 users with 10 searches each
    leaning = rng.choice([-1, 1], size=100)  # each user prefers one side throughout
    outcomes = leaning[users] * (rng.random(1000) < 0.8)

    searches = st.preference_interval(outcomes, n_resamples=500)
    by_user = st.preference_interval(outcomes, clusters=users, n_resamples=500)

    assert by_user.high - by_user.low > 2 * (searches.high - searches.low)


def test_the_bootstrap_is_deterministic_for_a_seed():
    outcomes = np.random.default_rng(3).choice([-1, 0, 1], 500)
    assert st.preference_interval(outcomes, seed=7) == st.preference_interval(outcomes, seed=7)


# --- A/B ---------------------------------------------------------------------------------------


def test_a_ratio_and_its_delta_method_variance_by_hand():
    # x = [1, 0, 2], y = [2, 1, 3]: ratio 3/6 = 0.5; s²x = s²y = sxy = 1, ȳ = 2:
    # (1 - 2 * 0.5 * 1 + 0.25 * 1) / (3 * 4) = 0.25 / 12.
    estimate = st.ratio_estimate([1, 0, 2], [2, 1, 3])

    assert estimate.value == pytest.approx(0.5)
    assert estimate.variance == pytest.approx(0.25 / 12)
    assert estimate.units == 3


def test_a_ratio_of_one_unit_has_no_variance():
    assert math.isnan(st.ratio_estimate([1], [2]).variance)


def test_running_sums_give_the_estimate_after_every_unit():
    x, y = np.array([1.0, 0.0, 2.0]), np.array([2.0, 1.0, 3.0])
    ratio, variance = st.ratio_from_sums(
        np.arange(1, 4), np.cumsum(x), np.cumsum(y), np.cumsum(x * x), np.cumsum(y * y), np.cumsum(x * y)
    )
    assert ratio == pytest.approx([0.5, 1 / 3, 0.5])
    assert math.isnan(variance[0])
    assert variance[2] == pytest.approx(0.25 / 12)


def test_the_z_test_of_a_difference_two_standard_errors_away():
    assert float(st.normal_test_p(2.0, 1.0)) == pytest.approx(0.0455, abs=1e-4)
    assert float(st.normal_test_p(-1.959964, 1.0)) == pytest.approx(0.05, abs=1e-6)


def test_the_mixture_sprt_by_hand():
    # d = 1, V = 1, τ² = 1: Λ = sqrt(1/2) e^(1/4) = 0.9079 < 1, so p = 1.
    assert float(st.msprt_p(1.0, 1.0, 1.0)) == 1.0
    # d = 3, V = 1, τ² = 3: Λ = sqrt(1/4) e^(9 * 3 / 8) = 0.5 e^3.375 = 14.612, p = 0.06844.
    assert float(st.msprt_p(3.0, 1.0, math.sqrt(3.0))) == pytest.approx(1 / (0.5 * math.exp(3.375)))
    assert math.isnan(float(st.msprt_p(1.0, 0.0, 1.0)))


def test_a_difference_of_two_arms_adds_their_variances():
    control = st.RatioEstimate(value=0.40, variance=0.0001, units=1000)
    challenger = st.RatioEstimate(value=0.36, variance=0.0003, units=1000)

    difference = st.ratio_difference(control, challenger)

    half = 1.959964 * math.sqrt(0.0004)
    assert difference.difference == pytest.approx(-0.04)
    assert (difference.low, difference.high) == pytest.approx((-0.04 - half, -0.04 + half))
    assert difference.p_value == pytest.approx(float(st.normal_test_p(-0.04, 0.0004)))
    # τ = 10% of the control's 0.40.
    assert difference.sequential_p == pytest.approx(float(st.msprt_p(-0.04, 0.0004, 0.04)))
