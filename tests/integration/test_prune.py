"""Retention (ranking.services.retention, ``manage.py prune``, the daily upkeep task and its
schedule): whole months of events and impression log dropped, never those a production,
archived or candidate model was trained or evaluated on, and saying which were kept and why."""

from __future__ import annotations

import importlib
import time
from datetime import UTC, date, datetime

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django.db import connection
from django_celery_beat.models import CrontabSchedule, PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from catalog.models import Event, SearchRequest
from catalog.partitions import (
    PARTITIONED_TABLES,
    month_add,
    partition_name,
    partitions_ensure,
    partitions_get,
)
from ranking.models import ModelStatus
from ranking.services import data_prune
from searchop_site.celery import app as celery_app
from tests.registry_factories import ModelVersionFactory
from training.tasks import partitions_upkeep_task

pytestmark = pytest.mark.django_db

EVENTS = Event._meta.db_table
REQUESTS = SearchRequest._meta.db_table
schedule_migration = importlib.import_module("training.migrations.0005_partition_upkeep_schedule")


@pytest.fixture
def year_2025():
    """Both tables with a partition for every month of 2025, each month holding events and
    logged requests (rows made in the database: a year of them costs a second)."""
    partitions_ensure(today=date(2025, 1, 1), ahead_months=11)
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {EVENTS} (event_id, event_type, timestamp, user_id, session_id, query, query_norm, "
            "product_external_id, position, request_id, ingested_at) "
            "SELECT gen_random_uuid(), 'click', t, '', '', '', '', 'P1', 1, '', t "
            "FROM generate_series('2025-01-01'::timestamptz, '2025-12-31', interval '5 minutes') t"
        )
        cursor.execute(
            f"INSERT INTO {REQUESTS} (request_id, timestamp, query, query_norm, user_id, session_id, "
            "product_ids, fallback, randomised, source) "
            "SELECT gen_random_uuid()::text, t, '', '', '', '', '[]', false, false, 'api' "
            "FROM generate_series('2025-01-01'::timestamptz, '2025-12-31', interval '1 hour') t"
        )


def month_names(year: int, months: range) -> set[str]:
    return {partition_name(table, datetime(year, m, 1)) for table in PARTITIONED_TABLES for m in months}


def existing() -> set[str]:
    return {partition.name for table in PARTITIONED_TABLES for partition in partitions_get(table)}


def windows(train_start: str, eval_end: str) -> dict:
    return {"train": [train_start, "x"], "eval": ["x", eval_end]}


@pytest.mark.usefixtures("year_2025")
def test_it_drops_the_whole_months_that_end_by_the_date_in_both_tables():
    result = data_prune(before=date(2025, 7, 15))

    assert {partition.name for partition in result.dropped} == month_names(2025, range(1, 7))
    assert not month_names(2025, range(1, 7)) & existing()
    assert month_names(2025, range(7, 13)) <= existing()
    assert not Event.objects.filter(timestamp__lt=datetime(2025, 7, 1, tzinfo=UTC)).exists()
    assert Event.objects.filter(timestamp__gte=datetime(2025, 7, 1, tzinfo=UTC)).exists()


@pytest.mark.usefixtures("year_2025")
def test_it_keeps_the_months_a_model_that_could_serve_was_trained_and_evaluated_on_and_says_why():
    ModelVersionFactory(
        version=7,
        status=ModelStatus.PRODUCTION,
        windows=windows("2025-03-10T00:00:00+00:00", "2025-04-21T00:00:00+00:00"),
    )
    ModelVersionFactory(
        version=8,
        status=ModelStatus.REJECTED,
        windows=windows("2025-01-05T00:00:00+00:00", "2025-02-01T00:00:00+00:00"),
    )

    result = data_prune(before=date(2025, 7, 1))

    kept = {partition.name: why for partition, why in result.kept}
    assert set(kept) == month_names(2025, range(3, 5))
    assert all(
        "v7 (production) was trained and evaluated on lists shown 2025-03-10 to 2025-04-21" in why
        for why in kept.values()
    )
    # A rejected version can never serve again: its months go.
    assert {partition.name for partition in result.dropped} == month_names(2025, range(1, 3)) | month_names(
        2025, range(5, 7)
    )


@pytest.mark.usefixtures("year_2025")
def test_a_dry_run_says_what_it_would_drop_and_drops_nothing(capsys):
    before = existing()

    call_command("prune", "--before", "2025-03-01", "--dry-run")

    out = capsys.readouterr().out
    assert existing() == before
    assert f"would drop {partition_name(EVENTS, datetime(2025, 2, 1))}" in out
    assert "Would drop 4 partition(s)" in out


@pytest.mark.usefixtures("year_2025")
def test_a_year_of_monthly_partitions_is_pruned_in_seconds_not_a_scan():
    rows = Event.objects.filter(timestamp__year=2025).count()
    started = time.perf_counter()

    result = data_prune(before=date(2026, 1, 1))

    seconds = time.perf_counter() - started
    assert rows > 100_000
    assert len(result.dropped) == 24
    assert seconds < 10, seconds


def test_the_daily_task_prepares_months_ahead_and_applies_the_retention(settings):
    settings.SEARCHOP_RETENTION_MONTHS = 2
    partitions_ensure(today=date(2020, 1, 1), ahead_months=2)  # three old months

    result = partitions_upkeep_task.apply(kwargs={}).get()

    assert month_names(2020, range(1, 4)) <= set(result["dropped"])
    assert not month_names(2020, range(1, 4)) & existing()
    this_month = date.today().replace(day=1)
    for ahead in range(settings.SEARCHOP_PARTITIONS_AHEAD_MONTHS + 1):
        month = month_add(datetime(this_month.year, this_month.month, 1, tzinfo=UTC), ahead)
        assert partition_name(EVENTS, month) in existing()


def test_the_upkeep_is_scheduled_daily_before_beat_ever_starts():
    call_command("migrate", "training", "0002", verbosity=0)
    assert not PeriodicTask.objects.filter(name="partition-upkeep").exists()
    call_command("migrate", "training", verbosity=0)
    task = PeriodicTask.objects.select_related("crontab").get(name="partition-upkeep")
    crontabs = CrontabSchedule.objects.count()

    ModelEntry.from_entry(
        "partition-upkeep", app=celery_app, **settings.CELERY_BEAT_SCHEDULE["partition-upkeep"]
    )

    assert task.task == "training.tasks.partitions_upkeep_task"
    assert (task.crontab.minute, task.crontab.hour, task.crontab.day_of_week) == ("30", "2", "*")
    assert PeriodicTask.objects.get(name="partition-upkeep").crontab_id == task.crontab_id
    assert CrontabSchedule.objects.count() == crontabs
    schedule_migration.schedule_create(apps, schema_editor=None)  # idempotent
    assert PeriodicTask.objects.filter(name="partition-upkeep").count() == 1
