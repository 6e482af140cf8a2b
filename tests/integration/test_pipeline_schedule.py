"""The weekly schedule's slots (training.services.schedule): every beat names a firing
alike, and the watchdog finds the firing that has no run though it should."""

from __future__ import annotations

import datetime as dt

import pytest
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from training.models import PipelineRun
from training.services import schedule_due_get, schedule_slot_missed_get

pytestmark = pytest.mark.django_db

MONDAY = dt.datetime(2026, 11, 30, 3, 0, tzinfo=dt.UTC)  # the default schedule fires then
SLOT = "weekly-pipeline@2026-11-30T03:00+0000"


def run(slot: str | None, status: str, error: str = "", trigger: str = "schedule") -> PipelineRun:
    return PipelineRun.objects.create(
        schedule_slot=slot,
        status=status,
        error=error,
        trigger=trigger,
        created_at=MONDAY + dt.timedelta(minutes=1),
    )


@pytest.mark.usefixtures("weekly_schedule")
def test_the_slot_is_the_schedules_name_and_its_latest_firing():
    assert schedule_due_get(now=MONDAY + dt.timedelta(hours=2)) == (SLOT, MONDAY)
    assert schedule_due_get(now=MONDAY + dt.timedelta(days=3))[0] == SLOT


def test_the_slot_follows_the_schedule_edited_in_the_admin(weekly_schedule):
    tuesday_noon, _ = CrontabSchedule.objects.get_or_create(
        minute="0", hour="12", day_of_week="tue", day_of_month="*", month_of_year="*", timezone="UTC"
    )
    PeriodicTask.objects.filter(pk=weekly_schedule.pk).update(crontab=tuesday_noon)

    assert schedule_due_get(now=MONDAY + dt.timedelta(days=2)) == (
        "weekly-pipeline@2026-12-01T12:00+0000",
        dt.datetime(2026, 12, 1, 12, 0, tzinfo=dt.UTC),
    )


def test_a_disabled_schedule_has_no_slot(weekly_schedule):
    PeriodicTask.objects.filter(pk=weekly_schedule.pk).update(enabled=False)

    assert schedule_due_get(now=MONDAY) is None
    assert schedule_slot_missed_get(now=MONDAY + dt.timedelta(hours=1)) is None


@pytest.mark.usefixtures("weekly_schedule")
def test_a_firing_with_no_run_is_missed_once_beat_had_ten_minutes_for_it():
    assert schedule_slot_missed_get(now=MONDAY + dt.timedelta(minutes=9)) is None  # beat's own message
    assert schedule_slot_missed_get(now=MONDAY + dt.timedelta(minutes=10)) == SLOT
    assert schedule_slot_missed_get(now=MONDAY + dt.timedelta(days=1, minutes=1)) is None  # too late


@pytest.mark.usefixtures("weekly_schedule")
@pytest.mark.parametrize("status", ["queued", "running", "succeeded"])
def test_a_firing_whose_run_is_queued_running_or_done_is_not_missed(status):
    run(SLOT, status)

    assert schedule_slot_missed_get(now=MONDAY + dt.timedelta(hours=1)) is None


@pytest.mark.usefixtures("weekly_schedule")
def test_a_run_of_another_trigger_since_the_firing_covers_it():
    run(None, "succeeded", trigger="admin")

    assert schedule_slot_missed_get(now=MONDAY + dt.timedelta(hours=1)) is None


@pytest.mark.usefixtures("weekly_schedule")
def test_a_lost_scheduled_run_is_tried_again_up_to_three_attempts():
    now = MONDAY + dt.timedelta(hours=1)
    run(SLOT, "failed", "worker lost: no heartbeat since 03:20:00")
    assert schedule_slot_missed_get(now=now) == f"{SLOT}#2"

    run(f"{SLOT}#2", "failed", "OperationalError: the connection was closed")
    assert schedule_slot_missed_get(now=now) == f"{SLOT}#3"

    run(f"{SLOT}#3", "failed", "not picked up: no worker took it within the queue timeout")
    assert schedule_slot_missed_get(now=now) is None


@pytest.mark.usefixtures("weekly_schedule")
def test_a_scheduled_run_that_failed_on_its_data_is_not_tried_again():
    run(SLOT, "failed", "PipelineError: There are no events yet: generate or import some first.")

    assert schedule_slot_missed_get(now=MONDAY + dt.timedelta(hours=1)) is None
