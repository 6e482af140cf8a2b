"""The offline ranking metrics (``training.metrics``): hand-computed cases, a per-list
reference implementation, scikit-learn's NDCG, and properties over generated lists."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from sklearn.metrics import ndcg_score

from training import metrics
from training.propensity import PropensityModel
from training.statistics import pooled_ratio

LOG2_3 = math.log2(3)  # the discount of rank 2 is 1 / log2(3)
LOG2_5 = math.log2(5)  # the discount of rank 4 is 1 / log2(5)
FLAT = PropensityModel(eta=0.0)  # every propensity 1: no debiasing


# --- helpers ---------------------------------------------------------------------------------


def shop_lists(rng: np.random.Generator, n_lists: int, *, min_size: int = 2, max_size: int = 20):
    """Lists of random sizes with sparse graded labels, rows shuffled across lists."""
    sizes = rng.integers(min_size, max_size + 1, n_lists)
    list_index = np.repeat(np.arange(n_lists), sizes)
    logged = np.concatenate([np.arange(1, size + 1) for size in sizes])
    labels = rng.choice(4, size=list_index.size, p=[0.8, 0.1, 0.06, 0.04])
    shuffle = rng.permutation(list_index.size)
    return list_index[shuffle], logged[shuffle], labels[shuffle]


def rows_of(list_index: np.ndarray, i: int) -> np.ndarray:
    return np.flatnonzero(list_index == i)


def reference_dcg(ranks: np.ndarray, gains: np.ndarray, k: int) -> float:
    """DCG@k of one list, written the slow obvious way."""
    return sum(g / math.log2(r + 1) for r, g in zip(ranks, gains, strict=True) if r <= k)


def reference_ideal_dcg(gains: np.ndarray, k: int) -> float:
    ideal = sorted(gains, reverse=True)
    return sum(g / math.log2(i + 2) for i, g in enumerate(ideal[:k]))


def interleave_keeping_order_within_lists(list_index: np.ndarray, rng: np.random.Generator):
    """A row order that mixes the lists differently but keeps each list's own row order."""
    slots = rng.random(list_index.size)
    for i in np.unique(list_index):
        rows = rows_of(list_index, i)
        slots[rows] = np.sort(slots[rows])
    return np.argsort(slots)


# --- ranks -----------------------------------------------------------------------------------


def test_ranks_are_one_based_by_descending_score_within_each_list():
    list_index = np.array([1, 0, 1, 0, 1])
    scores = np.array([0.2, 5.0, 0.9, 7.0, 0.5])
    # list 0: rows 1 (5.0), 3 (7.0) -> ranks 2, 1; list 1: rows 0, 2, 4 -> 0.9 > 0.5 > 0.2
    assert metrics.ranks_from_scores(list_index, scores).tolist() == [3, 2, 1, 1, 2]


def test_tied_scores_keep_the_input_order_within_a_list():
    list_index = np.array([0, 0, 0, 0, 1, 1])
    scores = np.array([1.0, 2.0, 1.0, 2.0, 3.0, 3.0])
    # list 0: the two 2.0s first in row order (rows 1, 3), then the 1.0s (rows 0, 2)
    assert metrics.ranks_from_scores(list_index, scores).tolist() == [3, 1, 4, 2, 1, 2]


def test_nan_scores_rank_last_in_row_order():
    list_index = np.zeros(4, dtype=int)
    scores = np.array([np.nan, -np.inf, np.nan, 0.0])
    assert metrics.ranks_from_scores(list_index, scores).tolist() == [3, 2, 4, 1]


def test_ranks_agree_with_a_stable_lexsort_on_many_interleaved_lists():
    rng = np.random.default_rng(1)
    list_index, _, _ = shop_lists(rng, 500)
    for scores in (rng.random(list_index.size), rng.integers(0, 3, list_index.size) * 0.5):
        order = np.lexsort((-scores, list_index))
        expected = np.empty(list_index.size, dtype=int)
        sorted_lists = list_index[order]
        first = np.searchsorted(sorted_lists, sorted_lists)
        expected[order] = np.arange(list_index.size) - first + 1
        np.testing.assert_array_equal(metrics.ranks_from_scores(list_index, scores), expected)


def test_ranks_of_no_rows_are_empty():
    assert metrics.ranks_from_scores(np.array([], dtype=int), np.array([])).size == 0


