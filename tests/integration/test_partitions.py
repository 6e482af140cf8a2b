"""The monthly partitions of the events and the impression log (catalog.partitions and
catalog/migrations/0004): what the migration builds and keeps, and the upkeep that prepares
months ahead and moves rows out of the default partition."""

from __future__ import annotations

import time
import uuid
from datetime import UTC, date, datetime

import psycopg
import pytest
from django.core.management import call_command
from django.db import connection

from catalog.models import Event, SearchRequest
from catalog.partitions import (
    PARTITIONED_TABLES,
    default_name,
    partition_name,
    partitions_ensure,
    partitions_get,
)

pytestmark = pytest.mark.django_db

EVENTS = Event._meta.db_table
REQUESTS = SearchRequest._meta.db_table


def event_at(when: datetime) -> Event:
    return Event.objects.create(
        event_id=uuid.uuid4(), event_type="click", timestamp=when, product_id="P00001", ingested_at=when
    )


def partition_of(table: str, row_id: int) -> str:
    with connection.cursor() as cursor:
        cursor.execute(f"SELECT tableoid::regclass::text FROM {table} WHERE id = %s", [row_id])
        return cursor.fetchone()[0]


def months(table: str) -> list[str]:
    return [f"{p.month:%Y-%m}" for p in partitions_get(table) if p.month]


def test_both_tables_are_partitioned_by_month_with_a_default_partition():
    for table in PARTITIONED_TABLES:
        partitions = partitions_get(table)

        assert partitions[-1].name == default_name(table)
        assert partitions[-1].month is None
        assert len(partitions) >= 5  # this month, three ahead, the default


def test_a_row_lands_in_its_month_and_one_without_a_month_in_the_default_partition():
    this_month = date.today().replace(day=1)
    now = event_at(datetime(this_month.year, this_month.month, 2, tzinfo=UTC))
    old = event_at(datetime(2019, 5, 17, tzinfo=UTC))

    assert partition_of(EVENTS, now.id) == partition_name(
        EVENTS, datetime(now.timestamp.year, now.timestamp.month, 1)
    )
    assert partition_of(EVENTS, old.id) == default_name(EVENTS)


def test_the_upkeep_prepares_months_ahead_and_is_idempotent():
    created = partitions_ensure(today=date(2031, 1, 15), ahead_months=2)

    assert created == [
        partition_name(table, datetime(2031, month, 1, tzinfo=UTC))
        for table in PARTITIONED_TABLES
        for month in (1, 2, 3)
    ]
    assert partitions_ensure(today=date(2031, 1, 15), ahead_months=2) == []


def test_the_upkeep_gives_rows_in_the_default_partition_months_of_their_own():
    old = [event_at(datetime(2025, 3, day, tzinfo=UTC)) for day in (1, 31)]
    older = event_at(datetime(2024, 12, 31, 23, 59, tzinfo=UTC))

    created = partitions_ensure(ahead_months=0)

    assert {
        partition_name(EVENTS, datetime(2025, 3, 1)),
        partition_name(EVENTS, datetime(2024, 12, 1)),
    } <= set(created)
    assert [partition_of(EVENTS, e.id) for e in old] == [partition_name(EVENTS, datetime(2025, 3, 1))] * 2
    assert partition_of(EVENTS, older.id) == partition_name(EVENTS, datetime(2024, 12, 1))
    assert Event.objects.filter(id__in=[e.id for e in [*old, older]]).count() == 3


def test_rows_more_than_ten_years_old_stay_in_the_default_partition():
    ancient = event_at(datetime(1970, 1, 1, tzinfo=UTC))

    partitions_ensure(ahead_months=0)

    assert partition_of(EVENTS, ancient.id) == default_name(EVENTS)
    assert "1970-01" not in months(EVENTS)


@pytest.mark.django_db(transaction=True)
def test_the_upkeep_waits_a_few_seconds_for_a_locked_table_then_leaves_the_month_for_next_time():
    """A long import holds the table; upkeep must not queue in front of the traffic."""
    settings = connection.settings_dict
    holder = psycopg.connect(
        host=settings["HOST"], port=settings["PORT"] or 5432, user=settings["USER"], dbname=settings["NAME"]
    )
    try:
        holder.execute(f"LOCK TABLE {default_name(EVENTS)} IN ACCESS EXCLUSIVE MODE")
        started = time.monotonic()

        created = partitions_ensure(today=date(2032, 6, 1), ahead_months=0)

        assert time.monotonic() - started < 30
        assert partition_name(EVENTS, datetime(2032, 6, 1)) not in created
        assert partition_name(REQUESTS, datetime(2032, 6, 1)) in created
    finally:
        holder.rollback()
        holder.close()
    assert partition_name(EVENTS, datetime(2032, 6, 1)) in partitions_ensure(
        today=date(2032, 6, 1), ahead_months=0
    )
    for table in PARTITIONED_TABLES:  # a transactional test commits: leave no extra month behind
        with connection.cursor() as cursor:
            cursor.execute(f"DROP TABLE {partition_name(table, datetime(2032, 6, 1))}")


def test_the_migration_keeps_every_row_its_id_and_months_and_the_ids_go_on():
    call_command("migrate", "catalog", "0003", verbosity=0)
    assert partitions_get(EVENTS) == []  # plain again
    rows = [event_at(datetime(2025, month, 10, tzinfo=UTC)) for month in (1, 2, 2, 7)]
    before = sorted(Event.objects.values_list("id", "event_id", "timestamp"))

    call_command("migrate", "catalog", verbosity=0)

    assert sorted(Event.objects.values_list("id", "event_id", "timestamp")) == before
    assert {"2025-01", "2025-02", "2025-07"} <= set(months(EVENTS))
    assert partition_of(EVENTS, rows[-1].id) == partition_name(EVENTS, datetime(2025, 7, 1))
    assert event_at(datetime(2025, 7, 11, tzinfo=UTC)).id > max(row[0] for row in before)


def test_the_partitions_command_lists_both_tables(capsys):
    call_command("partitions")

    out = capsys.readouterr().out
    for table in PARTITIONED_TABLES:
        assert f"{table}: " in out
        assert default_name(table) in out
