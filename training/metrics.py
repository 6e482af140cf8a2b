"""Offline ranking metrics over many lists at once (numpy and scipy only, no Django).

**Representation ("long" format).** The rows of all lists concatenated. ``list_index[i]`` is
the list row ``i`` belongs to, ``0 .. L-1``; the rows of a list need not be contiguous. A
ranker is evaluated through the ``ranks`` it gives (1-based within each list):
``ranks_from_scores`` turns a model's scores into ranks, and the logged positions are the
ranks of the logging policy. ``labels`` are graded 0..3 (purchase 3, add to cart 2, click 1,
shown without a click 0); a *click* is ``label > 0``.

**Per-list results.** Per-list metrics return one float per list, ``NaN`` where the metric
is undefined for that list (no gain, no click). Such a list says nothing about any ranker,
so average with ``np.nanmean``: the same lists then drop out for every ranker, and the
paired bootstrap drops them too. ``n_lists`` fixes ``L`` when the last lists have no rows
here (otherwise ``L = max(list_index) + 1``).

**Vectorised.** Evaluation runs over up to ~500,000 lists: nothing loops over lists in
Python. Per-list sums are ``np.bincount`` with weights, per-list orders one stable sort of
all rows, and only rows with a gain (a few percent) enter the ideal orders. The bootstrap
draws its resamples as index matrices, in chunks of bounded memory.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal, NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import optimize

__all__ = [
    "DEFAULT_CLIP",
    "DEFAULT_ETA",
    "Interval",
    "PooledParts",
    "PropensityModel",
    "ctr_at_k",
    "debiased_ndcg_at_k",
    "debiased_ndcg_parts",
    "gains_from_labels",
    "mrr",
    "ndcg_at_k",
    "paired_bootstrap_interval",
    "pooled_ratio",
    "pooled_ratio_bootstrap_interval",
    "propensity_fit",
    "random_scores",
    "ranks_from_scores",
]

DEFAULT_ETA = 1.0
"""The position-bias exponent assumed without randomised lists: examination ~ 1 / position."""

DEFAULT_CLIP = 0.05
"""Propensities are clipped below here, so no click weighs more than 1 / 0.05 = 20."""

# Bound on the elements of one chunk of bootstrap indices (32 MB of intp).
_BOOTSTRAP_CHUNK_ELEMENTS = 1 << 22

FloatArray = NDArray[np.float64]
IntArray = NDArray[np.int64]


# --------------------------------------------------------------------------------------------
# Ranks and gains
# --------------------------------------------------------------------------------------------


def ranks_from_scores(list_index: ArrayLike, scores: ArrayLike) -> IntArray:
    """The 1-based rank of each row within its list, by descending score.

    Ties keep the row order within the list (a stable sort: the input, i.e. logged, order
    wins). ``NaN`` scores rank last, in row order.
    """
    idx, _ = _list_index(list_index, None)
    return _ranks(idx, _rows("scores", scores, idx.size))


def random_scores(list_index: ArrayLike, seed: int = 0) -> FloatArray:
    """Uniform random scores, one per row: the random baseline ranker (deterministic per seed)."""
    idx, _ = _list_index(list_index, None)
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
    list_index: ArrayLike,
    ranks: ArrayLike,
    labels: ArrayLike,
    *,
    k: int = 10,
    n_lists: int | None = None,
) -> FloatArray:
    """NDCG@k per list.

    ``DCG@k = sum over rows with rank <= k of (2**label - 1) / log2(rank + 1)``, divided by
    the ideal DCG@k of the same list (its rows sorted by gain). ``NaN`` for a list whose
    ideal DCG is 0 (no row with a gain): such a list cannot tell rankers apart. Note that
    ``sklearn.metrics.ndcg_score`` scores these lists 0 and LightGBM's ``ndcg`` 1, which
    moves the mean by the share of such lists; here they drop out of ``np.nanmean``.
    """
    idx, n = _list_index(list_index, n_lists)
    rank = _rows("ranks", ranks, idx.size)
    gains = _rows("labels", gains_from_labels(labels), idx.size)
    _check_k(k)
    has_gain = gains > 0
    dcg = _dcg(idx[has_gain], rank[has_gain], gains[has_gain], k, n)
    ideal = _ideal_dcg(idx[has_gain], gains[has_gain], k, n)
    return _ratio_or_nan(dcg, ideal)


def mrr(
    list_index: ArrayLike,
    ranks: ArrayLike,
    labels: ArrayLike,
    *,
    n_lists: int | None = None,
) -> FloatArray:
    """Reciprocal rank per list: ``1 / rank`` of the highest-ranked row with ``label > 0``.

    ``NaN`` for a list without any click. The mean over lists is the MRR.
    """
    idx, n = _list_index(list_index, n_lists)
    rank = _rows("ranks", ranks, idx.size)
    clicked = _rows("labels", labels, idx.size) > 0
    best = np.full(n, np.inf)
    np.minimum.at(best, idx[clicked], rank[clicked])
    return np.where(np.isfinite(best), 1.0 / best, np.nan)


def ctr_at_k(
    list_index: ArrayLike,
    ranks: ArrayLike,
    labels: ArrayLike,
    *,
    k: int = 10,
    n_lists: int | None = None,
) -> FloatArray:
    """The share of a list's clicks (``label > 0``) that the ranker places in its top ``k``.

    ``clicks with rank <= k / clicks``, in [0, 1] (a click recall@k: how many of the
    products users wanted the ranker would have shown above the fold). ``NaN`` for a list
    without clicks.
    """
    idx, n = _list_index(list_index, n_lists)
    rank = _rows("ranks", ranks, idx.size)
    clicked = _rows("labels", labels, idx.size) > 0
    _check_k(k)
    total = np.bincount(idx[clicked], minlength=n).astype(np.float64)
    top = np.bincount(idx[clicked & (rank <= k)], minlength=n).astype(np.float64)
    return _ratio_or_nan(top, total)


# --------------------------------------------------------------------------------------------
# Propensities
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class PropensityModel:
    """Position bias as a power law: the click-through rate at position ``k`` is ``a * k**-eta``.

    ``propensity(k) = k**-eta`` (so ``propensity(1) = 1``), clipped below at ``clip``.
    ``source`` is ``"fitted"`` when estimated from randomised lists and ``"default"`` when
    assumed (``eta = 1``, ``a`` unknown: NaN); ``eta_se`` is the standard error of the
    fitted ``eta`` (NaN for the default). The counts say how much data the fit saw.
    """

    eta: float
    a: float = math.nan
    clip: float = DEFAULT_CLIP
    source: Literal["fitted", "default"] = "fitted"
    eta_se: float = math.nan
    n_lists: int = 0
    n_impressions: int = 0
    n_clicks: int = 0

    def __post_init__(self) -> None:
        if not (math.isfinite(self.eta) and self.eta >= 0):
            raise ValueError("eta must be finite and >= 0")
        if not 0 < self.clip <= 1:
            raise ValueError("clip must be in (0, 1]")

    @classmethod
    def default(cls, *, clip: float = DEFAULT_CLIP, **counts: int) -> PropensityModel:
        """The model assumed without (enough) randomised lists: ``eta = 1``, flagged ``default``."""
        return cls(eta=DEFAULT_ETA, clip=clip, source="default", **counts)

    def propensity(self, positions: ArrayLike) -> FloatArray:
        """``max(clip, position**-eta)`` for 1-based positions; 1 at position 1."""
        k = np.asarray(positions, dtype=np.float64)
        if k.size and not k.min() >= 1:
            raise ValueError("positions are 1-based")
        return np.clip(k**-self.eta, self.clip, 1.0)

    def weights(self, positions: ArrayLike) -> FloatArray:
        """Inverse propensities ``1 / propensity(position)``, between 1 and ``1 / clip``."""
        return 1.0 / self.propensity(positions)

    def as_dict(self) -> dict[str, float | int | str]:
        """Plain values for a JSON report."""
        return asdict(self)


def propensity_fit(
    positions: ArrayLike,
    clicked: ArrayLike,
    *,
    list_index: ArrayLike | None = None,
    clip: float = DEFAULT_CLIP,
    min_clicks: int = 20,
    max_eta: float = 3.0,
) -> PropensityModel:
    """Fit ``ctr(k) = a * k**-eta`` to the impressions of randomised lists by maximum likelihood.

    In a list shown in random order relevance is independent of position, so under the
    position-based model the click-through rate at position ``k`` is the examination
    probability times a constant: its decay is the position bias alone. Per-position raw
    CTRs from the ~5% of lists that are randomised are too noisy to use as weights (a few
    hundred clicks over 15 positions), so two parameters are fitted to all positions at
    once: the Bernoulli likelihood of each impression (``positions``, 1-based, and
    ``clicked``), maximised over ``log a < 0`` and ``0 <= eta <= max_eta`` (L-BFGS-B on the
    per-position counts, so the cost does not grow with the data). ``eta_se`` comes from the
    Fisher information at the optimum.

    With fewer than ``min_clicks`` clicks, or impressions at a single position, the data
    cannot pin ``eta`` down and the default model is returned (``source="default"``, with
    the counts). ``list_index`` only serves to count the lists; without it the lists are
    counted by their position-1 rows.
    """
    pos = np.asarray(positions)
    click = np.asarray(clicked).astype(bool)
    if pos.ndim != 1 or click.shape != pos.shape:
        raise ValueError("positions and clicked must be 1-D arrays of the same length")
    if pos.size and not (np.issubdtype(pos.dtype, np.integer) or np.all(pos == np.round(pos))):
        raise ValueError("positions must be whole numbers")
    pos = pos.astype(np.int64)
    if pos.size and pos.min() < 1:
        raise ValueError("positions are 1-based")
    if list_index is not None:
        idx, _ = _list_index(list_index, None)
        n_lists = int(np.unique(idx).size)
    else:
        n_lists = int(np.count_nonzero(pos == 1))
    counts = {"n_lists": n_lists, "n_impressions": int(pos.size), "n_clicks": int(click.sum())}

    shown = np.bincount(pos, minlength=2)[1:].astype(np.float64)
    clicks = np.bincount(pos[click], minlength=shown.size + 1)[1 : shown.size + 1].astype(np.float64)
    seen = shown > 0
    if counts["n_clicks"] < max(min_clicks, 1) or np.count_nonzero(seen) < 2:
        return PropensityModel.default(clip=clip, **counts)
    log_k = np.log(np.flatnonzero(seen) + 1.0)
    n_k, c_k = shown[seen], clicks[seen]
    total = n_k.sum()

    def neg_log_likelihood(theta: FloatArray) -> tuple[float, FloatArray]:
        log_a, eta = theta
        p = np.exp(log_a - eta * log_k)
        ll = c_k * np.log(p) + (n_k - c_k) * np.log1p(-p)
        # d ll / d p * d p / d theta, with d p / d log_a = p and d p / d eta = -p log k.
        residual = (c_k - n_k * p) / (1.0 - p)
        grad = np.array([residual.sum(), -(residual * log_k).sum()])
        return -ll.sum() / total, -grad / total

    # Start at eta = 1 with the Poisson MLE of a for that eta (a click total over sum of n_k/k).
    a0 = c_k.sum() / (n_k * np.exp(-log_k)).sum()
    start = np.array([math.log(min(max(a0, 1e-6), 0.99)), 1.0])
    result = optimize.minimize(
        neg_log_likelihood,
        start,
        jac=True,
        method="L-BFGS-B",
        bounds=[(math.log(1e-9), math.log1p(-1e-9)), (0.0, max_eta)],
    )
    log_a, eta = (float(v) for v in result.x)
    p = np.exp(log_a - eta * log_k)
    # Expected Fisher information of (log a, eta): sum n p / (1 - p) * [1, -log k]^T [1, -log k].
    w = n_k * p / (1.0 - p)
    info = np.array([[w.sum(), -(w * log_k).sum()], [-(w * log_k).sum(), (w * log_k**2).sum()]])
    det = info[0, 0] * info[1, 1] - info[0, 1] ** 2
    eta_se = math.sqrt(info[0, 0] / det) if det > 0 else math.nan
    return PropensityModel(eta=eta, a=math.exp(log_a), clip=clip, source="fitted", eta_se=eta_se, **counts)


# --------------------------------------------------------------------------------------------
# Debiased (propensity-weighted) NDCG, pooled
# --------------------------------------------------------------------------------------------


class PooledParts(NamedTuple):
    """Per-list numerators and denominators of a pooled metric (NaN for lists left out)."""

    numerators: FloatArray
    denominators: FloatArray


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
    without clicks. The metric is ``pooled_ratio(numerators, denominators)``:
    ``sum(numerators) / sum(denominators)`` over the lists with a click.

    Why pooled and not a mean of per-list ratios: per-list normalisation cancels the
    weights. A list with one click scores ``w g d(rank) / (w g d(1)) = d(rank)`` whatever
    its weight, and with two clicks only the ratio of the two weights is left, so a mean
    of per-list ratios is (nearly) the biased NDCG again. Pooling keeps each list's
    weight in the sum, so lists whose clicks were unlikely to be seen count for more.
    """
    idx, n = _list_index(list_index, n_lists)
    rank = _rows("ranks", ranks, idx.size)
    gains = _rows("labels", gains_from_labels(labels), idx.size)
    logged = _rows("logged_positions", logged_positions, idx.size)
    _check_k(k)
    has_gain = gains > 0
    weighted = gains[has_gain] * propensity.weights(logged[has_gain])
    numerators = _dcg(idx[has_gain], rank[has_gain], weighted, k, n)
    denominators = _ideal_dcg(idx[has_gain], weighted, k, n)
    clicked_list = np.bincount(idx[has_gain], minlength=n) > 0
    numerators[~clicked_list] = np.nan
    denominators[~clicked_list] = np.nan
    return PooledParts(numerators, denominators)


