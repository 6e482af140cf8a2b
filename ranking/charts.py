"""Charts for the control room as server-side SVG: a line chart over time with shaded periods
(the metric history) and a horizontal bar chart (feature importance).

Pure: numbers and datetimes in, an SVG string out, every text escaped. No script, no external
file, no web font: the page needs nothing from another host, and the chart reads the same
printed or with JavaScript off. Plain SVG is a few dozen lines here, where a chart library
would need its own way of shading production periods and its own pinned dependency.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from html import escape

# A palette that stays apart for colour-blind readers (Okabe-Ito), then greys for baselines.
PALETTE = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#e69f00", "#56b4e9", "#000000")
BAND_FILL = "#2e7d32"
FONT = "font-family: system-ui, sans-serif; font-size: 12px"


@dataclass(frozen=True)
class Series:
    name: str
    points: Sequence[tuple[datetime, float | None]]  # None: no value there (a gap)
    colour: str = ""
    dashed: bool = False


@dataclass(frozen=True)
class Band:
    """A shaded period, e.g. the time a version was in production; ``end`` None: until now."""

    start: datetime
    end: datetime | None
    label: str


@dataclass(frozen=True)
class Frame:
    """Where the plot area sits inside the SVG, and the ranges it maps."""

    width: int
    height: int
    x_min: float
    x_max: float
    y_min: float
    y_max: float
    left: int = 56
    right: int = 190  # the legend's column
    top: int = 28
    bottom: int = 36
    ticks: list[float] = field(default_factory=list)

    def x(self, value: float) -> float:
        span = (self.x_max - self.x_min) or 1.0
        return self.left + (value - self.x_min) / span * (self.width - self.left - self.right)

    def y(self, value: float) -> float:
        span = (self.y_max - self.y_min) or 1.0
        return (
            self.height - self.bottom - (value - self.y_min) / span * (self.height - self.top - self.bottom)
        )


def line_chart_svg(
    *,
    title: str,
    series: Sequence[Series],
    bands: Sequence[Band] = (),
    now: datetime,
    width: int = 1000,
    height: int = 300,
) -> str:
    """Each series as a line with a dot per value over time, the bands shaded behind them
    (the time axis reaches the last band's end), a legend on the right. The y axis spans the values (0..1 metrics: padded, clipped to
    [0, 1]); an empty chart says so instead of drawing axes around nothing."""
    values = [(t, v) for s in series for t, v in s.points if v is not None]
    if not values:
        return _empty(title, width)
    times = [t.timestamp() for t, _ in values]
    # The time axis runs to the end of the last band (now, for the version in production).
    x_min = min(times)
    x_max = max([*times, *((band.end or now).timestamp() for band in bands)])
    if x_max - x_min < 3_600:  # versions registered within the hour: give them room
        x_min, x_max = x_min - 1_800, x_max + 1_800
    low, high = min(v for _, v in values), max(v for _, v in values)
    pad = max((high - low) * 0.1, 0.02)
    frame = Frame(
        width, height, x_min, x_max, max(0.0, low - pad), min(1.0, high + pad) if high <= 1 else high + pad
    )
    parts = [svg_open(title, width, height, points=len(values)), _title(title)]
    parts += [_band(frame, band, now) for band in bands]
    parts += _axes(frame)
    for index, item in enumerate(series):
        colour = item.colour or PALETTE[index % len(PALETTE)]
        parts += _line(frame, item, colour)
        parts.append(_legend_entry(frame, index, item, colour))
    if bands:
        parts.append(_legend_band(frame, len(series)))
    parts.append("</svg>")
    return "\n".join(parts)


def bar_chart_svg(
    *, title: str, bars: Sequence[tuple[str, float]], value_label: str, width: int = 760
) -> str:
    """Horizontal bars in the given order (the caller sorts), each labelled with its name on
    the left and its value at the bar's end; the longest bar spans the plot."""
    if not bars:
        return _empty(title, width)
    row, label_width, top = 18, 190, 28
    height = top + row * len(bars) + 30
    largest = max((value for _, value in bars), default=0.0) or 1.0
    plot = width - label_width - 90
    parts = [svg_open(title, width, height, points=len(bars)), _title(title)]
    for index, (name, value) in enumerate(bars):
        y = top + index * row
        length = max(value, 0.0) / largest * plot
        parts.append(
            f'<text x="{label_width - 6}" y="{y + 13}" text-anchor="end" style="{FONT}">{escape(name)}</text>'
            f'<rect class="bar" x="{label_width}" y="{y + 3}" width="{length:.1f}" height="{row - 6}" '
            f'fill="{PALETTE[0]}"><title>{escape(name)}: {value:,.1f}</title></rect>'
            f'<text x="{label_width + length + 4:.1f}" y="{y + 13}" style="{FONT}">{value:,.1f}</text>'
        )
    parts.append(
        f'<text x="{label_width}" y="{height - 8}" style="{FONT}; fill: #555">{escape(value_label)}</text></svg>'
    )
    return "\n".join(parts)


