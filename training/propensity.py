"""The position-bias model: how likely a user is to examine each position of a list.

Pure (numpy, scipy; no Django). ``PropensityModel`` is a power law ``k**-eta``;
``propensity_fit`` estimates it from randomised lists, and its inverse propensities weight
the clicks of the debiased NDCG (``training.metrics.debiased_ndcg_parts``).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass
from typing import Literal

import numpy as np
from numpy.typing import ArrayLike
from scipy import optimize

from training.long_format import FloatArray, IntArray, list_index_checked

__all__ = ["DEFAULT_CLIP", "DEFAULT_ETA", "PropensityModel", "propensity_fit"]

DEFAULT_ETA = 1.0
"""The position-bias exponent assumed without randomised lists: examination ~ 1 / position."""

DEFAULT_CLIP = 0.05
"""Propensities are clipped below here, so no click weighs more than 1 / 0.05 = 20."""


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
    pos, click = _impressions_checked(positions, clicked)
    if list_index is not None:
        idx, _ = list_index_checked(list_index, None)
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
    log_a, eta = _power_law_fit(log_k, shown[seen], clicks[seen], max_eta=max_eta)
    eta_se = _eta_standard_error(log_k, shown[seen], np.exp(log_a - eta * log_k))
    return PropensityModel(eta=eta, a=math.exp(log_a), clip=clip, source="fitted", eta_se=eta_se, **counts)


def _impressions_checked(positions: ArrayLike, clicked: ArrayLike) -> tuple[IntArray, np.ndarray]:
    """Whole 1-based positions as int64 and the clicks as booleans, or ``ValueError``."""
    pos = np.asarray(positions)
    click = np.asarray(clicked).astype(bool)
    if pos.ndim != 1 or click.shape != pos.shape:
        raise ValueError("positions and clicked must be 1-D arrays of the same length")
    if pos.size and not (np.issubdtype(pos.dtype, np.integer) or np.all(pos == np.round(pos))):
        raise ValueError("positions must be whole numbers")
    pos = pos.astype(np.int64)
    if pos.size and pos.min() < 1:
        raise ValueError("positions are 1-based")
    return pos, click


def _power_law_fit(
    log_k: FloatArray, n_k: FloatArray, c_k: FloatArray, *, max_eta: float
) -> tuple[float, float]:
    """``(log a, eta)`` maximising the Bernoulli likelihood of ``c_k`` clicks in ``n_k``
    impressions at the positions ``exp(log_k)``, with ``p = a * k**-eta``."""
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
    return log_a, eta


def _eta_standard_error(log_k: FloatArray, n_k: FloatArray, p: FloatArray) -> float:
    """The standard error of ``eta`` from the expected Fisher information of ``(log a, eta)``:
    ``sum n p / (1 - p) * [1, -log k]^T [1, -log k]``; NaN where it is singular."""
    w = n_k * p / (1.0 - p)
    info = np.array([[w.sum(), -(w * log_k).sum()], [-(w * log_k).sum(), (w * log_k**2).sum()]])
    det = info[0, 0] * info[1, 1] - info[0, 1] ** 2
    return math.sqrt(info[0, 0] / det) if det > 0 else math.nan
