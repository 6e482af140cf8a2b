"""Statistics of online experiments: pure functions over arrays (numpy and scipy, no Django).

Every difference is *challenger − control*: a positive preference or difference favours the
challenger. Each function states its definition; ``tests/unit/experiments`` checks each
against cases computed by hand, and ``tests/model/test_experiment_false_alarms.py`` shows by
simulation that the tests keep their false-alarm rate on A/A experiments.

**Interleaving** (one value per search, from the credited clicks of ``interleaving``):
``search_outcomes`` (win +1, loss −1, tie 0), ``preference_summarise`` (wins, losses, ties and
the preference ``(wins − losses) / searches with a click``), ``preference_interval`` (a
percentile bootstrap over searches, or over users when the searches carry user ids),
``sign_test_p`` (the two-sided exact sign test, for a sample size fixed in advance) and
``sign_sequential_p`` (the same question as an always-valid p-value, for continuous
monitoring).

**A/B** (the user is the unit: a user's searches are not independent of each other):
``ratio_estimate`` (a rate such as clicked searches per search as a ratio of per-user sums,
with its delta-method variance), ``ratio_difference`` (the difference of the two arms with a
95% interval, the fixed-horizon z-test p-value and the always-valid mixture SPRT p-value).

**Tests valid under continuous monitoring.** A p-value read once at a sample size fixed in
advance is valid; read after every search and acted on the first time it dips below alpha,
it is not (on A/A data the false-alarm rate climbs far above alpha). Decisions that a beat
task takes every few minutes therefore use *always-valid p-values* from mixture sequential
probability ratio tests (Robbins 1970; Johari, Koomen, Pekelis and Walsh, "Always valid
inference", Operations Research 2022): ``p_n = min(1, 1 / Λ_n)`` where ``Λ_n`` is a likelihood
ratio mixed over the alternatives, a non-negative martingale under the null hypothesis, so by
Ville's inequality ``P(Λ_n ≥ 1/α for some n) ≤ α`` whenever one looks.
"""

from __future__ import annotations

import math
from typing import NamedTuple

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import special, stats

__all__ = [
    "MIXTURE_RELATIVE_EFFECT",
    "SIGN_MIXTURE_CONCENTRATION",
    "Difference",
    "Interval",
    "PreferenceSummary",
    "RatioEstimate",
    "msprt_p",
    "normal_test_p",
    "preference_interval",
    "preference_summarise",
    "ratio_difference",
    "ratio_estimate",
    "ratio_from_sums",
    "search_outcomes",
    "sign_sequential_log_ratio",
    "sign_sequential_p",
    "sign_test_p",
]

SIGN_MIXTURE_CONCENTRATION = 10.0
"""``a`` of the Beta(a, a) mixture over the challenger's win probability in
``sign_sequential_p``. Any ``a > 0`` gives a valid test; 10 spreads the mixture over win
probabilities of about 0.4 to 0.6, where ranking differences live (a simulation over
a = 2 .. 100 needed the fewest searches to detect win probabilities of 0.55 and 0.6 at
a = 5 to 20)."""

MIXTURE_RELATIVE_EFFECT = 0.1
"""The mixture SPRT of an A/B rate mixes over differences ``N(0, τ²)`` with ``τ`` this share
of the control's rate: tuned to detect relative changes of around 10%."""

# Bound on the entries of one matrix of bootstrap draws (32 MB of intp).
_DRAWS_PER_CHUNK = 1 << 22

FloatArray = NDArray[np.float64]


class Interval(NamedTuple):
    """A 95% (or ``confidence``) interval; ``(nan, nan)`` when the data cannot give one."""

    low: float
    high: float


# --------------------------------------------------------------------------------------------
# Interleaving
# --------------------------------------------------------------------------------------------


