"""Counts of the events before a cut-off, aggregated by the database.

The database does the heavy lifting (GROUP BY over the events, portable SQL through the
ORM, parallel on PostgreSQL); only the aggregates travel to Python, so memory grows with
the number of products, query-product pairs and users, not with the number of events.
"""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime

import pandas as pd
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q, Sum

from catalog.models import Event, EventType
from catalog.progress import Reporter
from ranking.features.tables import counts_rollup

ENGAGEMENT_TYPES = [EventType.CLICK, EventType.ADD_TO_CART, EventType.PURCHASE]

# PostgreSQL settings for the aggregation, in its transaction only:
# * ``work_mem``: the default 4 MB makes the per (query, product, type) GROUP BY sort and
#   spill to disk from about a million events; a few hundred MB keep it a hash aggregate.
# * ``parallel_tuple_cost``: the planner cannot know how few (query, product, type) groups
#   there are (it guesses from the row count) and keeps that aggregation in one process;
#   partial aggregates in the parallel workers take 1.5-2x less time on two idle cores.
#   Extended statistics on those columns (``CREATE STATISTICS ... (ndistinct)``) would tell
#   it and make this setting unnecessary.
AGGREGATION_SETTINGS = {"work_mem": "256MB", "parallel_tuple_cost": "0.001"}

QUERY_PRODUCT_COUNT_COLUMNS = {
    "query_norm": "str",
    "product_id": "str",
    "event_type": "str",
    "n": "int64",
    "position_sum": "float64",
    "first": "datetime",
    "last": "datetime",
    "lists": "int64",
}
USER_PRODUCT_COUNT_COLUMNS = {"user_id": "str", "product_id": "str", "event_type": "str", "n": "int64"}


@dataclass
class EventCounts:
    """What ``feature_tables_compute`` takes: counts per product, per (query, product) and
    per (user, product), and lists per query."""

    product_counts: pd.DataFrame
    query_product_counts: pd.DataFrame
    user_product_counts: pd.DataFrame
    query_lists: pd.DataFrame

    @property
    def events(self) -> int:
        return int(self.product_counts["n"].sum()) if len(self.product_counts) else 0


def event_counts_aggregate(*, since: datetime, until: datetime, reporter: Reporter) -> EventCounts:
    """Aggregate the events of ``[since, until)`` (point in time: nothing at or after
    ``until`` is read). Numbered steps with counts go to ``reporter``."""
    before = Event.objects.filter(timestamp__gte=since, timestamp__lt=until)
    with transaction.atomic():
        _aggregation_session_tune()
        with reporter.step(
            f"Aggregating events of {since:%Y-%m-%d %H:%M} to {until:%Y-%m-%d %H:%M} per query and product"
        ) as info:
            # One scan serves the query x product, the product and the lists-per-query counts
            # (``counts_rollup``): every list has exactly one impression at position 1.
            query_product_counts = _frame(
                before.values("query_norm", "product_id", "event_type").annotate(
                    n=Count("id"),
                    position_sum=Sum("position"),
                    first=Min("timestamp"),
                    last=Max("timestamp"),
                    lists=Count("id", filter=Q(position=1)),
                ),
                columns=QUERY_PRODUCT_COUNT_COLUMNS,
            )
            product_counts, query_lists = counts_rollup(query_product_counts)
            info.update(
                events=int(product_counts["n"].sum()) if len(product_counts) else 0,
                rows=len(query_product_counts),
                products=len(product_counts),
                queries=len(query_lists),
            )
        with reporter.step("Aggregating per user") as info:
            user_product_counts = _frame(
                before.filter(event_type__in=ENGAGEMENT_TYPES)
                .exclude(user_id="")
                .values("user_id", "product_id", "event_type")
                .annotate(n=Count("id")),
                columns=USER_PRODUCT_COUNT_COLUMNS,
            )
            info["rows"] = len(user_product_counts)
    query_product_counts = query_product_counts[
        ["query_norm", "product_id", "event_type", "n", "position_sum"]
    ]
    for frame in (product_counts, query_product_counts):
        frame["position_sum"] = frame["position_sum"].fillna(0).astype("float64")
        frame["n"] = frame["n"].astype("float64")
    user_product_counts["n"] = user_product_counts["n"].astype("float64")
    return EventCounts(
        product_counts=product_counts,
        query_product_counts=query_product_counts,
        user_product_counts=user_product_counts,
        query_lists=query_lists,
    )


def _aggregation_session_tune() -> None:
    if connection.vendor != "postgresql":
        return
    with connection.cursor() as cursor:
        for name, value in AGGREGATION_SETTINGS.items():
            cursor.execute("SELECT set_config(%s, %s, true)", [name, value])


def _frame(queryset, *, columns: dict[str, str]) -> pd.DataFrame:
    """The rows of an aggregating ``values()`` queryset as a frame with ``columns`` (name:
    ``str``, ``int64``, ``float64`` (NULL as NaN) or ``datetime`` (UTC, microseconds)).

    PostgreSQL: ``COPY (query) TO STDOUT`` read by pandas' C parser, several times cheaper
    than building a Python row per group; elsewhere the ORM's rows."""
    names = list(columns)
    if connection.vendor != "postgresql":
        frame = pd.DataFrame.from_records(queryset, columns=names)
        return frame.astype(
            {name: kind for name, kind in columns.items() if kind in ("str", "int64", "float64")}
        )
    sql, params = queryset.query.sql_with_params()
    buffer = io.BytesIO()
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY ({sql}) TO STDOUT (FORMAT csv)", params) as copy,
    ):
        for block in copy:
            buffer.write(block)
    buffer.seek(0)
    text = [name for name, kind in columns.items() if kind in ("str", "datetime")]
    frame = pd.read_csv(
        buffer,
        names=names,
        header=None,
        dtype={name: ("str" if name in text else kind) for name, kind in columns.items()},
        # Only a numeric column can be NULL here; a query may well read "NA" or "null".
        keep_default_na=False,
        na_values={name: [""] for name, kind in columns.items() if kind == "float64"},
    )
    for name, kind in columns.items():
        if kind == "datetime":
            frame[name] = pd.to_datetime(frame[name], utc=True, format="ISO8601").astype(
                "datetime64[us, UTC]"
            )
    return frame
