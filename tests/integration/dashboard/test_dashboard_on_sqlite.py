"""The dashboard on the embedded SQLite default (the demo): the same numbers, the latency
percentiles by ``ORDER BY ... OFFSET`` (no per-bucket percentiles there). Run in a child
process on a SQLite file of its own, as the demo runs."""

from __future__ import annotations

from tests.sqlite_project import SqliteProject

SCRIPT = """
import json, uuid
from datetime import UTC, datetime, timedelta
from catalog.models import Event, Product, SearchRequest
from training.dashboard.traffic import WINDOWS, traffic_get

now = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)
for i, latency in enumerate([0.010, 0.030, 0.020, 0.100]):
    SearchRequest.objects.create(request_id=uuid.uuid4().hex, timestamp=now - timedelta(minutes=50 - i),
                                 product_ids=["P1"], fallback=i == 1, latency_seconds=latency)
Product.objects.create(external_id="P1", title="t")
for event_type in ("impression", "impression", "click"):
    Event.objects.create(event_id=uuid.uuid4(), event_type=event_type, timestamp=now - timedelta(minutes=5),
                         product_id="P1", position=2, request_id="r", ingested_at=now)
traffic = traffic_get(window=WINDOWS["hour"], now=now)
print(json.dumps({"searches": traffic.searches, "fallbacks": traffic.fallbacks, "events": traffic.events,
                  "p50": traffic.p50_seconds, "p99": traffic.p99_seconds,
                  "ctr_2": traffic.ctr_by_position[1].ctr, "busy": traffic.buckets[10].searches}))
"""


def test_on_sqlite_the_dashboard_counts_the_same_and_takes_nearest_rank_percentiles(tmp_path):
    project = SqliteProject(tmp_path)
    facts = project.facts(SCRIPT)
    # Latencies 10, 20, 30, 100 ms: p50 the 2nd, p99 the 4th; the first search at 11:10.
    assert facts == {
        "searches": 4,
        "fallbacks": 1,
        "events": 3,
        "p50": 0.020,
        "p99": 0.100,
        "ctr_2": 0.5,
        "busy": 1,
    }


ROLLUP_SCRIPT = """
import json, uuid
from datetime import UTC, datetime, timedelta
from catalog.models import Event, Product, SearchRequest
from training.dashboard.rollup import traffic_hours_roll_up
from training.dashboard.traffic import WINDOWS, traffic_get

now = datetime(2026, 11, 30, 12, 20, tzinfo=UTC)
Product.objects.create(external_id="P1", title="t")
for i in range(40):
    at = now - timedelta(hours=4 * i, minutes=7)
    SearchRequest.objects.create(request_id=uuid.uuid4().hex, timestamp=at, product_ids=["P1"],
                                 fallback=i % 3 == 0, latency_seconds=[0.0, 0.004, 0.02, 0.3][i % 4])
    Event.objects.create(event_id=uuid.uuid4(), event_type=["impression", "click"][i % 2], timestamp=at,
                         product_id="P1", position=i % 25 + 1, request_id="r", ingested_at=at)
week = WINDOWS["week"]
live = traffic_get(window=week, now=now)
hours = traffic_hours_roll_up(now=now)
rolled = traffic_get(window=week, now=now)

def counted(traffic):
    return [traffic.searches, traffic.fallbacks, traffic.events,
            [[b.searches, b.fallbacks, b.events, b.clicks] for b in traffic.buckets],
            [[r.impressions, r.clicks] for r in traffic.ctr_by_position]]

print(json.dumps({"hours": len(hours), "rolled_up": rolled.rolled_up_hours, "same": counted(live) == counted(rolled),
                  "searches": rolled.searches, "p50": rolled.p50_seconds, "p99": rolled.p99_seconds}))
"""


def test_on_sqlite_the_roll_up_counts_the_same_and_bins_latencies_with_djangos_ln_and_floor(tmp_path):
    facts = SqliteProject(tmp_path).facts(ROLLUP_SCRIPT)
    # 40 searches 4 h apart reach back 6.5 days: all inside the week. Latencies 0, 4, 20,
    # 300 ms ten times each: p50 the 20th (4 ms), p99 the 40th (300 ms), as bin middles.
    assert facts["hours"] == 7 * 24
    assert facts["rolled_up"] == 7 * 24 - 1
    assert facts["same"] is True
    assert facts["searches"] == 40
    assert abs(facts["p50"] / 0.004 - 1) < 0.049
    assert abs(facts["p99"] / 0.3 - 1) < 0.049
