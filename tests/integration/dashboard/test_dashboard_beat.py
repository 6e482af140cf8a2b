"""The scheduler's heartbeat on the dashboard: beat's last tick is the newest last run of an
enabled periodic task; silent after twice the watchdog's interval; the next pipeline run."""

from __future__ import annotations

import datetime as dt

import pytest
from django_celery_beat.models import PeriodicTask

from training.dashboard.beat import PIPELINE_NAME, WATCHDOG_NAME, beat_status_get

pytestmark = pytest.mark.django_db

NOW = dt.datetime(2026, 11, 30, 12, 0, tzinfo=dt.UTC)  # a Monday


def ran(task: PeriodicTask, seconds_ago: float) -> None:
    PeriodicTask.objects.filter(pk=task.pk).update(last_run_at=NOW - dt.timedelta(seconds=seconds_ago))


def test_a_beat_that_sent_the_watchdog_within_two_intervals_is_alive(watchdog):
    ran(watchdog, 90)
    status = beat_status_get(now=NOW)
    assert status.interval == dt.timedelta(seconds=60)
    assert status.last_tick == NOW - dt.timedelta(seconds=90)
    assert not status.silent


def test_no_tick_for_more_than_twice_the_interval_is_a_silent_beat(watchdog):
    ran(watchdog, 121)
    assert beat_status_get(now=NOW).silent


def test_a_beat_that_never_ran_is_silent(watchdog):
    PeriodicTask.objects.update(last_run_at=None)
    status = beat_status_get(now=NOW)
    assert status.last_tick is None
    assert status.silent


def test_the_watchdog_is_next_due_one_interval_after_its_last_run(watchdog):
    ran(watchdog, 20)
    task = next(task for task in beat_status_get(now=NOW).tasks if task.name == WATCHDOG_NAME)
    assert task.next_run_at == NOW + dt.timedelta(seconds=40)


def test_the_next_pipeline_run_is_the_weekly_schedules_next_firing(weekly_schedule, watchdog):
    # Mondays 03:00 UTC (the settings' default); at noon on a Monday the next is a week on.
    assert beat_status_get(now=NOW).next_pipeline_run == dt.datetime(2026, 12, 7, 3, 0, tzinfo=dt.UTC)
    PeriodicTask.objects.filter(name=PIPELINE_NAME).update(enabled=False)
    assert beat_status_get(now=NOW).next_pipeline_run is None
