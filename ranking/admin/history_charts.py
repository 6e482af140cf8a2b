"""The metric history's charts: each chart's lines declared once, read from KeyMetrics
(``ranking.reports``), drawn by ``ranking.charts`` with the production periods shaded."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime

from ranking.charts import Band, Series, line_chart_svg
from ranking.reports import KeyMetrics
from ranking.selectors import MetricHistoryRow, ProductionPeriod


@dataclass(frozen=True)
class Line:
    name: str
    read: Callable[[KeyMetrics], float | None]
    dashed: bool = False  # baselines are dashed, the model's own metrics solid


# (chart title, its lines). The baselines are scored on each version's own evaluation lists,
# so they move from version to version too: a line per baseline, not a constant.
HISTORY_CHARTS: tuple[tuple[str, tuple[Line, ...]], ...] = (
    (
        "Click metrics on each version's evaluation lists (dashed: baselines' NDCG@10)",
        (
            Line("model NDCG@10", lambda m: m.model.get("ndcg@10")),
            Line("model MRR", lambda m: m.model.get("mrr")),
            Line("model CTR@10", lambda m: m.model.get("ctr@10")),
            Line("bm25", lambda m: m.baselines.get("bm25"), dashed=True),
            Line("popularity", lambda m: m.baselines.get("popularity"), dashed=True),
            Line("logging", lambda m: m.baselines.get("logging"), dashed=True),
            Line("random", lambda m: m.baselines.get("random"), dashed=True),
        ),
    ),
    (
        "Debiased NDCG@10 (what the decision uses) and true NDCG@10 (synthetic data only)",
        (
            Line("model debiased", lambda m: m.debiased_model),
            Line("model true", lambda m: m.truth_model),
            Line("logging debiased", lambda m: m.debiased_logging, dashed=True),
            Line("bm25 true", lambda m: m.truth_bm25, dashed=True),
        ),
    ),
)


def history_charts_svg(
    rows: Sequence[MetricHistoryRow], periods: Sequence[ProductionPeriod], *, now: datetime
) -> list[str]:
    """One SVG per chart of HISTORY_CHARTS: a point per version at its creation time. A line
    with no value in any version (true NDCG@10 on a real shop's data) is left out."""
    bands = [Band(period.start, period.end, f"v{period.version} in production") for period in periods]
    charts = []
    for title, lines in HISTORY_CHARTS:
        series = []
        for line in lines:
            points = [(row.created_at, line.read(row.metrics)) for row in rows]
            if any(value is not None for _, value in points):
                series.append(Series(line.name, points, dashed=line.dashed))
        charts.append(line_chart_svg(title=title, series=series, bands=bands, now=now))
    return charts