def search_outcomes(control_credit: ArrayLike, challenger_credit: ArrayLike) -> NDArray[np.int64]:
    """Per search: ``+1`` (the challenger wins: its team has more credit), ``−1`` (it loses)
    or ``0`` (a tie, including no credit at all): ``sign(challenger − control)``."""
    control = np.asarray(control_credit, dtype=np.int64)
    challenger = np.asarray(challenger_credit, dtype=np.int64)
    if control.shape != challenger.shape:
        raise ValueError("one control and one challenger credit per search")
    return np.sign(challenger - control)


class PreferenceSummary(NamedTuple):
    searches: int
    searches_with_click: int
    wins: int
    losses: int
    ties: int  # among the searches with a click
    preference: float  # (wins − losses) / searches_with_click; NaN without a click


def preference_summarise(outcomes: ArrayLike, clicked: ArrayLike) -> PreferenceSummary:
    """Counts and the preference of the challenger over the searches of an interleaving.

    ``outcomes`` per search as ``search_outcomes`` gives them, ``clicked`` whether the user
    clicked anything in it (shared products too: such a search is a tie). The preference is
    ``(wins − losses) / searches with a click``, in [−1, 1]."""
    outcome = np.asarray(outcomes, dtype=np.int64)
    with_click = np.asarray(clicked, dtype=bool)
    if outcome.shape != with_click.shape:
        raise ValueError("one outcome and one clicked flag per search")
    if np.any(outcome[~with_click] != 0):
        raise ValueError("a search without a click cannot be won or lost")
    wins, losses = int((outcome > 0).sum()), int((outcome < 0).sum())
    clicked_count = int(with_click.sum())
    return PreferenceSummary(
        searches=int(outcome.size),
        searches_with_click=clicked_count,
        wins=wins,
        losses=losses,
        ties=clicked_count - wins - losses,
        preference=(wins - losses) / clicked_count if clicked_count else math.nan,
    )


def preference_interval(
    outcomes: ArrayLike,
    *,
    clusters: ArrayLike | None = None,
    n_resamples: int = 1000,
    confidence: float = 0.95,
    seed: int = 0,
) -> Interval:
    """Percentile bootstrap interval of the preference, over the searches with a click.

    ``outcomes``: +1 / −1 / 0 of each search with a click. Without ``clusters`` each search is
    resampled on its own. With ``clusters`` (a user id per search) whole users are resampled
    with replacement, each with all their searches, and the preference of a resample is the
    sum of its outcomes over its number of searches: a user's searches are not independent,
    so this interval is the honest one where users search more than once. Deterministic for
    ``seed``; ``(nan, nan)`` without searches."""
    outcome = np.asarray(outcomes, dtype=np.float64)
    if outcome.ndim != 1:
        raise ValueError("outcomes must be 1-D")
    if outcome.size == 0:
        return Interval(math.nan, math.nan)
    if clusters is None:
        group = np.arange(outcome.size)
    else:
        _, group = np.unique(np.asarray(clusters), return_inverse=True)
        if group.shape != outcome.shape:
            raise ValueError("one cluster per search")
    totals = np.bincount(group, weights=outcome).astype(np.float64)
    sizes = np.bincount(group).astype(np.float64)
    statistics = _cluster_resample_ratios(totals, sizes, n_resamples=n_resamples, seed=seed)
    tail = (1.0 - confidence) / 2.0
    low, high = np.quantile(statistics, [tail, 1.0 - tail])
    return Interval(float(low), float(high))


def sign_test_p(wins: int, losses: int) -> float:
    """Two-sided exact sign test: the probability, if wins and losses were equally likely,
    of a split at least as uneven as ``wins : losses`` (ties left out). 1 without either.
    Valid for a number of searches fixed in advance and read once."""
    if wins < 0 or losses < 0:
        raise ValueError("counts must be >= 0")
    if wins + losses == 0:
        return 1.0
    return float(stats.binomtest(wins, wins + losses, 0.5).pvalue)


