"""How far two orders of the same search's candidates are apart: what a shadow experiment
reports. Pure Python and numpy/scipy, no Django; one function per measure, each defined in
its docstring, and ``orders_compare`` that averages them over many searches.

``control`` and ``challenger`` are sequences of product ids, best first. The challenger
ranks the same candidates as the control; where one list is cut shorter (a ``limit``), the
measures read both at the length of the shorter one.
"""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from typing import NamedTuple

import numpy as np
from scipy import stats

RBO_PERSISTENCE = 0.9
"""``p`` of rank-biased overlap: the top 10 carry about 86% of the weight."""


def overlap_at_k(control: Sequence, challenger: Sequence, *, k: int = 10) -> float:
    """``|top k of control ∩ top k of challenger| / d`` with ``d = min(k, length)``: 1 when
    the two show the same products above the fold (in any order), 0 when none in common.
    NaN for empty lists."""
    depth = min(k, len(control), len(challenger))
    if depth == 0:
        return math.nan
    return len(set(control[:depth]) & set(challenger[:depth])) / depth


def kendall_tau(control: Sequence, challenger: Sequence) -> float:
    """Kendall's tau between the two orders over the products both contain:
    ``(concordant − discordant) / (n (n − 1) / 2)``, 1 for the same order, −1 for the
    reverse. NaN with fewer than two products in common."""
    position = {item: i for i, item in enumerate(challenger)}
    common = [item for item in control if item in position]
    if len(common) < 2:
        return math.nan
    # The control's ranks of the common products are 0, 1, 2, ...; the challenger's theirs.
    return float(stats.kendalltau(np.arange(len(common)), [position[item] for item in common]).statistic)


def rank_biased_overlap(control: Sequence, challenger: Sequence, *, p: float = RBO_PERSISTENCE) -> float:
    """Extrapolated rank-biased overlap (Webber, Moffat and Zobel, "A similarity measure for
    indefinite rankings", TOIS 2010, eq. 32), at depth ``k`` = the shorter length:

    ``RBO = (X_k / k) p^k + ((1 − p) / p) Σ_{d=1..k} (X_d / d) p^d``

    where ``X_d`` is the number of products the two tops of depth ``d`` share. 1 for the
    same order, 0 for nothing in common; agreement at the top weighs more than below.
    NaN for empty lists."""
    if not 0 < p < 1:
        raise ValueError("p must be in (0, 1)")
    k = min(len(control), len(challenger))
    if k == 0:
        return math.nan
    seen_control: set = set()
    seen_challenger: set = set()
    shared = 0
    total = 0.0
    for depth in range(1, k + 1):
        a, b = control[depth - 1], challenger[depth - 1]
        shared += (a in seen_challenger) + (b in seen_control) + (a == b)
        seen_control.add(a)
        seen_challenger.add(b)
        total += shared / depth * p**depth
    return shared / k * p**k + (1 - p) / p * total


def top_differs(control: Sequence, challenger: Sequence, *, k: int = 3) -> bool:
    """Whether the first ``k`` positions show something different (another product, or the
    same products in another order)."""
    return list(control[:k]) != list(challenger[:k])


class ShadowComparison(NamedTuple):
    searches: int
    overlap_at_10: float  # means over the searches (NaN-free ones)
    kendall_tau: float
    rank_biased_overlap: float
    top3_differs: float  # the share of searches whose top 3 differ


def orders_compare(pairs: Iterable[tuple[Sequence, Sequence]]) -> ShadowComparison:
    """The four measures averaged over searches (``(control, challenger)`` pairs); a measure
    that is undefined for a search (NaN) leaves that search out of its mean."""
    rows = [
        (
            overlap_at_k(control, challenger),
            kendall_tau(control, challenger),
            rank_biased_overlap(control, challenger),
            float(top_differs(control, challenger)),
        )
        for control, challenger in pairs
    ]
    if not rows:
        return ShadowComparison(0, math.nan, math.nan, math.nan, math.nan)
    columns = np.asarray(rows, dtype=np.float64)
    finite = np.isfinite(columns)
    with np.errstate(invalid="ignore"):
        means = np.where(finite, columns, 0.0).sum(axis=0) / finite.sum(axis=0)
    return ShadowComparison(len(rows), *(float(m) for m in means))
