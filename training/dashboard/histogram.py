"""The latency histogram of the traffic roll-up, declared once: fixed log-spaced bins, so the
histograms of any hours add up bin by bin and a percentile of any range of hours is read
from their sum.

Bin ``k`` (0 <= k < BINS) holds the latencies in ``[LOWEST * RATIO**k, LOWEST * RATIO**(k+1))``;
``UNDER`` (-1) those below ``LOWEST`` (0.1 ms), ``OVER`` (BINS) those at ``HIGHEST`` (60 s) or
above. The database assigns the bins (``floor(ln(x / LOWEST) / ln(RATIO))``, see
``training.dashboard.traffic``); this module only reads them. Changing a bound changes what a
stored bin means: delete the ``TrafficHour`` rows then (the roll-up recomputes missing hours).

A percentile is nearest-rank on the bins (the bin that holds the ``ceil(f * n)``-th smallest
latency), reported as the bin's geometric middle, ``LOWEST * RATIO**(k + 0.5)``: the true
nearest-rank latency lies in that bin, so the reported value is within a factor
``sqrt(RATIO)`` of it, a relative error of at most ``RELATIVE_ERROR`` (4.9 %). Below 0.1 ms
it reports ``LOWEST``, at 60 s or above ``HIGHEST`` (a bound, not a middle).

Pure: no Django, so the maths is tested alone.
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Iterable, Mapping

RATIO = 1.1
LOWEST = 0.0001  # seconds: 0.1 ms
HIGHEST = 60.0  # seconds
BINS = math.ceil(math.log(HIGHEST / LOWEST) / math.log(RATIO))  # 140
UNDER = -1
OVER = BINS
RELATIVE_ERROR = math.sqrt(RATIO) - 1

# A histogram: bin index -> count, only the bins that hold something (JSON keys are text).
Histogram = Mapping[int, int]


def histogram_merge(histograms: Iterable[Mapping]) -> Counter[int]:
    """The bin-by-bin sum of ``histograms`` (keys may be text, as stored in JSON)."""
    merged: Counter[int] = Counter()
    for histogram in histograms:
        for index, count in histogram.items():
            merged[int(index)] += count
    return merged


def bin_value(index: int) -> float:
    """What a percentile that falls in bin ``index`` reports: the bin's geometric middle;
    ``LOWEST`` for the underflow bin and ``HIGHEST`` for the overflow bin."""
    if index <= UNDER:
        return LOWEST
    if index >= OVER:
        return HIGHEST
    return LOWEST * RATIO ** (index + 0.5)


def histogram_percentiles(histogram: Mapping, fractions: Iterable[float]) -> tuple[float | None, ...]:
    """Nearest-rank percentiles of ``histogram``: for each fraction ``f``, the value of the
    bin holding the ``max(ceil(f * n), 1)``-th smallest of its ``n`` counts (None when empty)."""
    counts = histogram_merge([histogram])
    total = sum(counts.values())
    if not total:
        return tuple(None for _ in fractions)
    ordered = sorted(counts.items())
    values = []
    for fraction in fractions:
        rank = max(math.ceil(fraction * total), 1)
        seen = 0
        for index, count in ordered:
            seen += count
            if seen >= rank:
                values.append(bin_value(index))
                break
    return tuple(values)