def test_list_index_must_be_non_negative_integers():
    with pytest.raises(ValueError):
        metrics.ranks_from_scores(np.array([0, -1]), np.array([1.0, 2.0]))
    with pytest.raises(TypeError):
        metrics.ranks_from_scores(np.array([0.0, 1.0]), np.array([1.0, 2.0]))


def test_random_scores_are_deterministic_for_a_seed():
    list_index = np.repeat(np.arange(10), 5)
    first = metrics.random_scores(list_index, seed=4)
    np.testing.assert_array_equal(first, metrics.random_scores(list_index, seed=4))
    assert not np.array_equal(first, metrics.random_scores(list_index, seed=5))
    assert first.shape == (50,)


# --- NDCG ------------------------------------------------------------------------------------


def test_ndcg_of_the_ideal_order_is_one():
    list_index = np.array([0, 0, 0, 1, 1])
    labels = np.array([1, 3, 0, 2, 2])
    ranks = metrics.ranks_from_scores(list_index, labels)
    np.testing.assert_allclose(metrics.ndcg_at_k(list_index, ranks, labels), [1.0, 1.0])


def test_ndcg_by_hand():
    list_index = np.zeros(3, dtype=int)
    labels = np.array([0, 2, 1])
    ranks = np.array([1, 2, 3])
    # gains 0, 3, 1. DCG = 0/log2(2) + 3/log2(3) + 1/log2(4); ideal = 3/log2(2) + 1/log2(3)
    expected = (3 / LOG2_3 + 1 / 2) / (3 + 1 / LOG2_3)
    np.testing.assert_allclose(metrics.ndcg_at_k(list_index, ranks, labels), [expected])


def test_ndcg_counts_only_the_top_k():
    list_index = np.zeros(3, dtype=int)
    labels = np.array([0, 0, 3])
    # k = 2: the purchase at rank 3 adds nothing, the ideal puts it at rank 1 (gain 7)
    assert metrics.ndcg_at_k(list_index, np.array([1, 2, 3]), labels, k=2).tolist() == [0.0]
    # k = 3: 7/log2(4) over 7/log2(2)
    np.testing.assert_allclose(metrics.ndcg_at_k(list_index, np.array([1, 2, 3]), labels, k=3), [0.5])


def test_ndcg_is_nan_for_a_list_without_gain_and_for_a_list_without_rows():
    list_index = np.array([0, 0, 2, 2])
    labels = np.array([0, 0, 1, 0])
    result = metrics.ndcg_at_k(list_index, np.array([1, 2, 2, 1]), labels, n_lists=4)
    # list 2: the click at rank 2 -> (1/log2(3)) / (1/log2(2))
    np.testing.assert_allclose(result, [np.nan, np.nan, 1 / LOG2_3, np.nan])


def test_ndcg_agrees_with_scikit_learn_on_random_lists():
    rng = np.random.default_rng(7)
    list_index, _, labels = shop_lists(rng, 300)
    scores = rng.random(list_index.size)  # distinct: sklearn averages over ties, we do not
    ours = metrics.ndcg_at_k(list_index, metrics.ranks_from_scores(list_index, scores), labels, k=10)
    compared = 0
    for i in range(300):
        rows = rows_of(list_index, i)
        gains = 2.0 ** labels[rows] - 1  # sklearn takes y_true as the gains themselves
        if gains.sum() == 0:
            assert np.isnan(ours[i])  # sklearn would say 0
            continue
        theirs = ndcg_score(gains[None, :], scores[rows][None, :], k=10)
        assert ours[i] == pytest.approx(theirs, abs=1e-12)
        compared += 1
    assert compared > 100


def test_ndcg_agrees_with_a_per_list_reference_with_ties():
    rng = np.random.default_rng(8)
    list_index, _, labels = shop_lists(rng, 200)
    ranks = metrics.ranks_from_scores(list_index, rng.integers(0, 4, list_index.size))
    ours = metrics.ndcg_at_k(list_index, ranks, labels, k=5)
    for i in range(200):
        rows = rows_of(list_index, i)
        gains = 2.0 ** labels[rows] - 1
        ideal = reference_ideal_dcg(gains, 5)
        expected = reference_dcg(ranks[rows], gains, 5) / ideal if ideal else np.nan
        np.testing.assert_allclose(ours[i], expected, rtol=1e-12)


