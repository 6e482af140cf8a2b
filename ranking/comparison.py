"""Side by side: two model versions (the compare page) or two rankers on one query (the query
playground). Pure Python and numpy, no Django: settings that differ, feature importance as
shares of the total gain and their difference drawn as an SVG bar chart, ranks and rank
changes, and the features that pushed one product's score up or down.
"""

from __future__ import annotations

import html
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np

from ranking.charts import svg_open

EXPLANATION_FEATURES = 5  # per direction: the 5 that pushed a score up most, the 5 down


@dataclass(frozen=True)
class SettingPair:
    """One setting (a hyperparameter or a window, nested keys joined by dots) of two versions."""

    name: str
    a: Any
    b: Any

    @property
    def differs(self) -> bool:
        return self.a != self.b

    @property
    def a_text(self) -> str:
        return setting_text(self.a)

    @property
    def b_text(self) -> str:
        return setting_text(self.b)


def setting_text(value: Any) -> str:
    """A setting as people read it: a window's two ISO times as "2026-10-19 to 2026-11-02", an
    ISO time at midnight as its date, a missing one as "–", anything else as it prints."""
    if value is None:
        return "–"
    if isinstance(value, list | tuple) and len(value) == 2 and all(isinstance(v, str) for v in value):
        return f"{setting_text(value[0])} to {setting_text(value[1])}"
    if isinstance(value, str) and len(value) >= 19 and value[4] == "-" and value[10] == "T":
        return value[:10] if value[11:19] == "00:00:00" else value
    return str(value)


def _flatten(values: Mapping[str, Any], prefix: str = "") -> dict[str, Any]:
    flat: dict[str, Any] = {}
    for key, value in values.items():
        name = f"{prefix}{key}"
        if isinstance(value, Mapping):
            flat.update(_flatten(value, f"{name}."))
        else:
            flat[name] = value
    return flat


