"""Drift monitoring's reads: the latest report, and the CTR of the last day and of the days
before it."""

from __future__ import annotations

from datetime import datetime, timedelta

from django.db.models import Count, Exists, OuterRef, Q

from catalog.models import Event, SearchRequest
from ranking.models import DriftReport


def drift_report_latest_get() -> DriftReport | None:
    return DriftReport.objects.select_related("model_version").first()


def ctr_rates_get(*, now: datetime, trailing_days: int) -> tuple[float | None, float | None]:
    """The share of searches with a click in the last 24 hours, and over the ``trailing_days``
    days before them (None where there were no searches). Searches are the impression log's
    rows; a click counts when it carries the search's ``request_id``."""
    day_start = now - timedelta(days=1)
    clicked = Exists(Event.objects.filter(request_id=OuterRef("request_id"), event_type="click"))
    counts = (
        SearchRequest.objects.filter(
            timestamp__gte=day_start - timedelta(days=trailing_days), timestamp__lt=now
        )
        .annotate(clicked=clicked)
        .aggregate(
            day=Count("request_id", filter=Q(timestamp__gte=day_start)),
            day_clicked=Count("request_id", filter=Q(timestamp__gte=day_start, clicked=True)),
            trailing=Count("request_id", filter=Q(timestamp__lt=day_start)),
            trailing_clicked=Count("request_id", filter=Q(timestamp__lt=day_start, clicked=True)),
        )
    )
    rate = lambda part, whole: counts[part] / counts[whole] if counts[whole] else None  # noqa: E731
    return rate("day_clicked", "day"), rate("trailing_clicked", "trailing")