def sign_sequential_log_ratio(
    wins: ArrayLike, losses: ArrayLike, *, concentration: float = SIGN_MIXTURE_CONCENTRATION
) -> FloatArray:
    """``log Λ`` of the mixture sign test, elementwise (arrays of running counts work).

    ``Λ = ∫ q^W (1 − q)^L dBeta(q; a, a) / (1/2)^(W + L) = 2^(W + L) B(W + a, L + a) / B(a, a)``:
    the likelihood of the wins and losses when the challenger wins a decisive search with
    probability ``q``, mixed over ``q ~ Beta(a, a)``, against ``q = 1/2``. Under ``q = 1/2`` it
    is a martingale over decisive searches (ties leave it unchanged)."""
    w = np.asarray(wins, dtype=np.float64)
    loss = np.asarray(losses, dtype=np.float64)
    if concentration <= 0:
        raise ValueError("concentration must be > 0")
    a = concentration
    return special.betaln(w + a, loss + a) - special.betaln(a, a) + (w + loss) * math.log(2.0)


def sign_sequential_p(wins: int, losses: int, *, concentration: float = SIGN_MIXTURE_CONCENTRATION) -> float:
    """Always-valid two-sided p-value of "wins and losses are equally likely":
    ``min(1, 1 / Λ)`` with ``Λ`` from ``sign_sequential_log_ratio``. Stopping the first time
    it is below ``alpha``, however often it is looked at, raises a false alarm with
    probability at most ``alpha``."""
    log_ratio = float(sign_sequential_log_ratio(wins, losses, concentration=concentration))
    return float(min(1.0, math.exp(-log_ratio)))


# --------------------------------------------------------------------------------------------
# A/B: rates per arm with the user as the unit
# --------------------------------------------------------------------------------------------


class RatioEstimate(NamedTuple):
    value: float  # sum(numerators) / sum(denominators)
    variance: float  # delta-method variance of value; NaN with fewer than 2 units
    units: int


def ratio_from_sums(
    n: ArrayLike, sx: ArrayLike, sy: ArrayLike, sxx: ArrayLike, syy: ArrayLike, sxy: ArrayLike
) -> tuple[FloatArray, FloatArray]:
    """``(ratio, variance)`` from the sums over ``n`` units of ``x``, ``y``, ``x²``, ``y²`` and
    ``xy`` (elementwise, so running sums give the estimate after every unit).

    ``ratio = Σx / Σy``; its delta-method variance (Deng, Knoblich and Lu, "Applying the delta
    method in metric analytics", KDD 2018) is
    ``(s²_x − 2 ratio s_xy + ratio² s²_y) / (n ȳ²)`` with the sample variances ``s²`` and
    covariance ``s_xy`` (denominator ``n − 1``) and ``ȳ = Σy / n``. NaN where ``n < 2`` or
    ``Σy = 0``."""
    count, x, y = (np.asarray(v, dtype=np.float64) for v in (n, sx, sy))
    xx, yy, xy = (np.asarray(v, dtype=np.float64) for v in (sxx, syy, sxy))
    with np.errstate(divide="ignore", invalid="ignore"):
        ratio = np.where(y != 0, x / y, np.nan)
        var_x = (xx - x * x / count) / (count - 1)
        var_y = (yy - y * y / count) / (count - 1)
        cov = (xy - x * y / count) / (count - 1)
        mean_y = y / count
        variance = (var_x - 2 * ratio * cov + ratio**2 * var_y) / (count * mean_y**2)
    variance = np.where((count >= 2) & (y != 0), np.maximum(variance, 0.0), np.nan)
    return ratio, variance


def ratio_estimate(numerators: ArrayLike, denominators: ArrayLike) -> RatioEstimate:
    """A rate over units (users): ``Σ numerators / Σ denominators`` (clicked searches over
    searches, say) with the delta-method variance of ``ratio_from_sums``."""
    x = np.asarray(numerators, dtype=np.float64)
    y = np.asarray(denominators, dtype=np.float64)
    if x.shape != y.shape or x.ndim != 1:
        raise ValueError("one numerator and one denominator per unit")
    ratio, variance = ratio_from_sums(x.size, x.sum(), y.sum(), x @ x, y @ y, x @ y)
    return RatioEstimate(value=float(ratio), variance=float(variance), units=int(x.size))


