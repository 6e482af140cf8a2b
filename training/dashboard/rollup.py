"""The dashboard's hourly traffic roll-up: one ``TrafficHour`` row per complete hour of the
last week, counted by the same grouped queries the dashboard runs live
(``training.dashboard.traffic.hour_tallies_count``), so the day and the week read about 170
small rows and count live only the edges. Kept by beat's ``traffic-rollup`` task
(``training.tasks.traffic_hours_roll_up_task``, every ``SEARCHOP_TRAFFIC_ROLLUP_MINUTES``).

Events arrive late (a shop's front end sends them in batches, retries for days, and
``/api/events`` stores any of them). An hour is therefore counted again while it is one of the
last ``SEARCHOP_TRAFFIC_ROLLUP_RECENT_HOURS`` (3), and then once its row is older than
``SEARCHOP_TRAFFIC_ROLLUP_REFRESH_HOURS`` (24), for as long as it is inside the week: a
late event shows on the day and week views within a day of arriving (at once on the hour
view, which is always counted live). Rows older than the week are deleted. Noticing late rows
sooner would take a count of the week by hour at each run (about 0.7 s on 1M searches and 3M
events over 30 days, most of a full recount), so traffic stored or deleted in bulk inside the
week (an import of old events, ``generate_synthetic_data --flush``) is recounted at once only
by ``manage.py roll_up_traffic --all``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import transaction

from training.dashboard.traffic import (
    HOUR,
    ROLLED_UP_SPAN,
    HourTally,
    hour_floor,
    hour_tallies_count,
    hours_between,
    ranges_merged,
)
from training.models import TrafficHour


def traffic_hours_due_get(*, now: datetime, every_hour: bool = False) -> list[datetime]:
    """The complete hours of the last week to count now, oldest first: those without a row,
    the last ``recent_hours``, and those whose row was counted more than ``refresh_hours``
    before ``now``; with ``every_hour``, all of them."""
    config = settings.SEARCHOP_TRAFFIC_ROLLUP
    end = hour_floor(now)  # the current hour is not over: always counted live
    start = end - ROLLED_UP_SPAN
    counted = dict(
        TrafficHour.objects.filter(hour__gte=start, hour__lt=end).values_list("hour", "computed_at")
    )
    recent = end - timedelta(hours=config["recent_hours"])
    stale = now - timedelta(hours=config["refresh_hours"])
    return [
        hour
        for hour in hours_between(start, end)
        if every_hour or hour not in counted or hour >= recent or counted[hour] < stale
    ]


def traffic_hours_roll_up(*, now: datetime, every_hour: bool = False) -> list[datetime]:
    """Count the hours ``traffic_hours_due_get`` names (in one set of grouped queries over
    them) and write their rows, hours without traffic as zeros, stamped ``computed_at=now``;
    delete the rows older than the week. One transaction; idempotent, and two runs at once
    write the same numbers (an upsert on the unique hour). Returns the hours written."""
    due = traffic_hours_due_get(now=now, every_hour=every_hour)
    tallies = hour_tallies_count(ranges=ranges_merged([(hour, hour + HOUR) for hour in due]))
    rows = [_row(hour=hour, tally=tallies.get(hour, HourTally()), now=now) for hour in due]
    with transaction.atomic():
        TrafficHour.objects.bulk_create(
            rows,
            update_conflicts=True,
            unique_fields=["hour"],
            update_fields=[
                "searches",
                "fallbacks",
                "events",
                "events_by_slot",
                "latency_histogram",
                "computed_at",
            ],
        )
        TrafficHour.objects.filter(hour__lt=hour_floor(now) - ROLLED_UP_SPAN).delete()
    return due


def _row(*, hour: datetime, tally: HourTally, now: datetime) -> TrafficHour:
    return TrafficHour(
        hour=hour,
        searches=tally.searches,
        fallbacks=tally.fallbacks,
        events=tally.events,
        events_by_slot={str(slot): by_type for slot, by_type in tally.events_by_slot.items()},
        latency_histogram={str(latency_bin): n for latency_bin, n in tally.latency_histogram.items()},
        computed_at=now,
    )
