"""The hourly traffic roll-up (training.dashboard.rollup) and the day and week read from it:
the same counts as counting every hour live, percentiles within the histogram's error, the
hours it counts again (the last three, late events within a day), and the task beat sends."""

from __future__ import annotations

import datetime as dt
import io
import random
import uuid

import pytest
from django.core.management import call_command
from django.utils import timezone

from catalog.models import Event, SearchRequest
from tests.factories import ProductFactory
from tests.integration.dashboard.support import event
from training.dashboard.histogram import RELATIVE_ERROR
from training.dashboard.rollup import traffic_hours_roll_up
from training.dashboard.traffic import WINDOWS, hour_floor, latency_percentiles_get, traffic_get
from training.models import TrafficHour
from training.tasks import traffic_hours_roll_up_task

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 30, 12, 20, tzinfo=dt.UTC)  # ranges start and end mid-hour
HOUR = dt.timedelta(hours=1)
EVENT_TYPES = ["impression"] * 6 + ["click"] * 2 + ["add_to_cart", "purchase"]


@pytest.fixture
def a_week_of_traffic():
    """Searches and events every few minutes over the week and a bit around it: latencies
    from 0 to 2 s (some not logged), some fallbacks, positions 1 to 25 and none."""
    rng = random.Random(7)
    product = ProductFactory()
    start = NOW - dt.timedelta(days=7, hours=2)
    moments = []
    moment = start
    while moment < NOW + HOUR:
        moments.append(moment)
        moment += dt.timedelta(minutes=rng.choice([3, 7, 11, 29]), seconds=rng.randrange(60))
    SearchRequest.objects.bulk_create(
        SearchRequest(
            request_id=uuid.uuid4().hex,
            timestamp=at,
            product_ids=["P1"],
            fallback=rng.random() < 0.1,
            latency_seconds=rng.choice([None, 0.0, rng.lognormvariate(-4, 1.2), rng.lognormvariate(-5, 0.5)]),
        )
        for at in moments
    )
    Event.objects.bulk_create(
        Event(
            event_id=uuid.uuid4(),
            event_type=rng.choice(EVENT_TYPES),
            timestamp=at + dt.timedelta(seconds=rng.randrange(600)),
            product=product,
            position=rng.choice([None, *range(1, 26)]),
            request_id="r",
            ingested_at=at,
        )
        for at in moments
        for _ in range(rng.randrange(4))
    )


def facts(traffic) -> dict:
    """Everything the page shows that is counted (not the percentiles)."""
    return {
        "totals": (traffic.searches, traffic.fallbacks, traffic.events, traffic.clicks, traffic.impressions),
        "buckets": [
            (b.start, b.searches, b.fallbacks, b.events, b.clicks, b.searches_per_minute, b.events_per_minute)
            for b in traffic.buckets
        ],
        "ctr_by_hour": [(rate.key, rate.impressions, rate.clicks) for rate in traffic.ctr_by_hour],
        "ctr_by_position": [(rate.key, rate.impressions, rate.clicks) for rate in traffic.ctr_by_position],
    }


@pytest.mark.parametrize(("window", "whole_hours"), [("day", 23), ("week", 167)])
def test_the_day_and_week_count_the_same_from_the_roll_up_as_live(a_week_of_traffic, window, whole_hours):
    live = traffic_get(window=WINDOWS[window], now=NOW)
    traffic_hours_roll_up(now=NOW)
    rolled = traffic_get(window=WINDOWS[window], now=NOW)
    assert (live.rolled_up_hours, rolled.rolled_up_hours) == (0, whole_hours)
    assert live.searches > 100  # the fixture made traffic
    assert live.events > 100
    assert facts(rolled) == facts(live)
    for bucket_live, bucket_rolled in zip(live.buckets, rolled.buckets, strict=True):
        assert (bucket_rolled.p50_seconds, bucket_rolled.p99_seconds) == (
            bucket_live.p50_seconds,
            bucket_live.p99_seconds,
        )


