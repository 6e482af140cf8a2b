"""The dashboard's charts as SVG text, drawn on the server (no script, no CDN): a line chart
of evenly spaced buckets (gaps where a bucket has no value) with a unit on its axis, and a
vertical bar chart. Pure: numbers and labels in, an SVG string out; every label is escaped.
(``ranking.charts`` draws the metric history: points at their own times, 0..1 metrics; the
opening tag and the palette are its, so every chart of the control room reads alike.)"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from html import escape

from ranking.charts import PALETTE, svg_open

WIDTH, HEIGHT = 640, 220
LEFT, RIGHT, TOP, BOTTOM = 56, 12, 28, 30
GRID = "#e0e0e0"
TEXT = 'font-family="sans-serif" font-size="11" fill="#333"'


@dataclass(frozen=True)
class Series:
    name: str
    values: Sequence[float | None]  # one per x position; None leaves a gap


def nice_ceiling(value: float) -> float:
    """The smallest of 1, 2, 2.5, 5 times a power of ten that is at least ``value`` (1 for 0)."""
    if value <= 0:
        return 1.0
    power = 10 ** math.floor(math.log10(value))
    for step in (1, 2, 2.5, 5, 10):
        if value <= step * power * (1 + 1e-9):
            return step * power
    return 10 * power


def _frame(title: str, top: float, fmt: Callable[[float], str], *, points: int) -> list[str]:
    """The SVG's opening (``ranking.charts.svg_open``), title, horizontal grid and y labels."""
    plot_height = HEIGHT - TOP - BOTTOM
    parts = [
        svg_open(title, WIDTH, HEIGHT, points=points),
        f"<title>{escape(title)}</title>",
        f'<text x="{LEFT}" y="16" {TEXT} font-weight="bold">{escape(title)}</text>',
    ]
    for i in range(5):
        y = TOP + plot_height * (1 - i / 4)
        parts.append(f'<line x1="{LEFT}" x2="{WIDTH - RIGHT}" y1="{y:.1f}" y2="{y:.1f}" stroke="{GRID}"/>')
        parts.append(
            f'<text x="{LEFT - 6}" y="{y + 4:.1f}" text-anchor="end" {TEXT}>{escape(fmt(top * i / 4))}</text>'
        )
    return parts


def _x_labels(labels: Sequence[str], xs: Sequence[float], every: int) -> list[str]:
    return [
        f'<text x="{x:.1f}" y="{HEIGHT - 10}" text-anchor="middle" {TEXT}>{escape(label)}</text>'
        for i, (label, x) in enumerate(zip(labels, xs, strict=True))
        if i % every == 0
    ]


def line_chart_svg(
    *,
    title: str,
    labels: Sequence[str],
    series: Sequence[Series],
    fmt: Callable[[float], str] = "{:g}".format,
) -> str:
    """One line per series over the x positions of ``labels`` (about eight of them shown)."""
    count = len(labels)
    finite = [v for s in series for v in s.values if v is not None]
    top = nice_ceiling(max(finite, default=0.0))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    xs = [LEFT + plot_width * (i / max(count - 1, 1)) for i in range(count)]
    parts = _frame(title, top, fmt, points=len(finite))
    for index, line in enumerate(series):
        colour = PALETTE[index % len(PALETTE)]
        path, dots, pen_down = [], [], False
        for x, value in zip(xs, line.values, strict=True):
            if value is None:
                pen_down = False
                continue
            y = TOP + plot_height * (1 - value / top)
            path.append(f"{'L' if pen_down else 'M'}{x:.1f},{y:.1f}")
            # A dot on each point, so that one between two gaps shows too.
            dots.append(f'<circle cx="{x:.1f}" cy="{y:.1f}" r="1.8" fill="{colour}"/>')
            pen_down = True
        if path:
            parts.append(f'<path d="{" ".join(path)}" fill="none" stroke="{colour}" stroke-width="1.5"/>')
            parts += dots
        legend_x = WIDTH - RIGHT - 130 * (len(series) - index)
        parts.append(f'<rect x="{legend_x}" y="8" width="10" height="10" fill="{colour}"/>')
        parts.append(f'<text x="{legend_x + 14}" y="17" {TEXT}>{escape(line.name)}</text>')
    parts += _x_labels(labels, xs, every=max(math.ceil(count / 8), 1))
    parts.append("</svg>")
    return "".join(parts)


def bar_chart_svg(
    *,
    title: str,
    labels: Sequence[str],
    values: Sequence[float | None],
    fmt: Callable[[float], str] = "{:g}".format,
) -> str:
    """One bar per label (none where the value is None)."""
    count = len(labels)
    drawn = [v for v in values if v is not None]
    top = nice_ceiling(max(drawn, default=0.0))
    plot_width, plot_height = WIDTH - LEFT - RIGHT, HEIGHT - TOP - BOTTOM
    slot = plot_width / max(count, 1)
    xs = [LEFT + slot * (i + 0.5) for i in range(count)]
    parts = _frame(title, top, fmt, points=len(drawn))
    for x, value, label in zip(xs, values, labels, strict=True):
        if value is None:
            continue
        height = plot_height * value / top
        parts.append(
            f'<rect x="{x - slot * 0.35:.1f}" y="{TOP + plot_height - height:.1f}" width="{slot * 0.7:.1f}" '
            f'height="{height:.1f}" fill="{PALETTE[0]}"><title>{escape(label)}: {escape(fmt(value))}</title></rect>'
        )
    parts += _x_labels(labels, xs, every=max(math.ceil(count / 20), 1))
    parts.append("</svg>")
    return "".join(parts)
