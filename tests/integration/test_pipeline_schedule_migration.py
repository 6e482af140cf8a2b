"""training/migrations/0002: the weekly schedule exists before beat ever starts."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from searchop_site.celery import app as celery_app

pytestmark = pytest.mark.django_db

migration = importlib.import_module("training.migrations.0002_weekly_pipeline_schedule")


@pytest.fixture
def migrated():
    """Unapply and reapply the migration: with --reuse-db, a transactional test may have
    flushed the row the test database was created with."""
    call_command("migrate", "training", "0001", verbosity=0)
    assert not PeriodicTask.objects.filter(name="weekly-pipeline").exists()
    call_command("migrate", "training", "0002", verbosity=0)


@pytest.mark.usefixtures("migrated")
def test_the_weekly_pipeline_task_exists_after_migrate_on_mondays_at_three_utc():
    task = PeriodicTask.objects.select_related("crontab").get(name="weekly-pipeline")

    assert task.task == "training.tasks.pipeline_run_task"
    assert task.kwargs == '{"trigger": "schedule"}'
    assert task.enabled
    crontab = task.crontab
    assert (
        crontab.minute,
        crontab.hour,
        crontab.day_of_week,
        crontab.day_of_month,
        crontab.month_of_year,
    ) == (
        "0",
        "3",
        "mon",
        "*",
        "*",
    )
    assert str(crontab.timezone) == "UTC"


@pytest.mark.usefixtures("migrated")
def test_beat_starting_finds_the_migrated_schedule_and_adds_nothing():
    migrated = PeriodicTask.objects.get(name="weekly-pipeline")
    crontabs = CrontabSchedule.objects.count()

    # What DatabaseScheduler.setup_schedule does with each CELERY_BEAT_SCHEDULE entry.
    ModelEntry.from_entry(
        "weekly-pipeline", app=celery_app, **settings.CELERY_BEAT_SCHEDULE["weekly-pipeline"]
    )

    installed = PeriodicTask.objects.get(name="weekly-pipeline")
    assert installed.crontab_id == migrated.crontab_id
    assert CrontabSchedule.objects.count() == crontabs
    assert (installed.task, installed.kwargs) == (migrated.task, migrated.kwargs)


@pytest.mark.usefixtures("migrated")
def test_running_it_again_leaves_a_task_disabled_in_the_admin_alone():
    PeriodicTask.objects.filter(name="weekly-pipeline").update(enabled=False)

    migration.schedule_create(apps, schema_editor=None)

    assert list(PeriodicTask.objects.filter(name="weekly-pipeline").values_list("enabled", flat=True)) == [
        False
    ]
