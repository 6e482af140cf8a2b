"""Traffic over a recent time range, computed by the database: every query filters
``timestamp`` to the range (an index on both tables, and on PostgreSQL the monthly partitions
outside the range are pruned) and groups there, so a page moves a few hundred numbers, never
rows.

Searches are the impression log (``SearchRequest``); events and click-through come from the
clickstream (``Event``): CTR is clicks over impression events, so a shop that sends no
impression events has none. Latency is what ``/api/rank`` logged with each request (parse to
ranked order); percentiles are nearest-rank.

The hour (a point per minute) is counted live and its percentiles are exact
(``percentile_disc`` on PostgreSQL: a latency some request had). The day and the week (a point
per hour) read the complete hours the roll-up has counted (``TrafficHour``, kept by
``training.dashboard.rollup`` every few minutes) and count live only the rest: the partial
first hour, the current hour, and any hour without a row yet. Counts come out the same either
way; their percentiles are read from the summed latency histograms (the bin's geometric middle:
within ``histogram.RELATIVE_ERROR``, 4.9 %, of the exact nearest-rank latency).
"""

from __future__ import annotations

import math
from collections import defaultdict
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from functools import reduce
from operator import or_

from django.db import connection
from django.db.models import Aggregate, Case, Count, F, FloatField, IntegerField, Q, QuerySet, Value, When
from django.db.models.functions import Cast, Floor, Ln, Trunc

from catalog.models import Event, EventType, SearchRequest
from training.dashboard import histogram
from training.models import TrafficHour

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

    @property
    def reads_roll_up(self) -> bool:
        """A point per hour: the rolled-up hours are read, percentiles come from histograms."""
        return self.bucket == "hour"


