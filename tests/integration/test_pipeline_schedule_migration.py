"""The seeding migrations (training 0002, 0004, 0005 and 0007, ranking 0006 and 0008): beat's
tasks exist before beat ever starts (the weekly trigger, the watchdog, the partition upkeep,
the traffic roll-up, the experiments' evaluation, the drift check), as the rows beat itself
would write from the settings."""

from __future__ import annotations

import importlib
import json

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django_celery_beat.models import CrontabSchedule, IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from searchop_site.celery import app as celery_app

pytestmark = pytest.mark.django_db

weekly_migration = importlib.import_module("training.migrations.0002_weekly_pipeline_schedule")
tasks_migration = importlib.import_module("training.migrations.0004_pipeline_schedule_tasks")
# The tasks seeded by ``ranking.schedules.interval_task_seed``: (migration, name, task, seconds).
INTERVAL_TASKS = [
    ("ranking.migrations.0006_experiments_schedule", "experiments-decide", "ranking.tasks.experiments_decide_task", 300),
    ("ranking.migrations.0008_drift_check_schedule", "drift-check", "ranking.tasks.drift_check_task", 3600),
    ("training.migrations.0007_traffic_rollup_schedule", "traffic-rollup", "training.tasks.traffic_hours_roll_up_task", 300),
]  # fmt: skip


@pytest.fixture
def migrated():
    """Unapply and reapply the migrations: with --reuse-db, a transactional test may have
    flushed the rows the test database was created with."""
    call_command("migrate", "training", "0001", verbosity=0)
    call_command("migrate", "ranking", "0005", verbosity=0)  # before ranking's schedule (0006)
    assert not PeriodicTask.objects.filter(name__in=list(settings.CELERY_BEAT_SCHEDULE)).exists()
    call_command("migrate", verbosity=0)


@pytest.mark.usefixtures("migrated")
def test_the_weekly_trigger_exists_after_migrate_on_mondays_at_three_utc():
    task = PeriodicTask.objects.select_related("crontab").get(name="weekly-pipeline")

    assert task.task == "training.tasks.pipeline_schedule_task"
    assert json.loads(task.kwargs) == {}
    assert task.enabled
    crontab = task.crontab
    fields = (crontab.minute, crontab.hour, crontab.day_of_week, crontab.day_of_month, crontab.month_of_year)
    assert fields == ("0", "3", "mon", "*", "*")
    assert str(crontab.timezone) == "UTC"


@pytest.mark.usefixtures("migrated")
def test_the_watchdog_runs_every_minute_and_its_messages_expire_as_fast():
    task = PeriodicTask.objects.select_related("interval").get(name="pipeline-watchdog")

    assert task.task == "training.tasks.pipeline_watchdog_task"
    assert (task.interval.every, task.interval.period) == (60, IntervalSchedule.SECONDS)
    assert task.expire_seconds == 60
    assert task.enabled


@pytest.mark.usefixtures("migrated")
def test_beat_starting_finds_the_migrated_tasks_and_adds_nothing():
    before = {task.name: task for task in PeriodicTask.objects.all()}
    crontabs, intervals = CrontabSchedule.objects.count(), IntervalSchedule.objects.count()

    # What DatabaseScheduler.setup_schedule does with each CELERY_BEAT_SCHEDULE entry.
    for name, entry in settings.CELERY_BEAT_SCHEDULE.items():
        ModelEntry.from_entry(name, app=celery_app, **entry)

    after = {task.name: task for task in PeriodicTask.objects.all()}
    assert set(after) == set(before)
    for name, task in after.items():
        assert (task.task, task.kwargs, task.crontab_id, task.interval_id, task.expire_seconds) == (
            before[name].task,
            before[name].kwargs,
            before[name].crontab_id,
            before[name].interval_id,
            before[name].expire_seconds,
        )
    assert (CrontabSchedule.objects.count(), IntervalSchedule.objects.count()) == (crontabs, intervals)


def test_a_schedule_from_before_the_queue_is_moved_to_the_weekly_trigger():
    call_command("migrate", "training", "0001", verbosity=0)
    call_command("migrate", "training", "0002", verbosity=0)
    PeriodicTask.objects.filter(name="weekly-pipeline").update(
        task="training.tasks.pipeline_run_task", kwargs='{"trigger": "schedule"}'
    )

    call_command("migrate", "training", verbosity=0)

    task = PeriodicTask.objects.get(name="weekly-pipeline")
    assert (task.task, json.loads(task.kwargs)) == ("training.tasks.pipeline_schedule_task", {})


@pytest.mark.usefixtures("migrated")
def test_running_them_again_leaves_tasks_edited_in_the_admin_alone():
    PeriodicTask.objects.filter(name__in=["weekly-pipeline", "pipeline-watchdog"]).update(enabled=False)

    weekly_migration.schedule_create(apps, schema_editor=None)
    tasks_migration.tasks_update(apps, schema_editor=None)

    edited = PeriodicTask.objects.filter(name__in=["weekly-pipeline", "pipeline-watchdog"])
    assert set(edited.values_list("name", "enabled")) == {
        ("weekly-pipeline", False),
        ("pipeline-watchdog", False),
    }


@pytest.mark.usefixtures("migrated")
@pytest.mark.parametrize(("migration", "name", "task", "seconds"), INTERVAL_TASKS)
def test_each_interval_task_runs_at_its_interval_after_migrate(migration, name, task, seconds):
    seeded = PeriodicTask.objects.select_related("interval").get(name=name)

    assert seeded.task == task
    assert seeded.enabled
    assert (seeded.interval.every, seeded.interval.period) == (seconds, IntervalSchedule.SECONDS)


@pytest.mark.usefixtures("migrated")
@pytest.mark.parametrize(("migration", "name", "task", "seconds"), INTERVAL_TASKS)
def test_running_an_interval_tasks_migration_again_leaves_it_disabled_when_the_admin_disabled_it(
    migration, name, task, seconds
):
    PeriodicTask.objects.filter(name=name).update(enabled=False)

    importlib.import_module(migration).schedule_create(apps, schema_editor=None)

    assert list(PeriodicTask.objects.filter(name=name).values_list("enabled", flat=True)) == [False]
