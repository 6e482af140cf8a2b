"""Traffic over a recent time range, computed by the database: every query filters
``timestamp`` to the range (an index on both tables, and on PostgreSQL the monthly partitions
outside the range are pruned) and groups there, so a page moves a few hundred numbers, never
rows.

Searches are the impression log (``SearchRequest``); events and click-through come from the
clickstream (``Event``): CTR is clicks over impression events, so a shop that sends no
impression events has none. Latency is what ``/api/rank`` logged with each request (parse to
ranked order); percentiles are nearest-rank (``percentile_disc`` on PostgreSQL: a latency
some request had).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Aggregate, Count, FloatField, Q, QuerySet
from django.db.models.functions import Trunc

from catalog.models import Event, EventType, SearchRequest

# Positions past this one are grouped into nothing: few lists are longer, and the chart reads.
CTR_POSITIONS = 20
PERCENTILES = (0.5, 0.99)


@dataclass(frozen=True)
class TrafficWindow:
    """A range the dashboard offers: how far back, and the time bucket of its series."""

    name: str
    span: timedelta
    bucket: str  # a Trunc kind: "minute" or "hour"

    @property
    def bucket_minutes(self) -> int:
        return 1 if self.bucket == "minute" else 60


WINDOWS = {
    window.name: window
    for window in (
        TrafficWindow("hour", timedelta(hours=1), "minute"),
        TrafficWindow("day", timedelta(days=1), "hour"),
        TrafficWindow("week", timedelta(days=7), "hour"),
    )
}
DEFAULT_WINDOW = "day"


@dataclass(frozen=True)
class Bucket:
    """One time bucket of the series; rates are per minute, shares in [0, 1] (None: no data)."""

    start: datetime
    searches: int
    fallbacks: int
    events: int
    clicks: int
    p50_seconds: float | None
    p99_seconds: float | None
    searches_per_minute: float
    events_per_minute: float

    @property
    def fallback_share(self) -> float | None:
        return self.fallbacks / self.searches if self.searches else None


@dataclass(frozen=True)
class Rate:
    """Clicks over impressions in one group (an hour, a position)."""

    key: datetime | int
    impressions: int
    clicks: int

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None


@dataclass(frozen=True)
class Traffic:
    window: TrafficWindow
    since: datetime
    until: datetime
    searches: int
    fallbacks: int
    events: int
    p50_seconds: float | None
    p99_seconds: float | None
    buckets: list[Bucket]
    ctr_by_hour: list[Rate]
    ctr_by_position: list[Rate]

    @property
    def minutes(self) -> float:
        return (self.until - self.since).total_seconds() / 60

    @property
    def searches_per_minute(self) -> float:
        return self.searches / self.minutes

    @property
    def events_per_minute(self) -> float:
        return self.events / self.minutes

    @property
    def fallback_share(self) -> float | None:
        return self.fallbacks / self.searches if self.searches else None

    @property
    def clicks(self) -> int:
        return sum(rate.clicks for rate in self.ctr_by_hour)

    @property
    def impressions(self) -> int:
        return sum(rate.impressions for rate in self.ctr_by_hour)

    @property
    def ctr(self) -> float | None:
        return self.clicks / self.impressions if self.impressions else None


class PercentileDisc(Aggregate):
    """PostgreSQL's ``percentile_disc(f) WITHIN GROUP (ORDER BY x)``: the smallest value whose
    cumulative share reaches ``f`` (nearest rank)."""

    function = "percentile_disc"
    template = "%(function)s(%(fraction)s) WITHIN GROUP (ORDER BY %(expressions)s)"
    output_field = FloatField()

    def __init__(self, expression: str, fraction: float, **extra) -> None:
        super().__init__(expression, fraction=repr(float(fraction)), **extra)


def traffic_get(*, window: TrafficWindow, now: datetime) -> Traffic:
    """The traffic of ``[now - window.span, now)``: totals, one bucket per ``window.bucket``
    (every bucket, empty ones as zeros), CTR by hour and by position."""
    until = now
    since = now - window.span
    requests = SearchRequest.objects.filter(timestamp__gte=since, timestamp__lt=until)
    events = Event.objects.filter(timestamp__gte=since, timestamp__lt=until)
    totals = requests.aggregate(searches=Count("id"), fallbacks=Count("id", filter=Q(fallback=True)))
    p50, p99 = latency_percentiles_get(requests=requests)
    return Traffic(
        window=window,
        since=since,
        until=until,
        searches=totals["searches"],
        fallbacks=totals["fallbacks"],
        events=events.count(),
        p50_seconds=p50,
        p99_seconds=p99,
        buckets=_buckets(window=window, since=since, until=until, requests=requests, events=events),
        ctr_by_hour=_ctr_by_hour(events=events, since=since, until=until),
        ctr_by_position=_ctr_by_position(events=events),
    )


def latency_percentiles_get(*, requests: QuerySet[SearchRequest]) -> tuple[float | None, ...]:
    """The ``PERCENTILES`` of the logged latency of ``requests`` (None when none has one).
    PostgreSQL in one aggregate; elsewhere one ``ORDER BY ... OFFSET`` per percentile."""
    timed = requests.filter(latency_seconds__isnull=False)
    if connection.vendor == "postgresql":
        names = [f"p{i}" for i in range(len(PERCENTILES))]
        row = timed.aggregate(
            **{name: PercentileDisc("latency_seconds", p) for name, p in zip(names, PERCENTILES, strict=True)}
        )
        return tuple(row[name] for name in names)
    count = timed.count()
    if not count:
        return tuple(None for _ in PERCENTILES)
    ordered = timed.order_by("latency_seconds").values_list("latency_seconds", flat=True)
    return tuple(ordered[max(math.ceil(p * count) - 1, 0)] for p in PERCENTILES)


def _bucketed(queryset: QuerySet, kind: str) -> QuerySet:
    return queryset.annotate(bucket=Trunc("timestamp", kind, tzinfo=UTC)).values("bucket")


def _bucket_starts(*, since: datetime, until: datetime, minutes: int) -> list[datetime]:
    step = timedelta(minutes=minutes)
    start = since.astimezone(UTC).replace(second=0, microsecond=0)
    if minutes == 60:
        start = start.replace(minute=0)
    starts = []
    while start < until:
        starts.append(start)
        start += step
    return starts


def _buckets(
    *, window: TrafficWindow, since: datetime, until: datetime, requests: QuerySet, events: QuerySet
) -> list[Bucket]:
    per_request = {"searches": Count("id"), "fallbacks": Count("id", filter=Q(fallback=True))}
    if connection.vendor == "postgresql":  # percentiles per group: an ordered-set aggregate
        per_request |= {
            "p50": PercentileDisc("latency_seconds", 0.5),
            "p99": PercentileDisc("latency_seconds", 0.99),
        }
    searched = {row["bucket"]: row for row in _bucketed(requests, window.bucket).annotate(**per_request)}
    happened = {
        row["bucket"]: row
        for row in _bucketed(events, window.bucket).annotate(
            events=Count("id"), clicks=Count("id", filter=Q(event_type=EventType.CLICK))
        )
    }
    minutes = window.bucket_minutes
    buckets = []
    for start in _bucket_starts(since=since, until=until, minutes=minutes):
        search = searched.get(start, {})
        event = happened.get(start, {})
        # The first and last buckets are cut by the range: a rate over the part inside it.
        inside = (min(start + timedelta(minutes=minutes), until) - max(start, since)).total_seconds() / 60
        buckets.append(
            Bucket(
                start=start,
                searches=search.get("searches", 0),
                fallbacks=search.get("fallbacks", 0),
                events=event.get("events", 0),
                clicks=event.get("clicks", 0),
                p50_seconds=search.get("p50"),
                p99_seconds=search.get("p99"),
                searches_per_minute=search.get("searches", 0) / inside if inside else 0.0,
                events_per_minute=event.get("events", 0) / inside if inside else 0.0,
            )
        )
    return buckets


def _impressions_and_clicks() -> dict:
    return {
        "impressions": Count("id", filter=Q(event_type=EventType.IMPRESSION)),
        "clicks": Count("id", filter=Q(event_type=EventType.CLICK)),
    }


def _ctr_by_hour(*, events: QuerySet, since: datetime, until: datetime) -> list[Rate]:
    rows = {row["bucket"]: row for row in _bucketed(events, "hour").annotate(**_impressions_and_clicks())}
    return [
        Rate(key=start, impressions=rows.get(start, {}).get("impressions", 0), clicks=rows.get(start, {}).get("clicks", 0))
        for start in _bucket_starts(since=since, until=until, minutes=60)
    ]  # fmt: skip


def _ctr_by_position(*, events: QuerySet) -> list[Rate]:
    rows = {
        row["position"]: row
        for row in events.filter(position__lte=CTR_POSITIONS)
        .values("position")
        .annotate(**_impressions_and_clicks())
    }
    return [
        Rate(key=position, impressions=rows.get(position, {}).get("impressions", 0), clicks=rows.get(position, {}).get("clicks", 0))
        for position in range(1, CTR_POSITIONS + 1)
    ]  # fmt: skip