WINDOWS = {
    window.name: window
    for window in (
        TrafficWindow("hour", timedelta(hours=1), "minute", cache_seconds=30),
        TrafficWindow("day", timedelta(days=1), "hour", cache_seconds=120),
        TrafficWindow("week", timedelta(days=7), "hour", cache_seconds=600),
    )
}
DEFAULT_WINDOW = "day"
HOUR = timedelta(hours=1)
# How far back the roll-up keeps hours: the longest range read by the hour.
ROLLED_UP_SPAN = max(window.span for window in WINDOWS.values() if window.reads_roll_up)


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
    rolled_up_hours: int = 0  # hours read from the roll-up (the rest was counted live)

    @property
    def percentiles_from_histogram(self) -> bool:
        """The day and the week: percentiles read from the latency histograms (approximate)."""
        return self.window.reads_roll_up

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
    (every bucket, empty ones as zeros), CTR by hour and by position. A point per minute: three
    scans of the range (the searches grouped by bucket, their exact latency percentiles, the
    events grouped by bucket, position and type). A point per hour: the rolled-up hours, and
    the same grouping queries over the hours not rolled up (``_hourly_tallies_get``), with
    percentiles from the latency histograms. Everything else is summed from those groups."""
    until = now
    since = now - window.span
    if window.reads_roll_up:
        tallies, rolled_up_hours = _hourly_tallies_get(since=since, until=until)
        searched, happened = _searched_and_happened(tallies)
        p50, p99 = histogram.histogram_percentiles(
            histogram.histogram_merge(tally.latency_histogram for tally in tallies.values()), PERCENTILES
        )
    else:
        rolled_up_hours = 0
        requests = SearchRequest.objects.filter(timestamp__gte=since, timestamp__lt=until)
        events = Event.objects.filter(timestamp__gte=since, timestamp__lt=until)
        searched = _searches_by_bucket(requests=requests, kind=window.bucket, exact_percentiles=True)
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
        rolled_up_hours=rolled_up_hours,
    )


@dataclass
class HourTally:
    """The traffic of one hour (or of the part of it inside a range): what the roll-up stores
    per hour and what the dashboard sums."""

    searches: int = 0
    fallbacks: int = 0
    events_by_slot: dict[int, dict[str, int]] = field(default_factory=dict)  # slot -> type -> events
    latency_histogram: dict[int, int] = field(default_factory=dict)  # histogram bin -> searches

    @property
    def events(self) -> int:
        return sum(n for by_type in self.events_by_slot.values() for n in by_type.values())


def hour_tallies_count(*, ranges: list[tuple[datetime, datetime]]) -> dict[datetime, HourTally]:
    """The traffic inside ``ranges`` (half-open), by hour, counted by the database: three
    grouped queries (searches and fallbacks, the latency histogram, events by position and
    type), each filtered on the indexed ``timestamp`` to the ranges. Hours without traffic are
    absent."""
    ranges = [(start, end) for start, end in ranges if start < end]
    if not ranges:
        return {}
    inside = reduce(or_, (Q(timestamp__gte=start, timestamp__lt=end) for start, end in ranges))
    requests = SearchRequest.objects.filter(inside)
    tallies: dict[datetime, HourTally] = defaultdict(HourTally)
    for hour, row in _searches_by_bucket(requests=requests, kind="hour").items():
        tallies[hour].searches = row["searches"]
        tallies[hour].fallbacks = row["fallbacks"]
    for (hour, latency_bin), n in _latency_histogram_by_bucket(requests=requests, kind="hour").items():
        tallies[hour].latency_histogram[latency_bin] = n
    events = Event.objects.filter(inside)
    for (hour, slot, event_type), n in _events_by_bucket_position_type(events=events, kind="hour").items():
        tallies[hour].events_by_slot.setdefault(slot, {})[event_type] = n
    return dict(tallies)


def hour_floor(moment: datetime) -> datetime:
    return moment.astimezone(UTC).replace(minute=0, second=0, microsecond=0)


def hour_ceil(moment: datetime) -> datetime:
    floor = hour_floor(moment)
    return floor if floor == moment else floor + HOUR


def hours_between(start: datetime, end: datetime) -> list[datetime]:
    """The hour starts in ``[start, end)`` (``start`` on the hour)."""
    return [start + i * HOUR for i in range(max(int((end - start) / HOUR), 0))]


def ranges_merged(ranges: list[tuple[datetime, datetime]]) -> list[tuple[datetime, datetime]]:
    """``ranges`` sorted, the empty ones dropped and the touching or overlapping ones joined:
    fewer, longer ranges for the index."""
    merged: list[tuple[datetime, datetime]] = []
    for start, end in sorted(r for r in ranges if r[0] < r[1]):
        if merged and start <= merged[-1][1]:
            merged[-1] = (merged[-1][0], max(end, merged[-1][1]))
        else:
            merged.append((start, end))
    return merged


def _hourly_tallies_get(*, since: datetime, until: datetime) -> tuple[dict[datetime, HourTally], int]:
    """The hourly tallies of ``[since, until)`` and how many came from the roll-up:
    1. the rolled-up rows of the whole hours inside the range;
    2. the rest counted live in one set of grouped queries: the partial first hour, the
       whole hours without a row (the roll-up has not reached them), the current hour."""
    first_whole, last_whole_end = hour_ceil(since), hour_floor(until)
    rolled = {
        hour: HourTally(
            searches=searches,
            fallbacks=fallbacks,
            events_by_slot={int(slot): by_type for slot, by_type in events_by_slot.items()},
            latency_histogram={int(latency_bin): n for latency_bin, n in latency_histogram.items()},
        )
        for hour, searches, fallbacks, events_by_slot, latency_histogram in TrafficHour.objects.filter(
            hour__gte=first_whole, hour__lt=last_whole_end
        ).values_list("hour", "searches", "fallbacks", "events_by_slot", "latency_histogram")
    }
    missing = [
        (hour, hour + HOUR) for hour in hours_between(first_whole, last_whole_end) if hour not in rolled
    ]
    live = hour_tallies_count(ranges=ranges_merged([(since, first_whole), *missing, (last_whole_end, until)]))
    return rolled | live, len(rolled)


def _searched_and_happened(tallies: dict[datetime, HourTally]) -> tuple[dict[datetime, dict], Happened]:
    """The hourly tallies in the shapes the minute path's grouped queries have, each hour's
    percentiles read from its histogram."""
    searched: dict[datetime, dict] = {}
    happened: Happened = {}
    for hour, tally in tallies.items():
        p50, p99 = histogram.histogram_percentiles(tally.latency_histogram, PERCENTILES)
        searched[hour] = {"searches": tally.searches, "fallbacks": tally.fallbacks, "p50": p50, "p99": p99}
        for slot, by_type in tally.events_by_slot.items():
            for event_type, n in by_type.items():
                happened[(hour, slot, event_type)] = n
    return searched, happened


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


def _searches_by_bucket(
    *, requests: QuerySet, kind: str, exact_percentiles: bool = False
) -> dict[datetime, dict]:
    per_bucket: dict[str, Aggregate] = {
        "searches": Count("id"),
        "fallbacks": Count("id", filter=Q(fallback=True)),
    }
    if exact_percentiles and connection.vendor == "postgresql":  # per group: an ordered-set aggregate
        per_bucket |= {
            "p50": PercentileDisc("latency_seconds", 0.5),
            "p99": PercentileDisc("latency_seconds", 0.99),
        }
    return {row["bucket"]: row for row in _bucketed(requests, kind).values("bucket").annotate(**per_bucket)}


def _latency_histogram_by_bucket(*, requests: QuerySet, kind: str) -> dict[tuple[datetime, int], int]:
    """(bucket, histogram bin) -> searches, the bins of ``training.dashboard.histogram``
    assigned by the database (``floor(ln(latency / LOWEST) / ln(RATIO))``; PostgreSQL, and
    SQLite through Django's own LN and FLOOR)."""
    latency_bin = Case(
        When(latency_seconds__lt=histogram.LOWEST, then=Value(histogram.UNDER)),
        When(latency_seconds__gte=histogram.HIGHEST, then=Value(histogram.OVER)),
        default=Cast(
            Floor(Ln(F("latency_seconds") / Value(histogram.LOWEST)) / Value(math.log(histogram.RATIO))),
            IntegerField(),
        ),
        output_field=IntegerField(),
    )
    rows = (
        _bucketed(requests.filter(latency_seconds__isnull=False), kind)
        .annotate(latency_bin=latency_bin)
        .values("bucket", "latency_bin")
        .annotate(n=Count("id"))
        .values_list("bucket", "latency_bin", "n")
    )
    return {(bucket, int(latency_bin)): n for bucket, latency_bin, n in rows}


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
