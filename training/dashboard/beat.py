"""The scheduler's heartbeat: when beat last sent a task, whether it has gone silent, and
when each enabled periodic task runs next.

Beat (django-celery-beat's ``DatabaseScheduler``) stamps a task's ``last_run_at`` as it sends
it and writes the stamp after every send (``CELERY_BEAT_SYNC_EVERY = 1`` in the settings; by
default it would write every three minutes). The pipeline watchdog is sent every
``SEARCHOP_PIPELINE_WATCHDOG_SECONDS``, so the newest stamp is beat's last tick, and none for
twice the watchdog's interval means no beat is running (or it cannot reach the database).
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.conf import settings
from django_celery_beat.models import PeriodicTask

from training.schedule import crontab_next_due

WATCHDOG_NAME = "pipeline-watchdog"  # the PeriodicTask seeded by training/migrations/0004
PIPELINE_NAME = "weekly-pipeline"  # the PeriodicTask seeded by training/migrations/0002
SILENT_AFTER_INTERVALS = 2


@dataclass(frozen=True)
class ScheduledTask:
    name: str
    task: str
    last_run_at: datetime | None
    next_run_at: datetime | None


@dataclass(frozen=True)
class BeatStatus:
    last_tick: datetime | None
    interval: timedelta  # how often beat sends its most frequent task (the watchdog)
    silent: bool  # no tick for SILENT_AFTER_INTERVALS intervals (or never)
    tasks: list[ScheduledTask]

    @property
    def silent_after(self) -> timedelta:
        return self.interval * SILENT_AFTER_INTERVALS

    @property
    def next_pipeline_run(self) -> datetime | None:
        return next((task.next_run_at for task in self.tasks if task.name == PIPELINE_NAME), None)


def beat_status_get(*, now: datetime) -> BeatStatus:
    """Beat's last tick and whether it is silent, and every enabled task's last and next run."""
    rows = list(
        PeriodicTask.objects.filter(enabled=True)
        .select_related("interval", "crontab", "solar", "clocked")
        .order_by("name")
    )
    interval = _watchdog_interval(rows)
    stamps = [row.last_run_at for row in rows if row.last_run_at is not None]
    last_tick = max(stamps) if stamps else None
    silent = last_tick is None or now - last_tick > interval * SILENT_AFTER_INTERVALS
    tasks = [
        ScheduledTask(name=row.name, task=row.task, last_run_at=row.last_run_at, next_run_at=_next_run(row, now))
        for row in rows
    ]  # fmt: skip
    return BeatStatus(last_tick=last_tick, interval=interval, silent=silent, tasks=tasks)


def _watchdog_interval(rows: list[PeriodicTask]) -> timedelta:
    """The watchdog's interval as beat has it, else the settings' value."""
    for row in rows:
        if row.name == WATCHDOG_NAME and row.interval is not None:
            return row.interval.schedule.run_every
    return timedelta(seconds=settings.SEARCHOP_PIPELINE_WATCHDOG_SECONDS)


def _next_run(row: PeriodicTask, now: datetime) -> datetime | None:
    """When beat will send ``row`` next: an interval after its last run (now if overdue); a
    crontab's next firing after now. None for one-off, clocked or solar tasks."""
    if row.interval is not None:
        if row.last_run_at is None:
            return now
        return max(row.last_run_at + row.interval.schedule.run_every, now)
    if row.crontab is not None:
        schedule = row.crontab.schedule
        due = crontab_next_due(schedule, now.astimezone(schedule.tz))
        return due.astimezone(now.tzinfo) if due is not None else None
    return None
