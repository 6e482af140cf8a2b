"""The feature store's writer: ``features_build`` aggregates events strictly before a
cut-off in the database and writes one ``FeatureSet`` with its tables.

The database does the heavy lifting (GROUP BY over the events, portable SQL through the
ORM, parallel on PostgreSQL); only the aggregates travel to Python, where
``ranking.feature_compute`` (pure pandas) turns them into features. So memory grows with
the number of products, query-product pairs and users, not with the number of events.
"""

from __future__ import annotations

import io
import time
from datetime import datetime

import pandas as pd
from django.db import connection, transaction
from django.db.models import Count, Max, Min, Q, Sum

from catalog import loading
from catalog.models import Event, EventType
from catalog.progress import Reporter
from catalog.selectors import catalog_frame_get
from catalog.services import events_request_context_fill
from ranking import contract, feature_compute
from ranking.models import (
    FeatureSet,
    ProductFeatures,
    QueryFrequency,
    QueryProductFeatures,
    UserAffinity,
    UserFeatures,
)

ENGAGEMENT_TYPES = [EventType.CLICK, EventType.ADD_TO_CART, EventType.PURCHASE]


def features_build(
    *, until: datetime, purpose: str = FeatureSet.Purpose.ADHOC, reporter: Reporter | None = None
) -> FeatureSet:
    """Build every feature table from the events strictly before ``until``.

    Point in time: no event at or after ``until`` is read, so features for lists shown
    after the cut-off cannot see their own labels. Transactional: the tables appear all
    at once with the set marked ``ready``; a build that fails leaves its set ``failed``
    with the error and no rows.
    """
    reporter = reporter or Reporter.silent()
    started = time.perf_counter()
    # Events that came before their request's impression-log row get its query first.
    events_request_context_fill()
    feature_set = FeatureSet.objects.create(
        until=until,
        purpose=purpose,
        status=FeatureSet.Status.BUILDING,
        contract_version=contract.CONTRACT_VERSION,
    )
    try:
        tables, events_counted = _tables_compute(until=until, reporter=reporter)
        with reporter.step("Writing the feature tables") as info, transaction.atomic():
            counts = _tables_write(feature_set=feature_set, tables=tables)
            info.update(counts)
            FeatureSet.objects.filter(pk=feature_set.pk).update(
                status=FeatureSet.Status.READY,
                counts=counts,
                stats=_json_safe(tables.stats),
                events_counted=events_counted,
                build_seconds=time.perf_counter() - started,
            )
    except Exception as error:
        FeatureSet.objects.filter(pk=feature_set.pk).update(
            status=FeatureSet.Status.FAILED, error=f"{type(error).__name__}: {error}"
        )
        raise
    feature_set.refresh_from_db()
    return feature_set


def _tables_compute(*, until: datetime, reporter: Reporter) -> tuple[feature_compute.FeatureTables, int]:
    before = Event.objects.filter(timestamp__lt=until)
    with transaction.atomic():
        _aggregation_session_tune()
        with reporter.step(f"Aggregating events before {until:%Y-%m-%d %H:%M} per query and product") as info:
            # One scan serves the query x product, the product and the lists-per-query counts
            # (``feature_compute.counts_rollup``): every list has exactly one impression at
            # position 1.
            query_product_counts = _frame(
                before.values("query_norm", "product_id", "event_type").annotate(
                    n=Count("id"),
                    position_sum=Sum("position"),
                    first=Min("timestamp"),
                    last=Max("timestamp"),
                    lists=Count("id", filter=Q(position=1)),
                ),
                columns={
                    "query_norm": "str",
                    "product_id": "str",
                    "event_type": "str",
                    "n": "int64",
                    "position_sum": "float64",
                    "first": "datetime",
                    "last": "datetime",
                    "lists": "int64",
                },
            )
            product_counts, query_lists = feature_compute.counts_rollup(query_product_counts)
            events_counted = int(product_counts["n"].sum()) if len(product_counts) else 0
            info.update(
                events=events_counted,
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
                columns={"user_id": "str", "product_id": "str", "event_type": "str", "n": "int64"},
            )
            info["rows"] = len(user_product_counts)
    with reporter.step("Computing features") as info:
        catalog = catalog_frame_get()
        query_product_counts = query_product_counts[
            ["query_norm", "product_id", "event_type", "n", "position_sum"]
        ]
        for frame in (product_counts, query_product_counts):
            frame["position_sum"] = frame["position_sum"].fillna(0).astype("float64")
            frame["n"] = frame["n"].astype("float64")
        user_product_counts["n"] = user_product_counts["n"].astype("float64")
        tables = feature_compute.feature_tables_compute(
            catalog=catalog,
            product_counts=product_counts,
            query_product_counts=query_product_counts,
            user_product_counts=user_product_counts,
            query_lists=query_lists,
            until=pd.Timestamp(until),
        )
        info["products"] = len(tables.products)
        info["query_products"] = len(tables.query_products)
        info["users"] = len(tables.users)
    return tables, events_counted


# PostgreSQL settings for the aggregation, in this build's transaction only:
# * ``work_mem``: the default 4 MB makes the per (query, product, type) GROUP BY sort and
#   spill to disk from about a million events; a few hundred MB keep it a hash aggregate.
# * ``parallel_tuple_cost``: the planner cannot know how few (query, product, type) groups
#   there are (it guesses from the row count) and keeps that aggregation in one process;
#   partial aggregates in the parallel workers take 1.5-2x less time on two idle cores.
#   Extended statistics on those columns (``CREATE STATISTICS ... (ndistinct)``) would tell
#   it and make this setting unnecessary.
AGGREGATION_SETTINGS = {"work_mem": "256MB", "parallel_tuple_cost": "0.001"}


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


def _tables_write(*, feature_set: FeatureSet, tables: feature_compute.FeatureTables) -> dict[str, int]:
    set_id = feature_set.pk
    products = tables.products.rename(columns={"product_id": "product_external_id"})[
        feature_compute.PRODUCT_TABLE_COLUMNS
    ]
    query_products = tables.query_products.rename(columns={"product_id": "product_external_id"})[
        feature_compute.QP_TABLE_COLUMNS
    ]
    writes = [
        (ProductFeatures, products),
        (QueryProductFeatures, query_products),
        (UserFeatures, tables.users[feature_compute.USER_TABLE_COLUMNS]),
        (UserAffinity, tables.user_affinities[feature_compute.AFFINITY_TABLE_COLUMNS]),
        (QueryFrequency, tables.queries[["query_norm", "lists"]]),
    ]
    counts: dict[str, int] = {}
    for model, frame in writes:
        counts[str(model._meta.model_name)] = loading.rows_insert(
            model=model, frame=frame.assign(feature_set_id=set_id)
        )
    return counts


def _json_safe(value):
    """Stats as plain JSON (numpy numbers and arrays to Python, NaN to None)."""
    if isinstance(value, dict):
        return {str(k): _json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_json_safe(v) for v in value]
    if hasattr(value, "tolist"):
        return _json_safe(value.tolist())
    if isinstance(value, float) and value != value:
        return None
    return value
