"""Reads of the catalog shared by several callers."""

from __future__ import annotations

from django.db import connection
from django.db.models import Max, Model


def row_count_estimate(*, model: type[Model]) -> int:
    """About how many rows ``model``'s table holds, without counting them: PostgreSQL's
    planner statistics (``reltuples``, kept fresh by autovacuum), else the highest id, which
    an index answers. Exact enough for a paginator over tens of millions of events."""
    if connection.vendor == "postgresql":
        with connection.cursor() as cursor:
            cursor.execute(
                "SELECT reltuples::bigint FROM pg_class WHERE oid = %s::regclass", [model._meta.db_table]
            )
            row = cursor.fetchone()
        # -1 until the table was first analysed.
        if row is not None and row[0] >= 0:
            return int(row[0])
    highest = model._default_manager.aggregate(highest=Max("pk"))["highest"]
    return int(highest or 0)
