"""Population stability: how far a served distribution has moved from a reference one
(numpy only, no Django).

**Bins.** A reference column is cut at its deciles (``quantile_edges``): the distinct values
of the 10th, 20th, ..., 90th percentiles (nearest rank: values the column holds), each moved up to halfway to the next value the
column holds. Bins are closed on the right, ``(-inf, e1]``, ``(e1, e2]``, ..., ``(ek, +inf)``,
so a value that many rows share (a feature's default, a binary feature's 0 and 1) falls in a
bin of its own and a constant column has one edge and two bins. The halfway move leaves the
reference's shares as they are and keeps a value that many rows share off an edge: a share
of the window's engagement takes the same few values at training and at serving, each moved
a little by the window's total (one click is log1p(1e5 / 1,479) = 4.228 in one window and
4.288 in the next), and an edge at exactly 4.228 would move every such row to the next bin.
The same edges cut the served column (``bin_shares``).

**PSI.** With ``e_i`` the reference share of bin ``i`` and ``a_i`` the served share,

    PSI = sum_i (a_i - e_i) * ln(a_i / e_i)

(Siddiqi, *Credit Risk Scorecards*, 2006). A share of 0 would make a term infinite, so every
share is raised to at least ``EPSILON`` (1e-4) first and the shares are not renormalised: a
bin that empties or fills contributes a large but finite term. The customary reading: below
0.1 no change, 0.1 to 0.2 a moderate shift, above 0.2 a significant one (the default
threshold, ``SEARCHOP_DRIFT["psi_threshold"]``).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

EPSILON = 1e-4
DECILES = np.arange(1, 10) / 10  # 0.1 .. 0.9, each the double nearest its decimal

FloatArray = NDArray[np.float64]


def quantile_edges(reference: ArrayLike, quantiles: ArrayLike = DECILES) -> FloatArray:
    """The distinct values of ``reference`` at ``quantiles``, ascending, each moved halfway to
    the next value ``reference`` holds (the bins' right edges; the largest value stays put)."""
    values = np.asarray(reference, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.zeros(0)
    # Values the column holds (the nearest-rank quantiles), never a point interpolated between two.
    at = np.unique(np.quantile(values, np.asarray(quantiles, dtype=np.float64), method="inverted_cdf"))
    held = np.unique(values)
    above = np.searchsorted(held, at, side="right")  # the index of the next value held
    has_next = above < held.size
    edges = at.copy()
    edges[has_next] = (at[has_next] + held[above[has_next]]) / 2.0
    return edges


def bin_shares(values: ArrayLike, edges: ArrayLike) -> FloatArray:
    """The share of ``values`` in each of the ``len(edges) + 1`` right-closed bins (NaN
    values are left out; an empty column gives zeros)."""
    column = np.asarray(values, dtype=np.float64)
    column = column[~np.isnan(column)]
    cut = np.asarray(edges, dtype=np.float64)
    counts = np.bincount(np.searchsorted(cut, column, side="left"), minlength=cut.size + 1)
    return counts / column.size if column.size else counts.astype(np.float64)


def psi(expected: ArrayLike, actual: ArrayLike, *, epsilon: float = EPSILON) -> float:
    """The population stability index of ``actual`` shares against ``expected`` shares (same
    bins), each share floored at ``epsilon``."""
    e = np.maximum(np.asarray(expected, dtype=np.float64), epsilon)
    a = np.maximum(np.asarray(actual, dtype=np.float64), epsilon)
    if e.shape != a.shape:
        raise ValueError(f"expected {e.shape} and actual {a.shape} shares differ in shape")
    return float(np.sum((a - e) * np.log(a / e)))


def column_profile(reference: ArrayLike) -> dict[str, list[float]]:
    """What a reference column keeps for later comparisons: its bins' edges and shares."""
    edges = quantile_edges(reference)
    return {"edges": edges.tolist(), "shares": bin_shares(reference, edges).tolist()}


def column_psi(profile: dict[str, list[float]], served: ArrayLike) -> float:
    """The PSI of a served column against a reference ``column_profile``."""
    return psi(profile["shares"], bin_shares(served, profile["edges"]))
