"""A/A simulations: experiments whose two sides are the same ranker, so that every significant
result is a false alarm. The tests keep their promise when the false-alarm rate stays at or
below alpha (within 2 points) over many simulated experiments:

- the fixed-horizon tests (the sign test, the z-test of a rate), read once at the planned size;
- the sequential tests (the mixture sign test, the mixture SPRT of a rate), read after every
  search (interleaving) or every 10 users per arm (A/B), acting at the first p below alpha,
  as the beat task does.

And why the sequential ones exist: the fixed-horizon tests read the same way raise false
alarms many times over alpha. Vectorised: each simulation is one matrix of experiments ×
searches (or users), so 1,000 experiments take seconds.
"""

from __future__ import annotations

import numpy as np
import pytest
from scipy import stats

from ranking.experiments import statistics as st

ALPHA = 0.05
EXPERIMENTS = 1000
TOLERANCE = 0.02  # "at or below alpha, within 2 points"


@pytest.fixture(scope="module")
def interleavings():
    """Running wins and losses of 1,000 A/A interleavings of 3,000 searches: a search is won
    or lost with 20% chance each (a click credited to one team), tied or without a click otherwise."""
    draws = np.random.default_rng(11).random((EXPERIMENTS, 3000))
    return np.cumsum(draws < 0.2, axis=1), np.cumsum((draws >= 0.2) & (draws < 0.4), axis=1)


@pytest.fixture(scope="module")
def ab_tests():
    """Running estimates (every 10 users per arm, from the 100th) of the CTR difference of 600
    A/A experiments with 2,000 users per arm: each user makes 1 + Poisson(2) searches and
    clicks in each with a propensity of their own drawn from Beta(2, 3), so a user's searches
    go together (the unit of randomisation is the user)."""
    rng = np.random.default_rng(12)
    experiments, users = 600, 2000
    looks = np.arange(99, users, 10)

    def arm() -> tuple[np.ndarray, np.ndarray]:
        searches = 1 + rng.poisson(2, (experiments, users))
        clicked = rng.binomial(searches, rng.beta(2, 3, (experiments, users)))
        x, y = clicked.astype(float), searches.astype(float)
        sums = (np.cumsum(v, axis=1)[:, looks] for v in (x, y, x * x, y * y, x * y))
        return st.ratio_from_sums(looks + 1, *sums)

    (control, control_var), (challenger, challenger_var) = arm(), arm()
    return control, challenger - control, control_var + challenger_var


def test_the_sign_test_read_once_at_3000_searches_keeps_alpha(interleavings):
    wins, losses = interleavings
    p = np.array([st.sign_test_p(int(w), int(n)) for w, n in zip(wins[:, -1], losses[:, -1], strict=True)])
    assert (p < ALPHA).mean() <= ALPHA + TOLERANCE
    assert (p < ALPHA).mean() >= ALPHA - TOLERANCE  # a valid test, not a blind one


def test_the_mixture_sign_test_watched_after_every_search_keeps_alpha(interleavings):
    wins, losses = interleavings
    log_ratio = st.sign_sequential_log_ratio(wins, losses)
    false_alarms = (log_ratio >= np.log(1 / ALPHA)).any(axis=1).mean()
    assert false_alarms <= ALPHA + TOLERANCE


def test_the_sign_test_watched_every_100_searches_raises_false_alarms_far_above_alpha(interleavings):
    wins, losses = interleavings
    looks = np.arange(99, wins.shape[1], 100)
    w, n = wins[:, looks], wins[:, looks] + losses[:, looks]
    # The exact two-sided sign test for a fair coin, as sign_test_p computes it, for every look.
    p = np.minimum(1.0, 2 * stats.binom.cdf(np.minimum(w, n - w), n, 0.5))
    assert (p < ALPHA).any(axis=1).mean() > 3 * ALPHA


def test_the_z_test_of_the_ctr_difference_read_once_keeps_alpha(ab_tests):
    _, difference, variance = ab_tests
    p = st.normal_test_p(difference[:, -1], variance[:, -1])
    assert (p < ALPHA).mean() <= ALPHA + TOLERANCE
    assert (p < ALPHA).mean() >= ALPHA - TOLERANCE


def test_the_mixture_sprt_of_the_ctr_difference_watched_continuously_keeps_alpha(ab_tests):
    control, difference, variance = ab_tests
    p = st.msprt_p(difference, variance, st.MIXTURE_RELATIVE_EFFECT * control)
    assert (p < ALPHA).any(axis=1).mean() <= ALPHA + TOLERANCE


def test_the_z_test_watched_continuously_raises_false_alarms_far_above_alpha(ab_tests):
    _, difference, variance = ab_tests
    assert (st.normal_test_p(difference, variance) < ALPHA).any(axis=1).mean() > 3 * ALPHA
