"""The click model and the funnel of the synthetic shop (catalog.synthetic.clicks)."""

import numpy as np

from catalog.synthetic import funnel_simulate
from catalog.synthetic.clicks import ATTRACTION, CART_GIVEN_CLICK


def many_lists(grade: int, lists: int = 40_000, positions: int = 10) -> np.ndarray:
    return np.full((lists, positions), grade, dtype=np.int64)


def test_position_k_is_examined_with_probability_one_over_k_to_the_eta():
    for eta in (1.0, 1.5):
        funnel = funnel_simulate(many_lists(3), eta=eta, rng=np.random.default_rng(1))
        examined = funnel.examined.mean(axis=0)
        expected = (1.0 / np.arange(1, 11)) ** eta
        assert np.allclose(examined, expected, atol=0.01)


def test_an_examined_product_is_clicked_more_the_more_relevant_it_is():
    rates = []
    for grade in range(4):
        funnel = funnel_simulate(many_lists(grade), eta=1.0, rng=np.random.default_rng(grade))
        rates.append(funnel.clicked.sum() / funnel.examined.sum())
    assert np.allclose(rates, ATTRACTION, atol=0.01)
    assert rates == sorted(rates)


def test_each_step_of_the_funnel_follows_the_one_before():
    funnel = funnel_simulate(many_lists(3), eta=1.0, rng=np.random.default_rng(2))
    assert not (funnel.clicked & ~funnel.examined).any()
    assert not (funnel.carted & ~funnel.clicked).any()
    assert not (funnel.purchased & ~funnel.carted).any()
    assert abs(funnel.carted.sum() / funnel.clicked.sum() - CART_GIVEN_CLICK[3]) < 0.01


def test_positions_past_the_end_of_a_list_get_nothing():
    shown = np.arange(10)[None, :] < np.array([[3], [10]])
    funnel = funnel_simulate(np.full((2, 10), 3), eta=0.0, rng=np.random.default_rng(3), shown=shown)
    assert not funnel.examined[0, 3:].any()
    assert funnel.examined[1].all()  # eta 0: every shown position is examined


def test_one_list_as_a_ranker_returns_it_is_judged_position_by_position():
    relevance = np.array([3, 0, 2, 1, 0])
    funnel = funnel_simulate(relevance, eta=1.0, rng=np.random.default_rng(4))
    assert funnel.clicked.shape == relevance.shape
    assert funnel.examined[0]  # the first position is always examined
