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
from collections import defaultdict
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from django.db import connection
from django.db.models import Aggregate, Case, Count, FloatField, Q, QuerySet, Value, When
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
    cache_seconds: int  # how long the page may show the same numbers

    @property
    def bucket_minutes(self) -> int:
        return 1 if self.bucket == "minute" else 60


WINDOWS = {
    window.name: window
    for window in (
        TrafficWindow("hour", timedelta(hours=1), "minute", cache_seconds=30),
        TrafficWindow("day", timedelta(days=1), "hour", cache_seconds=120),
        TrafficWindow("week", timedelta(days=7), "hour", cache_seconds=600),
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
    (every bucket, empty ones as zeros), CTR by hour and by position. Three scans of the
    range: the searches grouped by bucket, their latency percentiles, and the events grouped
    by (bucket, position, type); everything else is summed from those groups."""
    until = now
    since = now - window.span
    requests = SearchRequest.objects.filter(timestamp__gte=since, timestamp__lt=until)
    events = Event.objects.filter(timestamp__gte=since, timestamp__lt=until)
    searched = _searches_by_bucket(requests=requests, kind=window.bucket)
    happened = _events_by_bucket_position_type(events=events, kind=window.bucket)
    p50, p99 = latency_percentiles_get(requests=requests)
    return Traffic(
        window=window,
        since=since,
        until=until,
        searches=sum(row["searches"] for row in searched.values()),
        fallbacks=sum(row["fallbacks"] for row in searched.values()),
        events=sum(happened.values()),
        p50_seconds=p50,
        p99_seconds=p99,
        buckets=_buckets(window=window, since=since, until=until, searched=searched, happened=happened),
        ctr_by_hour=_ctr_by_hour(happened=happened, since=since, until=until),
        ctr_by_position=_ctr_by_position(happened=happened),
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
    return queryset.annotate(bucket=Trunc("timestamp", kind, tzinfo=UTC))


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


def _searches_by_bucket(*, requests: QuerySet, kind: str) -> dict[datetime, dict]:
    per_bucket = {"searches": Count("id"), "fallbacks": Count("id", filter=Q(fallback=True))}
    if connection.vendor == "postgresql":  # percentiles per group: an ordered-set aggregate
        per_bucket |= {
            "p50": PercentileDisc("latency_seconds", 0.5),
            "p99": PercentileDisc("latency_seconds", 0.99),
        }
    return {row["bucket"]: row for row in _bucketed(requests, kind).values("bucket").annotate(**per_bucket)}


# (bucket start, position or 0 past CTR_POSITIONS or none, event type) -> events
Happened = dict[tuple[datetime, int, str], int]


def _events_by_bucket_position_type(*, events: QuerySet, kind: str) -> Happened:
    position = Case(When(position__lte=CTR_POSITIONS, then="position"), default=Value(0))
    rows = (
        _bucketed(events, kind)
        .annotate(slot=position)
        .values("bucket", "slot", "event_type")
        .annotate(n=Count("id"))
        .values_list("bucket", "slot", "event_type", "n")
    )
    return {(bucket, slot, event_type): n for bucket, slot, event_type, n in rows}


def _buckets(
    *,
    window: TrafficWindow,
    since: datetime,
    until: datetime,
    searched: dict[datetime, dict],
    happened: Happened,
) -> list[Bucket]:
    events: dict[datetime, int] = defaultdict(int)
    clicks: dict[datetime, int] = defaultdict(int)
    for (bucket, _slot, event_type), n in happened.items():
        events[bucket] += n
        if event_type == EventType.CLICK:
            clicks[bucket] += n
    minutes = window.bucket_minutes
    buckets = []
    for start in _bucket_starts(since=since, until=until, minutes=minutes):
        search = searched.get(start, {})
        # The first and last buckets are cut by the range: a rate over the part inside it.
        inside = (min(start + timedelta(minutes=minutes), until) - max(start, since)).total_seconds() / 60
        buckets.append(
            Bucket(
                start=start,
                searches=search.get("searches", 0),
                fallbacks=search.get("fallbacks", 0),
                events=events[start],
                clicks=clicks[start],
                p50_seconds=search.get("p50"),
                p99_seconds=search.get("p99"),
                searches_per_minute=search.get("searches", 0) / inside if inside else 0.0,
                events_per_minute=events[start] / inside if inside else 0.0,
            )
        )
    return buckets


def _rates(happened: Happened, key_of) -> dict:
    """Impressions and clicks summed by ``key_of(bucket, slot)``."""
    rates: dict = defaultdict(lambda: [0, 0])
    for (bucket, slot, event_type), n in happened.items():
        if event_type == EventType.IMPRESSION:
            rates[key_of(bucket, slot)][0] += n
        elif event_type == EventType.CLICK:
            rates[key_of(bucket, slot)][1] += n
    return rates


def _ctr_by_hour(*, happened: Happened, since: datetime, until: datetime) -> list[Rate]:
    rates = _rates(happened, lambda bucket, _slot: bucket.replace(minute=0))
    return [
        Rate(key=start, impressions=rates[start][0], clicks=rates[start][1])
        for start in _bucket_starts(since=since, until=until, minutes=60)
    ]


def _ctr_by_position(*, happened: Happened) -> list[Rate]:
    rates = _rates(happened, lambda _bucket, slot: slot)
    return [
        Rate(key=position, impressions=rates[position][0], clicks=rates[position][1])
        for position in range(1, CTR_POSITIONS + 1)
    ]