def test_labels_must_not_be_negative():
    with pytest.raises(ValueError):
        metrics.ndcg_at_k(np.array([0, 0]), np.array([1, 2]), np.array([1, -1]))


# --- MRR and CTR@k ---------------------------------------------------------------------------


def test_mrr_is_one_over_the_rank_of_the_first_click():
    list_index = np.array([0, 0, 0, 1, 1, 2])
    ranks = np.array([1, 2, 3, 2, 1, 1])
    labels = np.array([0, 0, 2, 1, 3, 0])
    # list 0: first click at rank 3 -> 1/3; list 1: clicks at ranks 2 and 1 -> 1; list 2: none
    np.testing.assert_allclose(metrics.mrr(list_index, ranks, labels), [1 / 3, 1.0, np.nan])


def test_mrr_is_nan_without_clicks():
    assert np.isnan(metrics.mrr(np.zeros(3, dtype=int), np.array([1, 2, 3]), np.zeros(3))).all()


def test_ctr_at_k_is_the_share_of_clicks_in_the_top_k():
    list_index = np.array([0, 0, 0, 0, 1, 1])
    ranks = np.array([1, 2, 3, 4, 1, 2])
    labels = np.array([1, 0, 3, 2, 0, 0])
    # list 0: clicks at ranks 1, 3, 4; top 2 holds one of three; list 1: no clicks
    np.testing.assert_allclose(metrics.ctr_at_k(list_index, ranks, labels, k=2), [1 / 3, np.nan])
    # k beyond the list: every click is in the top k
    np.testing.assert_allclose(metrics.ctr_at_k(list_index, ranks, labels, k=10), [1.0, np.nan])


def test_k_must_be_positive():
    with pytest.raises(ValueError):
        metrics.ctr_at_k(np.array([0]), np.array([1]), np.array([1]), k=0)


# --- debiased NDCG ---------------------------------------------------------------------------


def test_debiased_ndcg_is_the_pooled_plain_dcg_ratio_when_all_propensities_are_one():
    rng = np.random.default_rng(11)
    list_index, logged, labels = shop_lists(rng, 150)
    ranks = metrics.ranks_from_scores(list_index, rng.random(list_index.size))
    parts = metrics.debiased_ndcg_parts(
        list_index, ranks, labels, logged_positions=logged, propensity=FLAT, k=10
    )
    dcg, ideal = [], []
    for i in range(150):
        rows = rows_of(list_index, i)
        gains = 2.0 ** labels[rows] - 1
        if gains.sum():
            dcg.append(reference_dcg(ranks[rows], gains, 10))
            ideal.append(reference_ideal_dcg(gains, 10))
    np.testing.assert_allclose(parts.numerators[np.isfinite(parts.numerators)], dcg)
    np.testing.assert_allclose(parts.denominators[np.isfinite(parts.denominators)], ideal)
    assert pooled_ratio(*parts) == pytest.approx(sum(dcg) / sum(ideal))


def test_debiased_ndcg_by_hand_for_two_lists():
    # eta = 1: propensity(k) = 1/k, so a click logged at position k weighs k.
    list_index = np.array([0, 0, 0, 1, 1, 1, 1])
    logged = np.array([1, 2, 3, 1, 2, 3, 4])
    labels = np.array([0, 1, 0, 1, 0, 0, 3])
    ranks = np.array([2, 1, 3, 1, 2, 3, 4])  # list 0 promotes the click, list 1 keeps the log
    # list 0: weighted gain 1 * 2 = 2 at rank 1 -> DCG 2, ideal 2
    # list 1: 1 * 1 = 1 at rank 1, 7 * 4 = 28 at rank 4 -> DCG 1 + 28/log2(5),
    #         ideal 28 at rank 1 + 1 at rank 2 = 28 + 1/log2(3)
    parts = metrics.debiased_ndcg_parts(
        list_index, ranks, labels, logged_positions=logged, propensity=PropensityModel(eta=1.0)
    )
    np.testing.assert_allclose(parts.numerators, [2.0, 1 + 28 / LOG2_5])
    np.testing.assert_allclose(parts.denominators, [2.0, 28 + 1 / LOG2_3])
    expected = (2 + 1 + 28 / LOG2_5) / (2 + 28 + 1 / LOG2_3)  # = 0.4916...
    result = pooled_ratio(*parts)  # the debiased NDCG@10
    assert result == pytest.approx(expected)
    # The per-list mean would be (1 + 0.526...) / 2: the weights change the answer.
    assert result == pytest.approx(0.4916, abs=1e-4)