@pytest.mark.parametrize("window", ["day", "week"])
def test_percentiles_from_the_histograms_are_within_their_error_of_the_exact_ones(a_week_of_traffic, window):
    traffic_hours_roll_up(now=NOW)
    traffic = traffic_get(window=WINDOWS[window], now=NOW)
    exact = latency_percentiles_get(
        requests=SearchRequest.objects.filter(timestamp__gte=traffic.since, timestamp__lt=traffic.until)
    )
    for approximate, value in zip((traffic.p50_seconds, traffic.p99_seconds), exact, strict=True):
        assert value > 0
        assert abs(approximate / value - 1) <= RELATIVE_ERROR + 1e-12


def test_hours_the_roll_up_has_not_reached_are_counted_live(a_week_of_traffic):
    live = traffic_get(window=WINDOWS["week"], now=NOW)
    traffic_hours_roll_up(now=NOW)
    TrafficHour.objects.filter(
        hour__in=[NOW - dt.timedelta(days=3, minutes=20), NOW - dt.timedelta(hours=2, minutes=20)]
    ).delete()
    partial = traffic_get(window=WINDOWS["week"], now=NOW)
    assert partial.rolled_up_hours == 165
    assert facts(partial) == facts(live)


def test_the_first_run_counts_the_week_and_the_next_only_the_last_three_hours(a_week_of_traffic):
    first = traffic_hours_roll_up(now=NOW)
    assert len(first) == 7 * 24
    assert (first[0], first[-1]) == (
        dt.datetime(2026, 11, 23, 12, tzinfo=dt.UTC),
        dt.datetime(2026, 11, 30, 11, tzinfo=dt.UTC),
    )
    later = NOW + dt.timedelta(minutes=5)
    assert traffic_hours_roll_up(now=later) == [
        dt.datetime(2026, 11, 30, hour, tzinfo=dt.UTC) for hour in (9, 10, 11)
    ]
    assert TrafficHour.objects.filter(computed_at=later).count() == 3
    next_hour = traffic_hours_roll_up(now=NOW + HOUR)
    assert next_hour == [dt.datetime(2026, 11, 30, hour, tzinfo=dt.UTC) for hour in (10, 11, 12)]
    assert TrafficHour.objects.count() == 7 * 24  # the oldest hour left the week
    assert not TrafficHour.objects.filter(hour__lt=dt.datetime(2026, 11, 23, 13, tzinfo=dt.UTC)).exists()


def test_a_late_event_reaches_the_roll_up_when_its_hours_row_is_a_day_old():
    traffic_hours_roll_up(now=NOW)
    ten_hours_ago = dt.datetime(2026, 11, 30, 2, tzinfo=dt.UTC)
    event(at=ten_hours_ago + dt.timedelta(minutes=30), event_type="click", position=2)
    traffic_hours_roll_up(now=NOW + dt.timedelta(hours=12))
    assert TrafficHour.objects.get(hour=ten_hours_ago).events == 0  # counted before it came
    traffic_hours_roll_up(now=NOW + dt.timedelta(hours=24, minutes=5))
    row = TrafficHour.objects.get(hour=ten_hours_ago)
    assert row.events == 1
    assert row.events_by_slot == {"2": {"click": 1}}


def test_hours_without_traffic_are_rows_of_zeros():
    traffic_hours_roll_up(now=NOW)
    row = TrafficHour.objects.get(hour=dt.datetime(2026, 11, 30, 11, tzinfo=dt.UTC))
    assert (row.searches, row.fallbacks, row.events, row.events_by_slot, row.latency_histogram) == (
        0,
        0,
        0,
        {},
        {},
    )


def test_the_beat_task_rolls_up_the_week_up_to_the_current_hour(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    result = traffic_hours_roll_up_task.delay().get()
    assert result["hours"] == 7 * 24
    assert TrafficHour.objects.count() == 7 * 24


def test_the_command_recounts_every_hour_of_the_week_with_all_after_a_bulk_import():
    traffic_hours_roll_up(now=timezone.now())  # the command counts up to the real now
    four_days_ago = hour_floor(timezone.now()) - dt.timedelta(days=4)
    event(
        at=four_days_ago + dt.timedelta(minutes=10), event_type="impression", position=3
    )  # an import of old events
    out = io.StringIO()
    call_command("roll_up_traffic", stdout=out)
    assert TrafficHour.objects.get(hour=four_days_ago).events == 0  # a row of today: not due
    call_command("roll_up_traffic", "--all", stdout=out)
    assert TrafficHour.objects.get(hour=four_days_ago).events == 1
    assert "168 hours counted" in out.getvalue()