def settings_pair(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[SettingPair]:
    """Every setting either version has, by name; ``None`` where one lacks it."""
    first, second = _flatten(a), _flatten(b)
    return [
        SettingPair(name, first.get(name), second.get(name)) for name in sorted(first.keys() | second.keys())
    ]


@dataclass(frozen=True)
class ImportancePair:
    """A feature's share of each version's total importance, and ``b − a``."""

    feature: str
    a: float
    b: float

    @property
    def difference(self) -> float:
        return self.b - self.a


def _shares(importance: Mapping[str, Any]) -> dict[str, float]:
    values = {name: float(value) for name, value in importance.items() if isinstance(value, int | float)}
    total = sum(v for v in values.values() if math.isfinite(v) and v > 0)
    return {name: (v / total if total > 0 and math.isfinite(v) else 0.0) for name, v in values.items()}


def importance_pair(a: Mapping[str, Any], b: Mapping[str, Any]) -> list[ImportancePair]:
    """Each feature's share of the total gain in ``a`` and in ``b`` (shares, because the total
    gain grows with the data and the trees: two versions' raw gains do not compare), largest
    change first, then by name."""
    first, second = _shares(a), _shares(b)
    pairs = [
        ImportancePair(name, first.get(name, 0.0), second.get(name, 0.0))
        for name in first.keys() | second.keys()
    ]
    return sorted(pairs, key=lambda pair: (-abs(pair.difference), pair.feature))


def importance_difference_svg(pairs: Sequence[ImportancePair], *, label_a: str, label_b: str) -> str:
    """A diverging bar per feature (``b − a``, in percentage points of the total gain): to the
    right where ``label_b`` relies on it more, to the left where less. Self-contained SVG."""
    row, label_width, half, pad = 18, 190, 220, 8
    width, height = label_width + 2 * half + 70, row * (len(pairs) + 2)
    biggest = max((abs(p.difference) for p in pairs), default=0.0) or 1.0
    centre = label_width + half
    title = f"Feature importance: share of the total gain, {label_b} minus {label_a}"
    parts = [
        svg_open(title, width, height, points=len(pairs)),
        f"<title>{html.escape(title)}</title>",
        '<g font-family="sans-serif" font-size="12">',
        f'<text x="{centre - pad}" y="{row - 5}" text-anchor="end" fill="#c62828">'
        f"◀ more in {html.escape(label_a)}</text>",
        f'<text x="{centre + pad}" y="{row - 5}" fill="#2e7d32">more in {html.escape(label_b)} ▶</text>',
        f'<line x1="{centre}" y1="{row}" x2="{centre}" y2="{height - row / 2}" stroke="#999"/>',
    ]
    for i, pair in enumerate(pairs, start=1):
        y = row * i + 3
        length = abs(pair.difference) / biggest * (half - pad)
        x = centre if pair.difference >= 0 else centre - length
        colour = "#2e7d32" if pair.difference >= 0 else "#c62828"
        points = f"{pair.difference * 100:+.1f} pp"
        parts += [
            f'<text x="{label_width - pad}" y="{y + 11}" text-anchor="end">{html.escape(pair.feature)}</text>',
            f'<rect x="{x:.1f}" y="{y}" width="{length:.1f}" height="{row - 6}" fill="{colour}">'
            f"<title>{html.escape(pair.feature)}: {pair.a:.1%} → {pair.b:.1%} ({points})</title></rect>",
            f'<text x="{centre + half + pad}" y="{y + 11}">{points}</text>',
        ]
    parts.append("</g></svg>")
    return "".join(parts)


def ranks_from_order(order: Sequence[int]) -> np.ndarray:
    """``ranks[i]``: the 1-based rank of row ``i`` in ``order`` (row indices, best first)."""
    ranks = np.zeros(len(order), dtype=np.int64)
    ranks[np.asarray(order, dtype=np.int64)] = np.arange(1, len(order) + 1)
    return ranks


def rank_change(rank_from: int, rank_to: int) -> int:
    """Places gained going from one ranker to the other: positive when the product moves up."""
    return rank_from - rank_to


@dataclass(frozen=True)
class Contribution:
    """One feature's value for a product and what it added to the product's raw score."""

    feature: str
    value: float
    contribution: float


def contributions_explain(
    names: Sequence[str],
    values: Sequence[float],
    contributions: Sequence[float],
    *,
    k: int = EXPLANATION_FEATURES,
) -> tuple[list[Contribution], list[Contribution]]:
    """The ``k`` features that pushed the score up most (largest first) and the ``k`` that
    pushed it down most (most negative first), from LightGBM's ``pred_contrib`` row (one
    value per feature, then the bias, which is left out: it is the same for every product)."""
    items = [
        Contribution(name, float(value), float(contribution))
        for name, value, contribution in zip(names, values, contributions[: len(names)], strict=True)
    ]
    up = sorted((c for c in items if c.contribution > 0), key=lambda c: (-c.contribution, c.feature))
    down = sorted((c for c in items if c.contribution < 0), key=lambda c: (c.contribution, c.feature))
    return up[:k], down[:k]


class ComparisonUnavailable(Exception):
    """Two versions cannot be scored on the same lists (no lists, no events): the message says why."""


def difference_of(a: float | None, b: float | None) -> float | None:
    """``a − b``, or None when either is missing."""
    return None if a is None or b is None else a - b


def interval_side(interval: Sequence[float] | None) -> int:
    """Where a paired interval of a difference lies: 1 wholly above 0, -1 wholly below, 0
    when it holds 0 (or is missing)."""
    if interval is None or len(interval) != 2:
        return 0
    return 1 if interval[0] > 0 else -1 if interval[1] < 0 else 0


def window_text(window: Sequence[str] | None) -> str:
    """``["2026-10-19T00:00:00+00:00", "2026-11-02T00:00:00+00:00"]`` as "2026-10-19 to 2026-11-02"
    (the windows start and end at midnight UTC); "–" when missing."""
    if not window or len(window) != 2:
        return "–"
    return f"{str(window[0])[:10]} to {str(window[1])[:10]}"