def test_per_list_normalisation_would_cancel_the_weight_of_a_single_click():
    list_index = np.array([0, 0, 0, 0])
    labels = np.array([0, 0, 0, 2])
    ranks = np.array([1, 3, 4, 2])
    for eta in (0.0, 0.5, 1.5):
        num, den = metrics.debiased_ndcg_parts(
            list_index,
            ranks,
            labels,
            logged_positions=np.array([1, 2, 3, 4]),
            propensity=PropensityModel(eta=eta),
        )
        np.testing.assert_allclose(num / den, 1 / LOG2_3)  # d(2) / d(1), whatever the weight


def test_debiased_parts_are_nan_for_lists_without_clicks():
    parts = metrics.debiased_ndcg_parts(
        np.array([0, 0, 1, 1]),
        np.array([1, 2, 1, 2]),
        np.array([0, 0, 0, 1]),
        logged_positions=np.array([1, 2, 1, 2]),
        propensity=PropensityModel.default(),
    )
    np.testing.assert_array_equal(np.isnan(parts.numerators), [True, False])
    np.testing.assert_array_equal(np.isnan(parts.denominators), [True, False])


# --- properties ------------------------------------------------------------------------------


@st.composite
def small_lists(draw):
    """A few short lists with coarse scores (many ties), rows interleaved at random."""
    sizes = draw(st.lists(st.integers(1, 12), min_size=1, max_size=8))
    n = sum(sizes)
    list_index = np.repeat(np.arange(len(sizes)), sizes)
    labels = np.array(draw(st.lists(st.integers(0, 3), min_size=n, max_size=n)))
    scores = np.array(draw(st.lists(st.integers(0, 4), min_size=n, max_size=n)), dtype=float)
    logged = np.concatenate([np.arange(1, s + 1) for s in sizes])
    shuffle = np.random.default_rng(draw(st.integers(0, 2**32 - 1))).permutation(n)
    return list_index[shuffle], labels[shuffle], scores[shuffle], logged[shuffle]


def all_metrics(list_index, labels, scores, logged):
    ranks = metrics.ranks_from_scores(list_index, scores)
    num, den = metrics.debiased_ndcg_parts(
        list_index, ranks, labels, logged_positions=logged, propensity=PropensityModel(eta=1.0), k=3
    )
    return np.stack(
        [
            metrics.ndcg_at_k(list_index, ranks, labels, k=3),
            metrics.mrr(list_index, ranks, labels),
            metrics.ctr_at_k(list_index, ranks, labels, k=3),
            num,
            den,
        ]
    )


@settings(max_examples=150, deadline=None)
@given(small_lists())
def test_ndcg_lies_between_zero_and_one_and_is_nan_exactly_without_gain(data):
    list_index, labels, scores, _ = data
    ranks = metrics.ranks_from_scores(list_index, scores)
    for k in (1, 3, 20):
        ndcg = metrics.ndcg_at_k(list_index, ranks, labels, k=k)
        has_gain = np.bincount(list_index, weights=labels) > 0
        assert np.array_equal(np.isfinite(ndcg), has_gain)
        assert np.all((ndcg[has_gain] >= 0) & (ndcg[has_gain] <= 1 + 1e-12))


@settings(max_examples=150, deadline=None)
@given(small_lists())
def test_ranks_are_a_permutation_of_one_to_the_list_size(data):
    list_index, _, scores, _ = data
    ranks = metrics.ranks_from_scores(list_index, scores)
    for i in np.unique(list_index):
        assert sorted(ranks[list_index == i]) == list(range(1, np.count_nonzero(list_index == i) + 1))


@settings(max_examples=100, deadline=None)
@given(small_lists(), st.integers(0, 2**32 - 1))
def test_metrics_do_not_depend_on_how_the_lists_are_interleaved_or_numbered(data, seed):
    list_index, labels, scores, logged = data
    rng = np.random.default_rng(seed)
    order = interleave_keeping_order_within_lists(list_index, rng)
    renumber = rng.permutation(list_index.max() + 1)
    moved = all_metrics(renumber[list_index[order]], labels[order], scores[order], logged[order])
    np.testing.assert_allclose(moved[:, renumber], all_metrics(list_index, labels, scores, logged))
