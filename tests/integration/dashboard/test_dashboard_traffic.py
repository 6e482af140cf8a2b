"""The dashboard's traffic numbers against hand-made rows, with the expected values worked
out by hand in each test."""

from __future__ import annotations

import datetime as dt

import pytest

from tests.factories import ProductFactory
from tests.integration.dashboard.support import event, logged_search
from training.dashboard.traffic import WINDOWS, latency_percentiles_get, traffic_get

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)
HOUR = WINDOWS["hour"]


def minute(hh: int, mm: int, ss: int = 0) -> dt.datetime:
    return dt.datetime(2026, 11, 30, hh, mm, ss, tzinfo=dt.UTC)


@pytest.fixture
def searches():
    """Three searches in 11:10 (one on the fallback), one in 11:50; two outside the hour."""
    logged_search(at=minute(11, 10, 5), latency=0.010)
    logged_search(at=minute(11, 10, 20), latency=0.030, fallback=True)
    logged_search(at=minute(11, 10, 40), latency=0.020)
    logged_search(at=minute(11, 50), latency=0.100)
    logged_search(at=minute(10, 59, 59), latency=9.0)  # before the hour
    logged_search(at=NOW, latency=9.0)  # the range ends before now


def test_searches_are_counted_in_their_minute_and_only_inside_the_range(searches):
    traffic = traffic_get(window=HOUR, now=NOW)
    assert traffic.searches == 4
    assert len(traffic.buckets) == 60
    per_minute = {bucket.start: bucket.searches for bucket in traffic.buckets if bucket.searches}
    assert per_minute == {minute(11, 10): 3, minute(11, 50): 1}
    assert traffic.buckets[10].searches_per_minute == 3.0
    assert traffic.searches_per_minute == pytest.approx(4 / 60)


def test_latency_percentiles_are_nearest_rank_over_the_range_and_per_minute(searches):
    traffic = traffic_get(window=HOUR, now=NOW)
    # Sorted latencies 10, 20, 30, 100 ms: p50 is the 2nd (ceil(0.5 * 4)), p99 the 4th.
    assert (traffic.p50_seconds, traffic.p99_seconds) == (0.020, 0.100)
    busy = traffic.buckets[10]
    assert (busy.p50_seconds, busy.p99_seconds) == (0.020, 0.030)
    assert traffic.buckets[0].p50_seconds is None


def test_requests_without_a_logged_latency_do_not_count_in_the_percentiles():
    logged_search(at=minute(11, 30), latency=None)
    logged_search(at=minute(11, 31), latency=0.005)
    traffic = traffic_get(window=HOUR, now=NOW)
    assert traffic.searches == 2
    assert (traffic.p50_seconds, traffic.p99_seconds) == (0.005, 0.005)


def test_the_fallback_share_is_the_fallback_searches_over_all(searches):
    traffic = traffic_get(window=HOUR, now=NOW)
    assert traffic.fallbacks == 1
    assert traffic.fallback_share == pytest.approx(1 / 4)
    assert traffic.buckets[10].fallback_share == pytest.approx(1 / 3)
    assert traffic.buckets[50].fallback_share == 0.0
    assert traffic.buckets[0].fallback_share is None


def test_ctr_by_position_is_clicks_over_impressions_at_that_position():
    product = ProductFactory()
    for _ in range(4):
        event(at=minute(11, 20), event_type="impression", position=1, product=product)
    for _ in range(2):
        event(at=minute(11, 20), event_type="impression", position=2, product=product)
    event(at=minute(11, 21), event_type="click", position=1, product=product)
    event(at=minute(11, 22), event_type="click", position=2, product=product)
    event(at=minute(10, 0), event_type="click", position=3, product=product)  # outside
    traffic = traffic_get(window=HOUR, now=NOW)
    by_position = {rate.key: rate.ctr for rate in traffic.ctr_by_position}
    assert by_position[1] == pytest.approx(1 / 4)
    assert by_position[2] == pytest.approx(1 / 2)
    assert by_position[3] is None  # no impression there
    assert traffic.events == 8
    assert traffic.buckets[20].events == 6
    assert traffic.buckets[21].clicks == 1
    assert traffic.ctr == pytest.approx(2 / 6)


def test_ctr_by_hour_puts_each_event_in_its_hour():
    product = ProductFactory()
    day = WINDOWS["day"]
    event(at=minute(9, 5), event_type="impression", product=product)
    event(at=minute(9, 6), event_type="impression", product=product)
    event(at=minute(9, 7), event_type="click", product=product)
    event(at=minute(11, 59), event_type="impression", product=product)
    traffic = traffic_get(window=day, now=NOW)
    assert len(traffic.ctr_by_hour) == 24
    by_hour = {rate.key: (rate.impressions, rate.clicks, rate.ctr) for rate in traffic.ctr_by_hour}
    assert by_hour[minute(9, 0)] == (2, 1, 0.5)
    assert by_hour[minute(11, 0)] == (1, 0, 0.0)
    assert by_hour[minute(10, 0)] == (0, 0, None)
    # Hourly buckets: three events in the 09:00 bucket, 3 / 60 per minute.
    nine = next(bucket for bucket in traffic.buckets if bucket.start == minute(9, 0))
    assert nine.events == 3
    assert nine.events_per_minute == pytest.approx(3 / 60)


def test_a_week_of_hourly_buckets_covers_seven_days():
    traffic = traffic_get(window=WINDOWS["week"], now=NOW)
    assert len(traffic.buckets) == 7 * 24
    assert traffic.buckets[0].start == NOW - dt.timedelta(days=7)
    assert traffic.searches == 0
    assert traffic.fallback_share is None


def test_percentiles_over_a_hundred_latencies_match_the_nearest_rank_definition():
    latencies = [(i + 1) / 1000 for i in range(100)]  # 1 ms .. 100 ms
    for i, latency in enumerate(latencies):
        logged_search(at=minute(11, 0) + dt.timedelta(seconds=i), latency=latency)
    from catalog.models import SearchRequest

    p50, p99 = latency_percentiles_get(requests=SearchRequest.objects.all())
    assert (p50, p99) == (latencies[49], latencies[98])  # the 50th and the 99th smallest
