"""The shadow measures (``ranking.experiments.comparisons``) against cases computed by hand."""

from __future__ import annotations

import math

import pytest

from ranking.experiments.comparisons import (
    kendall_tau,
    orders_compare,
    overlap_at_k,
    rank_biased_overlap,
    top_differs,
)


def test_overlap_counts_the_products_both_show_in_their_top_k_in_any_order():
    assert overlap_at_k(list("abcd"), list("dcba"), k=2) == 0.0
    assert overlap_at_k(list("abcd"), list("bacd"), k=2) == 1.0
    assert overlap_at_k(list("abc"), list("acb"), k=10) == 1.0  # depth is the list's length
    assert overlap_at_k(list("abcd"), list("aecd"), k=4) == 0.75
    assert math.isnan(overlap_at_k([], []))


def test_kendall_tau_is_one_for_the_same_order_minus_one_reversed_and_counts_swapped_pairs():
    assert kendall_tau(list("abcd"), list("abcd")) == pytest.approx(1.0)
    assert kendall_tau(list("abcd"), list("dcba")) == pytest.approx(-1.0)
    # One discordant pair of six: (6 - 2 * 1) / 6 = 2/3.
    assert kendall_tau(list("abcd"), list("bacd")) == pytest.approx(2 / 3)
    assert math.isnan(kendall_tau(["a"], ["a"]))


def test_rank_biased_overlap_of_two_swapped_products_by_hand():
    # X1 = 0, X2 = 2: (2/2) 0.81 + (0.1 / 0.9) * (0 + (2/2) 0.81) = 0.81 + 0.09.
    assert rank_biased_overlap(["a", "b"], ["b", "a"], p=0.9) == pytest.approx(0.9)
    assert rank_biased_overlap(list("abcdef"), list("abcdef")) == pytest.approx(1.0)
    assert rank_biased_overlap(list("abc"), list("def")) == 0.0


def test_rank_biased_overlap_weighs_agreement_at_the_top_more():
    top_swapped = rank_biased_overlap(list("abcdef"), list("bacdef"))
    bottom_swapped = rank_biased_overlap(list("abcdef"), list("abcdfe"))
    assert top_swapped < bottom_swapped < 1.0


def test_the_top_three_differ_when_a_product_or_its_place_differs():
    assert not top_differs(list("abcd"), list("abcx"))
    assert top_differs(list("abcd"), list("acbd"))


def test_orders_compare_averages_each_measure_and_leaves_undefined_ones_out():
    comparison = orders_compare([(list("abcd"), list("abcd")), (list("abcd"), list("dcba")), (["a"], ["a"])])

    assert comparison.searches == 3
    assert comparison.overlap_at_10 == pytest.approx(1.0)
    assert comparison.kendall_tau == pytest.approx(0.0)  # (1 + -1) / 2; one item has no tau
    assert comparison.top3_differs == pytest.approx(1 / 3)
    assert math.isnan(orders_compare([]).kendall_tau)
