"""Monthly partitions of the two tables that grow without bound: the events and the
impression log (PostgreSQL declarative partitioning by range of ``timestamp``).

Each table has a partition per calendar month (UTC) named ``<table>_YYYY_MM``, and a default
partition ``<table>_default`` that takes any row no month is prepared for, so an insert never
fails for want of a partition (a historical import, a client clock years off).
``partitions_ensure`` prepares the months ahead and moves rows out of the default partition
into months of their own; ``partitions_drop`` drops whole months, never deleting row by row.
The migration that partitions the tables is ``catalog/migrations/0004``. On SQLite (the
embedded demo) the tables are plain: nothing here applies, ``partitions_get`` is empty.

Partition DDL needs a strong lock on the table, which a long import holds for minutes: each
partition is created or dropped in a transaction of its own that waits at most
``LOCK_TIMEOUT`` and is otherwise left for the next run, so upkeep never queues in front of the
traffic.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from contextlib import suppress
from dataclasses import dataclass, field
from datetime import UTC, date, datetime

from django.conf import settings
from django.db import OperationalError, connection, transaction
from django.utils import timezone

from catalog.models import Event, SearchRequest

PARTITIONED_TABLES = (Event._meta.db_table, SearchRequest._meta.db_table)
KEY = "timestamp"
LOCK_TIMEOUT = "5s"
# Rows in the default partition older than this many months get no month of their own (a
# client clock in 1970 would otherwise make hundreds): they stay there and are reported.
OLDEST_MONTH_SPLIT = 120
_MONTH_NAME = re.compile(r"_(\d{4})_(\d{2})$")


@dataclass(frozen=True)
class Partition:
    table: str
    name: str
    month: datetime | None  # its first instant (UTC); None for the default partition
    rows: int  # PostgreSQL's estimate (pg_class.reltuples): no count(*) of a big table

    @property
    def end(self) -> datetime | None:
        return None if self.month is None else month_add(self.month, 1)


@dataclass
class DropResult:
    dropped: list[Partition] = field(default_factory=list)
    kept: list[tuple[Partition, str]] = field(default_factory=list)  # (partition, why)
    busy: list[Partition] = field(default_factory=list)  # locked by a long transaction: next run
    default_rows_before: dict[str, int] = field(default_factory=dict)  # rows left in the default


def month_floor(moment: datetime | date) -> datetime:
    return datetime(moment.year, moment.month, 1, tzinfo=UTC)


def month_add(month: datetime, months: int) -> datetime:
    index = month.year * 12 + month.month - 1 + months
    return datetime(index // 12, index % 12 + 1, 1, tzinfo=UTC)


def partition_name(table: str, month: datetime) -> str:
    return f"{table}_{month:%Y_%m}"


def default_name(table: str) -> str:
    return f"{table}_default"


def partitioned(table: str) -> bool:
    if connection.vendor != "postgresql":
        return False
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT 1 FROM pg_partitioned_table p JOIN pg_class c ON c.oid = p.partrelid WHERE c.relname = %s",
            [table],
        )
        return cursor.fetchone() is not None


def partitions_get(table: str) -> list[Partition]:
    """The partitions of ``table``, months in order, the default one last (empty on SQLite)."""
    if not partitioned(table):
        return []
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT c.relname, greatest(c.reltuples, 0)::bigint FROM pg_inherits i "
            "JOIN pg_class c ON c.oid = i.inhrelid WHERE i.inhparent = %s::regclass ORDER BY c.relname",
            [table],
        )
        rows = cursor.fetchall()
    months: list[Partition] = []
    default: list[Partition] = []
    for name, estimate in rows:
        found = _MONTH_NAME.search(name)
        month = datetime(int(found[1]), int(found[2]), 1, tzinfo=UTC) if found else None
        (months if month else default).append(Partition(table, name, month, int(estimate)))
    return months + default


def partitions_ensure(*, today: date | None = None, ahead_months: int | None = None) -> list[str]:
    """Give every month from this one to ``ahead_months`` ahead
    (``SEARCHOP_PARTITIONS_AHEAD_MONTHS``) a partition in both tables, and every month that
    has rows in a default partition (up to ``OLDEST_MONTH_SPLIT`` months back) one of its
    own, moving those rows into it. Idempotent; a month whose table stays locked longer than
    ``LOCK_TIMEOUT`` is skipped until the next run. Returns the partitions created."""
    today = today or timezone.now().date()
    ahead = settings.SEARCHOP_PARTITIONS_AHEAD_MONTHS if ahead_months is None else ahead_months
    this_month = month_floor(today)
    created = []
    for table in PARTITIONED_TABLES:
        if not partitioned(table):
            continue
        existing = {partition.month for partition in partitions_get(table)}
        wanted = {month_add(this_month, offset) for offset in range(ahead + 1)}
        # The default partition locked by a long transaction: only the months ahead this time.
        with suppress(OperationalError):
            wanted |= _default_months(
                table, since=month_add(this_month, -OLDEST_MONTH_SPLIT), until=this_month
            )
        for month in sorted(wanted - existing):
            try:
                _month_create(table, month)
            except OperationalError:  # lock_timeout: a long transaction holds the table
                continue
            created.append(partition_name(table, month))
    return created


def _lock_timeout(cursor) -> None:
    """Wait at most ``LOCK_TIMEOUT`` for any lock until the end of this transaction."""
    cursor.execute("SELECT set_config('lock_timeout', %s, true)", [LOCK_TIMEOUT])


def _default_months(table: str, *, since: datetime, until: datetime) -> set[datetime]:
    """The months in [since, until] that rows of the default partition fall in."""
    with transaction.atomic(), connection.cursor() as cursor:
        _lock_timeout(cursor)
        cursor.execute(
            f"SELECT DISTINCT date_trunc('month', \"{KEY}\" AT TIME ZONE 'UTC') FROM {default_name(table)} "
            f'WHERE "{KEY}" >= %s AND "{KEY}" < %s',
            [since, month_add(until, 1)],
        )
        return {month.replace(tzinfo=UTC) for (month,) in cursor.fetchall()}


def _month_create(table: str, month: datetime) -> None:
    """One month's partition, in one transaction; rows of that month in the default
    partition move into it (the default partition is locked first, so none arrives between
    the move and the attach)."""
    name, default, bounds = partition_name(table, month), default_name(table), [month, month_add(month, 1)]
    in_month = f'"{KEY}" >= %s AND "{KEY}" < %s'
    with transaction.atomic(), connection.cursor() as cursor:
        _lock_timeout(cursor)
        cursor.execute(f"LOCK TABLE {default} IN ACCESS EXCLUSIVE MODE")
        cursor.execute(f"SELECT EXISTS (SELECT 1 FROM {default} WHERE {in_month})", bounds)
        if not cursor.fetchone()[0]:
            cursor.execute(f"CREATE TABLE {name} PARTITION OF {table} FOR VALUES FROM (%s) TO (%s)", bounds)
            return
        cursor.execute(f"CREATE TABLE {name} (LIKE {table} INCLUDING DEFAULTS INCLUDING CONSTRAINTS)")
        cursor.execute(
            f"WITH moved AS (DELETE FROM {default} WHERE {in_month} RETURNING *) INSERT INTO {name} SELECT * FROM moved",
            bounds,
        )
        cursor.execute(f"ALTER TABLE {table} ATTACH PARTITION {name} FOR VALUES FROM (%s) TO (%s)", bounds)


def partitions_drop(
    *, before: datetime, keep: Sequence[tuple[datetime, datetime, str]], dry_run: bool = False
) -> DropResult:
    """Drop, in both tables, every month that ends on or before ``before``, except the months
    that overlap a window in ``keep`` (``(start, end, why)``): those are kept and reported
    with why. Whole partitions only; rows of earlier months still in a default partition are
    counted, not deleted. With ``dry_run`` nothing is dropped and ``dropped`` says what would be."""
    result = DropResult()
    for table in PARTITIONED_TABLES:
        for partition in partitions_get(table):
            if partition.month is None:
                with suppress(OperationalError):  # locked by a long transaction: not counted now
                    result.default_rows_before[table] = _default_rows_before(table, before)
                continue
            end = month_add(partition.month, 1)
            if end > before:
                continue
            reasons = [why for start, stop, why in keep if start < end and partition.month < stop]
            if reasons:
                result.kept.append((partition, "; ".join(reasons)))
            elif dry_run or _partition_drop(partition):
                result.dropped.append(partition)
            else:
                result.busy.append(partition)
    return result


def _partition_drop(partition: Partition) -> bool:
    try:
        with transaction.atomic(), connection.cursor() as cursor:
            _lock_timeout(cursor)
            cursor.execute(f"DROP TABLE {partition.name}")
    except OperationalError:
        return False
    return True


def _default_rows_before(table: str, before: datetime) -> int:
    with transaction.atomic(), connection.cursor() as cursor:
        _lock_timeout(cursor)
        cursor.execute(f'SELECT count(*) FROM {default_name(table)} WHERE "{KEY}" < %s', [before])
        return int(cursor.fetchone()[0])
