"""The pipeline watchdog's periodic task, whose last run is beat's heartbeat: created here as
beat would (a transactional test elsewhere may have flushed the row the migrations seeded)."""

from __future__ import annotations

import pytest
from django.core.cache import cache
from django_celery_beat.models import IntervalSchedule, PeriodicTask

from training.dashboard.beat import WATCHDOG_NAME


@pytest.fixture
def watchdog(db, settings) -> PeriodicTask:
    """The watchdog every ``SEARCHOP_PIPELINE_WATCHDOG_SECONDS``, and no task run yet."""
    interval, _ = IntervalSchedule.objects.get_or_create(
        every=settings.SEARCHOP_PIPELINE_WATCHDOG_SECONDS, period=IntervalSchedule.SECONDS
    )
    task, _ = PeriodicTask.objects.update_or_create(
        name=WATCHDOG_NAME,
        defaults={"task": "training.tasks.pipeline_watchdog_task", "interval": interval, "enabled": True},
    )
    PeriodicTask.objects.update(last_run_at=None)
    return task


@pytest.fixture(autouse=True)
def fresh_traffic():
    """The page keeps a range's traffic in the cache: each test computes its own."""
    cache.clear()
    yield
    cache.clear()