def normal_test_p(difference: ArrayLike, variance: ArrayLike) -> FloatArray:
    """Two-sided p-value of the z-test ``difference / sqrt(variance)`` (fixed horizon)."""
    d = np.asarray(difference, dtype=np.float64)
    v = np.asarray(variance, dtype=np.float64)
    with np.errstate(divide="ignore", invalid="ignore"):
        z = np.abs(d) / np.sqrt(v)
    return np.where(v > 0, 2.0 * stats.norm.sf(z), np.nan)


def msprt_p(difference: ArrayLike, variance: ArrayLike, tau: ArrayLike) -> FloatArray:
    """Always-valid p-value of "no difference" from the normal mixture SPRT.

    With the estimate ``d ~ N(θ, V)`` and the mixture ``θ ~ N(0, τ²)``:
    ``Λ = N(d; 0, V + τ²) / N(d; 0, V) = sqrt(V / (V + τ²)) · exp(d² τ² / (2 V (V + τ²)))``,
    and ``p = min(1, 1 / Λ)``. Elementwise; NaN where ``V`` is not positive."""
    d = np.asarray(difference, dtype=np.float64)
    v = np.asarray(variance, dtype=np.float64)
    t2 = np.asarray(tau, dtype=np.float64) ** 2
    with np.errstate(divide="ignore", invalid="ignore"):
        log_ratio = 0.5 * np.log(v / (v + t2)) + d * d * t2 / (2.0 * v * (v + t2))
        p = np.minimum(1.0, np.exp(-log_ratio))
    return np.where(v > 0, p, np.nan)


class Difference(NamedTuple):
    control: float
    challenger: float
    difference: float  # challenger − control
    low: float  # the 95% (``confidence``) interval of the difference
    high: float
    p_value: float  # fixed-horizon z-test, two-sided
    sequential_p: float  # always-valid mixture SPRT


def ratio_difference(
    control: RatioEstimate,
    challenger: RatioEstimate,
    *,
    relative_effect: float = MIXTURE_RELATIVE_EFFECT,
    confidence: float = 0.95,
) -> Difference:
    """The challenger's rate minus the control's, the arms independent:
    ``V = V_control + V_challenger``, interval ``d ± z V^½``, the z-test p-value and the
    mixture SPRT p-value with ``τ = relative_effect × control rate``."""
    d = challenger.value - control.value
    v = challenger.variance + control.variance
    if not (math.isfinite(d) and math.isfinite(v)):
        return Difference(control.value, challenger.value, d, math.nan, math.nan, math.nan, math.nan)
    half = float(stats.norm.ppf(0.5 + confidence / 2.0)) * math.sqrt(v)
    tau = relative_effect * abs(control.value)  # a control rate of 0 gives τ = 0: p = 1
    return Difference(
        control=control.value,
        challenger=challenger.value,
        difference=d,
        low=d - half,
        high=d + half,
        p_value=float(normal_test_p(d, v)),
        sequential_p=float(msprt_p(d, v, tau)),
    )


# --------------------------------------------------------------------------------------------
# Internals
# --------------------------------------------------------------------------------------------


def _cluster_resample_ratios(
    totals: FloatArray, sizes: FloatArray, *, n_resamples: int, seed: int
) -> FloatArray:
    """``Σ totals / Σ sizes`` over ``n_resamples`` draws of the clusters with replacement."""
    if n_resamples < 1:
        raise ValueError("n_resamples must be >= 1")
    clusters = totals.size
    rng = np.random.default_rng(seed)
    ratios = np.empty(n_resamples)
    per_chunk = max(1, _DRAWS_PER_CHUNK // clusters)
    done = 0
    while done < n_resamples:
        draws = rng.integers(0, clusters, size=(min(per_chunk, n_resamples - done), clusters))
        ratios[done : done + len(draws)] = totals[draws].sum(axis=1) / sizes[draws].sum(axis=1)
        done += len(draws)
    return ratios
