"""The position-bias model (``training.propensity``): the clipped power law, and its fit on
simulated randomised lists recovering the exponent they were drawn with."""

from __future__ import annotations

import math

import numpy as np
import pytest

from training.propensity import PropensityModel, propensity_fit

ATTRACTION = np.array([0.05, 0.14, 0.28, 0.50])  # click probability of an examined item by grade


def simulate_randomised_lists(n_lists: int, eta: float, seed: int, size: int = 15):
    """Randomised lists under the position-based model: relevance independent of position."""
    rng = np.random.default_rng(seed)
    positions = np.tile(np.arange(1, size + 1), n_lists)
    attraction = ATTRACTION[rng.integers(0, 4, positions.size)]
    clicked = rng.random(positions.size) < attraction * positions.astype(float) ** -eta
    return positions, clicked


# --- propensities ----------------------------------------------------------------------------


def test_propensity_is_one_at_the_top_and_clipped_below():
    model = PropensityModel(eta=1.0, clip=0.05)
    np.testing.assert_allclose(model.propensity([1, 2, 4, 20, 100]), [1.0, 0.5, 0.25, 0.05, 0.05])
    assert model.weights([1, 100]).tolist() == [1.0, 20.0]
    with pytest.raises(ValueError):
        model.propensity([0])


@pytest.mark.parametrize("eta", [1.0, 0.7])
def test_propensity_fit_recovers_eta_from_randomised_lists(eta):
    positions, clicked = simulate_randomised_lists(3000, eta, seed=1)
    model = propensity_fit(positions, clicked)
    assert model.source == "fitted"
    assert model.eta == pytest.approx(eta, abs=0.08)
    assert abs(model.eta - eta) < 4 * model.eta_se
    assert model.a == pytest.approx(ATTRACTION.mean(), abs=0.03)  # ctr at position 1
    assert model.n_lists == 3000
    assert model.n_clicks == clicked.sum()
    assert model.n_impressions == positions.size


def test_propensity_fit_stays_finite_and_sane_with_150_lists():
    for seed in range(20):
        positions, clicked = simulate_randomised_lists(150, 1.0, seed=seed)
        model = propensity_fit(positions, clicked)
        assert model.source == "fitted"
        assert abs(model.eta - 1.0) < 0.35  # the standard error is about 0.09 here
        assert 0 < model.eta_se < 0.2
        weights = model.weights(np.arange(1, 16))
        assert np.all(np.isfinite(weights))
        assert weights.max() <= 20.0


def test_propensity_fit_counts_lists_by_list_index_when_given():
    positions, clicked = simulate_randomised_lists(40, 1.0, seed=2)
    model = propensity_fit(positions, clicked, list_index=np.repeat(np.arange(40), 15))
    assert model.n_lists == 40


def test_propensity_fit_falls_back_to_the_default_without_enough_clicks():
    empty = propensity_fit(np.array([], dtype=int), np.array([], dtype=bool))
    assert (empty.source, empty.eta, empty.n_lists, empty.n_clicks) == ("default", 1.0, 0, 0)
    assert math.isnan(empty.a)
    positions, clicked = simulate_randomised_lists(5, 1.0, seed=3)
    few = propensity_fit(positions, clicked, min_clicks=20)
    assert few.source == "default"
    assert (few.n_lists, few.n_clicks) == (5, clicked.sum())
    assert few.n_clicks < 20


def test_propensity_fit_needs_two_positions_to_fit_a_slope():
    model = propensity_fit(np.ones(500, dtype=int), np.arange(500) % 3 == 0)
    assert model.source == "default"


def test_propensity_model_as_dict_is_plain_values():
    record = PropensityModel.default().as_dict()
    assert (record["source"], record["eta"], record["clip"]) == ("default", 1.0, 0.05)
