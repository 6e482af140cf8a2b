"""training/migrations/0007: the dashboard's traffic roll-up is scheduled every five minutes
before beat ever starts, in the row beat's DatabaseScheduler then finds and reuses."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from searchop_site.celery import app as celery_app

pytestmark = pytest.mark.django_db

migration = importlib.import_module("training.migrations.0007_traffic_rollup_schedule")
NAME = "traffic-rollup"


@pytest.fixture
def migrated():
    """Unapply and reapply: with --reuse-db, a transactional test may have flushed the row."""
    call_command("migrate", "training", "0006", verbosity=0)
    assert not PeriodicTask.objects.filter(name=NAME).exists()
    call_command("migrate", "training", "0007", verbosity=0)
    return PeriodicTask.objects.select_related("interval").get(name=NAME)


def test_the_roll_up_runs_every_five_minutes_after_migrate(migrated):
    assert migrated.task == "training.tasks.traffic_hours_roll_up_task"
    assert migrated.enabled
    assert (migrated.interval.every, migrated.interval.period) == (300, IntervalSchedule.SECONDS)


def test_beat_starting_finds_the_migrated_schedule_and_adds_nothing(migrated):
    intervals = IntervalSchedule.objects.count()

    # What DatabaseScheduler.setup_schedule does with each CELERY_BEAT_SCHEDULE entry.
    ModelEntry.from_entry(NAME, app=celery_app, **settings.CELERY_BEAT_SCHEDULE[NAME])

    installed = PeriodicTask.objects.get(name=NAME)
    assert installed.interval_id == migrated.interval_id
    assert IntervalSchedule.objects.count() == intervals


def test_running_it_again_leaves_a_task_disabled_in_the_admin_alone(migrated):
    PeriodicTask.objects.filter(name=NAME).update(enabled=False)

    migration.schedule_create(apps, schema_editor=None)

    assert list(PeriodicTask.objects.filter(name=NAME).values_list("enabled", flat=True)) == [False]