def svg_open(title: str, width: int, height: int, *, points: int) -> str:
    """The opening tag every chart of the control room shares: ``class="chart"`` and
    ``data-points`` (how many values it draws), which the browser tests check on every page, a
    title for screen readers, and a size that shrinks with the window."""
    return (
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(title)}" '
        f'data-points="{points}" style="max-width: 100%; height: auto">'
    )


def _title(title: str) -> str:
    return f'<text x="8" y="18" style="{FONT}; font-weight: bold">{escape(title)}</text>'


def _empty(title: str, width: int) -> str:
    return (
        f"{svg_open(title, width, 60, points=0)}{_title(title)}"
        f'<text x="8" y="44" style="{FONT}; fill: #555">No values yet.</text></svg>'
    )


def _band(frame: Frame, band: Band, now: datetime) -> str:
    start = max(band.start.timestamp(), frame.x_min)
    end = min((band.end or now).timestamp(), frame.x_max)
    if end <= start:
        return ""
    x0, x1 = frame.x(start), frame.x(end)
    return (
        f'<rect class="band" x="{x0:.1f}" y="{frame.top}" width="{x1 - x0:.1f}" '
        f'height="{frame.height - frame.top - frame.bottom}" fill="{BAND_FILL}" fill-opacity="0.12">'
        f"<title>{escape(band.label)}</title></rect>"
    )


def _axes(frame: Frame) -> list[str]:
    parts = []
    steps = 5
    for i in range(steps + 1):
        value = frame.y_min + (frame.y_max - frame.y_min) * i / steps
        y = frame.y(value)
        parts.append(
            f'<line x1="{frame.left}" x2="{frame.width - frame.right}" y1="{y:.1f}" y2="{y:.1f}" '
            f'stroke="#ddd"/><text x="{frame.left - 6}" y="{y + 4:.1f}" text-anchor="end" '
            f'style="{FONT}">{value:.2f}</text>'
        )
    # Versions registered within days of each other need the hour to tell the ticks apart.
    tick_format = "%Y-%m-%d" if frame.x_max - frame.x_min > 3 * 86_400 else "%m-%d %H:%M"
    for i in range(steps + 1):
        stamp = frame.x_min + (frame.x_max - frame.x_min) * i / steps
        x = frame.x(stamp)
        label = datetime.fromtimestamp(stamp, tz=UTC).strftime(tick_format)
        parts.append(
            f'<text x="{x:.1f}" y="{frame.height - frame.bottom + 16}" text-anchor="middle" '
            f'style="{FONT}">{label}</text>'
        )
    return parts


def _line(frame: Frame, item: Series, colour: str) -> list[str]:
    """The polyline through consecutive values (a None breaks it) and a dot per value."""
    parts: list[str] = []
    run: list[tuple[float, float]] = []
    dash = ' stroke-dasharray="5 4"' if item.dashed else ""
    for when, value in sorted(item.points, key=lambda point: point[0]):
        if value is None:
            parts.append(_polyline(run, colour, dash))
            run = []
            continue
        x, y = frame.x(when.timestamp()), frame.y(value)
        run.append((x, y))
        parts.append(
            f'<circle class="point" cx="{x:.1f}" cy="{y:.1f}" r="{2.5 if item.dashed else 3.5}" '
            f'fill="{colour}"><title>{escape(item.name)} {when:%Y-%m-%d %H:%M}: {value:.4f}</title></circle>'
        )
    parts.append(_polyline(run, colour, dash))
    return [part for part in parts if part]


def _polyline(run: list[tuple[float, float]], colour: str, dash: str) -> str:
    if len(run) < 2:
        return ""
    points = " ".join(f"{x:.1f},{y:.1f}" for x, y in run)
    return f'<polyline points="{points}" fill="none" stroke="{colour}" stroke-width="2"{dash}/>'


def _legend_entry(frame: Frame, index: int, item: Series, colour: str) -> str:
    x, y = frame.width - frame.right + 14, frame.top + 6 + index * 18
    dash = ' stroke-dasharray="5 4"' if item.dashed else ""
    return (
        f'<line x1="{x}" x2="{x + 22}" y1="{y}" y2="{y}" stroke="{colour}" stroke-width="2"{dash}/>'
        f'<text x="{x + 28}" y="{y + 4}" style="{FONT}">{escape(item.name)}</text>'
    )


def _legend_band(frame: Frame, index: int) -> str:
    x, y = frame.width - frame.right + 14, frame.top + 6 + index * 18
    return (
        f'<rect x="{x}" y="{y - 6}" width="22" height="12" fill="{BAND_FILL}" fill-opacity="0.12"/>'
        f'<text x="{x + 28}" y="{y + 4}" style="{FONT}">in production</text>'
    )