def debiased_ndcg_at_k(
    list_index: ArrayLike,
    ranks: ArrayLike,
    labels: ArrayLike,
    *,
    logged_positions: ArrayLike,
    propensity: PropensityModel,
    k: int = 10,
) -> float:
    """The pooled propensity-weighted NDCG@k (see ``debiased_ndcg_parts``) as one number."""
    return pooled_ratio(
        *debiased_ndcg_parts(
            list_index, ranks, labels, logged_positions=logged_positions, propensity=propensity, k=k
        )
    )


def pooled_ratio(numerators: ArrayLike, denominators: ArrayLike) -> float:
    """``sum(numerators) / sum(denominators)`` over lists where both are finite; NaN if none."""
    num = np.asarray(numerators, dtype=np.float64)
    den = np.asarray(denominators, dtype=np.float64)
    keep = np.isfinite(num) & np.isfinite(den)
    total = den[keep].sum()
    return float(num[keep].sum() / total) if total != 0 else math.nan


# --------------------------------------------------------------------------------------------
# Paired bootstrap
# --------------------------------------------------------------------------------------------


class Interval(NamedTuple):
    """A confidence interval; ``(nan, nan)`` when the data cannot give one."""

    low: float
    high: float


def paired_bootstrap_interval(
    a: ArrayLike,
    b: ArrayLike,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval for ``mean(a - b)`` over lists, resampling lists.

    ``a`` and ``b`` are the per-list values of two rankers on the same lists; pairs where
    either is NaN are dropped first (the lists the metric leaves out). Paired: a resample
    draws lists, each with both its values, so the list-to-list variance common to both
    rankers cancels. Deterministic for ``seed``; ``(nan, nan)`` with fewer than 2 pairs.
    """
    x, y = _paired("a", a, "b", b)
    keep = np.isfinite(x) & np.isfinite(y)
    diff = (x - y)[keep]
    if diff.size < 2:
        return Interval(math.nan, math.nan)
    sums = _bootstrap_sums([diff], n_resamples=n_resamples, seed=seed)[0]
    return _percentile_interval(sums / diff.size, confidence)


def pooled_ratio_bootstrap_interval(
    num_a: ArrayLike,
    den_a: ArrayLike,
    num_b: ArrayLike,
    den_b: ArrayLike,
    *,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval for ``pooled_ratio(num_a, den_a) - pooled_ratio(num_b, den_b)``.

    Resamples lists (each with its four values), recomputes both pooled ratios on each
    resample and takes the difference. Lists where any value is NaN are dropped first;
    resamples whose denominators sum to 0 are ignored. Deterministic for ``seed``;
    ``(nan, nan)`` with fewer than 2 lists.
    """
    na, da = _paired("num_a", num_a, "den_a", den_a)
    nb, db = _paired("num_b", num_b, "den_b", den_b)
    if na.shape != nb.shape:
        raise ValueError("both rankers must have values for the same lists")
    keep = np.isfinite(na) & np.isfinite(da) & np.isfinite(nb) & np.isfinite(db)
    if np.count_nonzero(keep) < 2:
        return Interval(math.nan, math.nan)
    same_den = np.array_equal(da[keep], db[keep])
    # With one denominator (the usual case: the ideal DCG depends on the list, not the
    # ranker) the difference is sum(num_a - num_b) / sum(den): two columns instead of four.
    columns = [(na - nb)[keep], da[keep]] if same_den else [na[keep], da[keep], nb[keep], db[keep]]
    sums = _bootstrap_sums(columns, n_resamples=n_resamples, seed=seed)
    with np.errstate(divide="ignore", invalid="ignore"):
        diff = sums[0] / sums[1] if same_den else sums[0] / sums[1] - sums[2] / sums[3]
    return _percentile_interval(diff, confidence)


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------


def _list_index(list_index: ArrayLike, n_lists: int | None) -> tuple[NDArray[np.intp], int]:
    idx = np.asarray(list_index)
    if idx.ndim != 1:
        raise ValueError("list_index must be 1-D")
    if idx.size == 0:
        return idx.astype(np.intp), int(n_lists or 0)
    if not np.issubdtype(idx.dtype, np.integer):
        raise TypeError("list_index must hold integers")
    idx = idx.astype(np.intp, copy=False)
    if idx.min() < 0:
        raise ValueError("list_index must be >= 0")
    needed = int(idx.max()) + 1
    if n_lists is None:
        return idx, needed
    if n_lists < needed:
        raise ValueError(f"n_lists={n_lists} but list_index goes up to {needed - 1}")
    return idx, n_lists


def _rows(name: str, values: ArrayLike, n: int) -> FloatArray:
    array = np.asarray(values, dtype=np.float64)
    if array.shape != (n,):
        raise ValueError(f"{name} must have one value per row ({n}), got shape {array.shape}")
    return array


def _paired(name_x: str, x: ArrayLike, name_y: str, y: ArrayLike) -> tuple[FloatArray, FloatArray]:
    first = np.asarray(x, dtype=np.float64)
    second = np.asarray(y, dtype=np.float64)
    if first.ndim != 1 or first.shape != second.shape:
        raise ValueError(f"{name_x} and {name_y} must be 1-D arrays of the same length")
    return first, second


def _check_k(k: int) -> None:
    if k < 1:
        raise ValueError("k must be >= 1")


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


def _ideal_dcg(idx: NDArray[np.intp], gains: FloatArray, k: int, n: int) -> FloatArray:
    # Called with the rows that have a gain only: the rows without one rank after them in
    # the ideal order and add nothing, so the ranks among these rows are the ideal ranks.
    return _dcg(idx, _ranks(idx, gains).astype(np.float64), gains, k, n)


def _ratio_or_nan(numerator: FloatArray, denominator: FloatArray) -> FloatArray:
    out = np.full(numerator.shape, np.nan)
    np.divide(numerator, denominator, out=out, where=denominator > 0)
    return out


def _bootstrap_sums(columns: list[FloatArray], *, n_resamples: int, seed: int) -> FloatArray:
    """Sums of each column over ``n_resamples`` resamples of its rows (with replacement).

    Shape ``(len(columns), n_resamples)``. The resample indices are drawn as matrices of
    at most ``_BOOTSTRAP_CHUNK_ELEMENTS`` entries and shared by all columns, so every
    column sees the same resampled lists.
    """
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    n = columns[0].size
    rng = np.random.default_rng(seed)
    chunk = max(1, min(n_resamples, _BOOTSTRAP_CHUNK_ELEMENTS // n))
    sums = np.empty((len(columns), n_resamples))
    for start in range(0, n_resamples, chunk):
        stop = min(start + chunk, n_resamples)
        rows = rng.integers(0, n, size=(stop - start, n), dtype=np.intp)
        for j, column in enumerate(columns):
            sums[j, start:stop] = np.take(column, rows).sum(axis=1)
    return sums


def _percentile_interval(statistics: FloatArray, confidence: float) -> Interval:
    if not 0 < confidence < 1:
        raise ValueError("confidence must be in (0, 1)")
    finite = statistics[np.isfinite(statistics)]
    if finite.size == 0:
        return Interval(math.nan, math.nan)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return Interval(float(low), float(high))
