"""Offline ranking metrics over many lists at once (numpy only, no Django).

**Representation.** The long format of ``training.long_format``: the rows of all lists
concatenated, ``list_index`` naming each row's list. A ranker is evaluated through the
``ranks`` it gives (1-based within each list): ``ranks_from_scores`` turns a model's scores
into ranks, and the logged positions are the ranks of the logging policy. ``labels`` are
graded 0..3 (purchase 3, add to cart 2, click 1, shown without a click 0); a *click* is
``label > 0``.

**Per-list results.** Per-list metrics return one float per list, ``NaN`` where the metric
is undefined for that list (no gain, no click). Such a list says nothing about any ranker,
so average with ``np.nanmean``: the same lists then drop out for every ranker, and the
paired bootstrap (``training.statistics``) drops them too. ``n_lists`` fixes ``L`` when the
last lists have no rows here (otherwise ``L = max(list_index) + 1``).

**Vectorised.** Evaluation runs over up to ~500,000 lists: nothing loops over lists in
Python. Per-list sums are ``np.bincount`` with weights, per-list orders one stable sort of
all rows, and only rows with a gain (a few percent) enter the ideal orders.
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from training.long_format import FloatArray, IntArray, list_index_checked, rows_checked
from training.propensity import PropensityModel
from training.statistics import PooledParts

__all__ = [
    "ctr_at_k",
    "debiased_ndcg_parts",
    "gains_from_labels",
    "mrr",
    "ndcg_at_k",
    "random_scores",
    "ranks_from_scores",
]


# --------------------------------------------------------------------------------------------
# Ranks and gains
# --------------------------------------------------------------------------------------------


def ranks_from_scores(list_index: ArrayLike, scores: ArrayLike) -> IntArray:
    """The 1-based rank of each row within its list, by descending score.

    Ties keep the row order within the list (a stable sort: the input, i.e. logged, order
    wins). ``NaN`` scores rank last, in row order.
    """
    idx, _ = list_index_checked(list_index, None)
    return _ranks(idx, rows_checked("scores", scores, idx.size))


def random_scores(list_index: ArrayLike, seed: int = 0) -> FloatArray:
    """Uniform random scores, one per row: the random baseline ranker (deterministic per seed)."""
    idx, _ = list_index_checked(list_index, None)
    return np.random.default_rng(seed).random(idx.size)


def gains_from_labels(labels: ArrayLike) -> FloatArray:
    """The graded gain ``2**label - 1``: 0, 1, 3, 7 for shown, click, cart, purchase."""
    rel = np.asarray(labels, dtype=np.float64)
    if rel.size and not (np.all(np.isfinite(rel)) and rel.min() >= 0):
        raise ValueError("labels must be finite and >= 0")
    return np.exp2(rel) - 1.0


# --------------------------------------------------------------------------------------------
# Per-list metrics
# --------------------------------------------------------------------------------------------


def ndcg_at_k(
    list_index: ArrayLike, ranks: ArrayLike, labels: ArrayLike, *, k: int = 10, n_lists: int | None = None
) -> FloatArray:
    """NDCG@k per list.

    ``DCG@k = sum over rows with rank <= k of (2**label - 1) / log2(rank + 1)``, divided by
    the ideal DCG@k of the same list (its rows sorted by gain). ``NaN`` for a list whose
    ideal DCG is 0 (no row with a gain): such a list cannot tell rankers apart. Note that
    ``sklearn.metrics.ndcg_score`` scores these lists 0 and LightGBM's ``ndcg`` 1, which
    moves the mean by the share of such lists; here they drop out of ``np.nanmean``.
    """
    idx, n, rank, label = _ranked_rows(list_index, ranks, labels, n_lists, k)
    return _ratio_or_nan(*_dcg_and_ideal(idx, rank, gains_from_labels(label), k, n))


def mrr(
    list_index: ArrayLike, ranks: ArrayLike, labels: ArrayLike, *, n_lists: int | None = None
) -> FloatArray:
    """Reciprocal rank per list: ``1 / rank`` of the highest-ranked row with ``label > 0``.

    ``NaN`` for a list without any click. The mean over lists is the MRR.
    """
    idx, n, rank, label = _ranked_rows(list_index, ranks, labels, n_lists)
    clicked = label > 0
    best = np.full(n, np.inf)
    np.minimum.at(best, idx[clicked], rank[clicked])
    return np.where(np.isfinite(best), 1.0 / best, np.nan)


def ctr_at_k(
    list_index: ArrayLike, ranks: ArrayLike, labels: ArrayLike, *, k: int = 10, n_lists: int | None = None
) -> FloatArray:
    """The share of a list's clicks (``label > 0``) that the ranker places in its top ``k``.

    ``clicks with rank <= k / clicks``, in [0, 1] (a click recall@k: how many of the
    products users wanted the ranker would have shown above the fold). ``NaN`` for a list
    without clicks.
    """
    idx, n, rank, label = _ranked_rows(list_index, ranks, labels, n_lists, k)
    clicked = label > 0
    total = np.bincount(idx[clicked], minlength=n).astype(np.float64)
    top = np.bincount(idx[clicked & (rank <= k)], minlength=n).astype(np.float64)
    return _ratio_or_nan(top, total)


# --------------------------------------------------------------------------------------------
# Debiased (propensity-weighted) NDCG, pooled
# --------------------------------------------------------------------------------------------


def debiased_ndcg_parts(
    list_index: ArrayLike,
    ranks: ArrayLike,
    labels: ArrayLike,
    *,
    logged_positions: ArrayLike,
    propensity: PropensityModel,
    k: int = 10,
    n_lists: int | None = None,
) -> PooledParts:
    """Per-list parts of the propensity-weighted NDCG@k, to be pooled over lists.

    Each clicked row (``label > 0``) has the weighted gain
    ``(2**label - 1) / propensity(its logged position)`` (inverse propensity scoring: a
    click at a rarely examined position stands for more clicks that did not happen).
    Per list, the numerator is the weighted DCG@k under the evaluated ``ranks``
    (discount ``1 / log2(rank + 1)``, ranks ``<= k``) and the denominator the ideal
    weighted DCG@k (the list's rows sorted by weighted gain). Both are NaN for a list
    without clicks. The metric is ``pooled_ratio(numerators, denominators)``
    (``training.statistics``): ``sum(numerators) / sum(denominators)`` over the lists with
    a click.

    Why pooled and not a mean of per-list ratios: per-list normalisation cancels the
    weights. A list with one click scores ``w g d(rank) / (w g d(1)) = d(rank)`` whatever
    its weight, and with two clicks only the ratio of the two weights is left, so a mean
    of per-list ratios is (nearly) the biased NDCG again. Pooling keeps each list's
    weight in the sum, so lists whose clicks were unlikely to be seen count for more.
    """
    idx, n, rank, label = _ranked_rows(list_index, ranks, labels, n_lists, k)
    logged = rows_checked("logged_positions", logged_positions, idx.size)
    gains = gains_from_labels(label)
    has_gain = gains > 0
    weighted = np.zeros_like(gains)  # only the rows with a gain are weighted (and need a position)
    weighted[has_gain] = gains[has_gain] * propensity.weights(logged[has_gain])
    numerators, denominators = _dcg_and_ideal(idx, rank, weighted, k, n)
    clicked_list = np.bincount(idx[has_gain], minlength=n) > 0
    numerators[~clicked_list] = np.nan
    denominators[~clicked_list] = np.nan
    return PooledParts(numerators, denominators)


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------


def _ranked_rows(
    list_index: ArrayLike, ranks: ArrayLike, labels: ArrayLike, n_lists: int | None, k: int = 1
) -> tuple[NDArray[np.intp], int, FloatArray, FloatArray]:
    """The checked inputs of a per-list metric: list index, number of lists, ranks, labels."""
    idx, n = list_index_checked(list_index, n_lists)
    rank = rows_checked("ranks", ranks, idx.size)
    label = rows_checked("labels", labels, idx.size)
    if k < 1:
        raise ValueError("k must be >= 1")
    return idx, n, rank, label


def _ranks(idx: NDArray[np.intp], scores: FloatArray) -> IntArray:
    """Ranks within lists by descending score, stable; the caller has validated the inputs."""
    n = idx.size
    if n == 0:
        return np.zeros(0, dtype=np.int64)
    order = _stable_order(idx, scores)
    sizes = np.bincount(idx)
    starts = np.cumsum(sizes) - sizes
    ranks = np.empty(n, dtype=np.int64)
    # In the sorted order the lists come one after another, so each row's list start is a repeat.
    ranks[order] = np.arange(1, n + 1) - np.repeat(starts, sizes)
    return ranks


def _stable_order(idx: NDArray[np.intp], scores: FloatArray) -> NDArray[np.intp]:
    """The row order by list, then descending score, then row: ``np.lexsort((-scores, idx))``.

    ``lexsort`` (a stable merge sort on floats) takes ~2 s for 3 million rows, so instead:
    1. the dense rank ``g`` of each descending score (equal scores share it; NaN last) from
       one unstable argsort, which the tie-break makes exact;
    2. one integer key ``list * G + g`` per row; with the row number packed into its low
       bits, a plain (SIMD) sort of the keys is a stable sort and the low bits are the order.
       Where the three do not fit into 63 bits, a stable argsort of the key does the same.
    """
    n = idx.size
    key = -scores
    by_score = np.argsort(key)  # NaN last
    sorted_key = np.sort(key)  # the same as key[by_score], and faster than the gather
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.not_equal(sorted_key[1:], sorted_key[:-1], out=new[1:])
    n_numbers = n - int(np.count_nonzero(np.isnan(key)))
    new[n_numbers + 1 :] = False  # the NaNs share the last rank
    dense = np.cumsum(new, dtype=np.int64) - 1
    g = np.empty(n, dtype=np.int64)
    g[by_score] = dense
    combined = idx.astype(np.int64) * (int(dense[-1]) + 1) + g
    row_bits = max(1, (n - 1).bit_length())
    if int(combined.max()).bit_length() + row_bits <= 63:
        packed = np.sort((combined << row_bits) | np.arange(n, dtype=np.int64))
        return (packed & ((1 << row_bits) - 1)).astype(np.intp)
    return np.argsort(combined, kind="stable")


def _dcg(idx: NDArray[np.intp], ranks: FloatArray, gains: FloatArray, k: int, n: int) -> FloatArray:
    top = ranks <= k
    dcg = np.bincount(idx[top], weights=gains[top] / np.log2(ranks[top] + 1.0), minlength=n)
    return dcg.astype(np.float64, copy=False)  # bincount of no rows is an int array


def _dcg_and_ideal(
    idx: NDArray[np.intp], ranks: FloatArray, gains: FloatArray, k: int, n: int
) -> tuple[FloatArray, FloatArray]:
    """Per list, the DCG@k of ``gains`` under ``ranks`` and the ideal DCG@k (the gains sorted)."""
    # Only the rows with a gain enter: the others rank after them in the ideal order and add
    # nothing, so the ranks among these rows (a few percent of all) are the ideal ranks.
    has_gain = gains > 0
    idx, ranks, gains = idx[has_gain], ranks[has_gain], gains[has_gain]
    ideal_ranks = _ranks(idx, gains).astype(np.float64)
    return _dcg(idx, ranks, gains, k, n), _dcg(idx, ideal_ranks, gains, k, n)


def _ratio_or_nan(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out
