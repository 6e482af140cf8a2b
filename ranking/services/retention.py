"""Retention of the two tables that grow: the events and the impression log, partitioned by
month on PostgreSQL (``catalog.partitions``). Old months are dropped whole, never row by row,
and never while a registered model's report still needs them."""

from __future__ import annotations

from datetime import UTC, date, datetime

from django.conf import settings
from django.db import connection
from django.utils import timezone

from catalog.partitions import DropResult, month_add, month_floor, partitions_drop, partitions_ensure
from ranking.selectors import model_version_data_windows_get


class RetentionUnavailable(Exception):
    """Pruning needs PostgreSQL's partitions; the embedded SQLite keeps plain tables."""


def data_prune(*, before: date | datetime, dry_run: bool = False) -> DropResult:
    """Drop every month of events and impression log that ends on or before ``before``
    (whole partitions of both tables), except the months that overlap the lists a version
    that serves or could serve again (production, archived, candidate) was trained and
    evaluated on: those are kept, each with the versions that need it. Rows of older months
    still in the default partition are first moved into months of their own. With
    ``dry_run`` nothing changes. Each partition is dropped in its own short transaction."""
    if connection.vendor != "postgresql":
        raise RetentionUnavailable(
            "prune needs PostgreSQL: the embedded SQLite keeps the events in a plain table, which "
            "has no months to drop"
        )
    before = (
        before
        if isinstance(before, datetime)
        else datetime(before.year, before.month, before.day, tzinfo=UTC)
    )
    if not dry_run:
        partitions_ensure()
    keep = [(window.start, window.end, str(window)) for window in model_version_data_windows_get()]
    return partitions_drop(before=before, keep=keep, dry_run=dry_run)


def partitions_upkeep(*, today: date | None = None) -> dict:
    """The daily upkeep: months prepared ahead (``SEARCHOP_PARTITIONS_AHEAD_MONTHS``) and, with
    ``SEARCHOP_RETENTION_MONTHS`` > 0, the months before that many whole months ago pruned.
    Does nothing on SQLite. Returns what it created and dropped."""
    if connection.vendor != "postgresql":
        return {"created": [], "dropped": [], "kept": []}
    today = today or timezone.now().date()
    created = partitions_ensure(today=today)
    result = DropResult()
    months = settings.SEARCHOP_RETENTION_MONTHS
    if months > 0:
        result = data_prune(before=month_add(month_floor(today), -months))
    return {
        "created": created,
        "dropped": [partition.name for partition in result.dropped],
        "kept": [f"{partition.name}: {why}" for partition, why in result.kept],
    }
