"""Drift monitoring's reads: the latest report, and the CTR of the last day and of the days
before it."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime, timedelta
from typing import Any

from django.db.models import Count, Exists, OuterRef, Q

from catalog.models import Event, SearchRequest
from ranking.models import DriftProfile, DriftReport, ModelVersion


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


@dataclass(frozen=True)
class DriftSummary:
    """What a page shows of drift: a one-line status, and the latest report's checks (features
    by PSI, largest first) when there is one."""

    status: str
    flagged: bool = False
    computed_at: str = ""
    features: list[dict[str, Any]] = field(default_factory=list)
    checks: dict[str, Any] = field(default_factory=dict)


def drift_summary_get(*, version: ModelVersion | None = None) -> DriftSummary:
    """The latest report (of ``version`` when given), for the dashboard and the version page."""
    if version is not None and not DriftProfile.objects.filter(model_version=version).exists():
        return DriftSummary(status="No reference profile: registered before drift monitoring kept them.")
    reports = DriftReport.objects.all()
    report = (reports.filter(model_version=version) if version is not None else reports).first()
    if report is None:
        return DriftSummary(status="No drift report yet: drift is checked while a version is in production.")
    result = report.result
    if result.get("status") != "ok":
        return DriftSummary(status=str(result.get("status")), computed_at=result.get("computed_at", ""))
    features = sorted(result["features"], key=lambda row: -(row["psi"] or 0.0))
    return DriftSummary(
        status=(
            f"{'Drift flagged' if report.flagged else 'No drift flagged'} over {result['searches']:,} sampled "
            f"searches ({result['rows']:,} rows) of the last {result['window_hours']:g} h."
        ),
        flagged=report.flagged,
        computed_at=result.get("computed_at", ""),
        features=features,
        checks={key: result[key] for key in ("score", "unseen_queries", "ctr")},
    )
