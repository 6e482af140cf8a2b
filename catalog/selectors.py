"""Reads of the catalog shared by several callers."""

from __future__ import annotations

import io
from dataclasses import dataclass
from datetime import datetime, timedelta

import pandas as pd
from django.db import connection
from django.db.models import Max, Min, Model, QuerySet

from catalog.columns import EVENTS, PRODUCTS, Kind
from catalog.models import Event, Product, SearchRequest


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


# The events' columns that lists and features read, in the order of their frames.
EVENT_FRAME_COLUMNS = [
    "request_id",
    "event_type",
    "product_id",
    "position",
    "timestamp",
    "query_norm",
    "user_id",
]
_EVENT_TEXT = [name for name in EVENT_FRAME_COLUMNS if EVENTS[name].kind in (Kind.TEXT, Kind.CHOICE)]


def events_frame_get(
    *, since: datetime | None, until: datetime, request_ids_from: str | None = None
) -> pd.DataFrame:
    """Events with ``since <= timestamp < until`` as a frame (``EVENT_FRAME_COLUMNS``).

    PostgreSQL streams them with ``COPY (SELECT ...) TO STDOUT``, several times faster than
    fetching rows; SQLite reads them through pandas. ``request_ids_from`` restricts the
    events to requests of the impression log with ``randomised`` true (``"randomised"``).
    """
    table = Event._meta.db_table
    where = ["e.timestamp < %s"]
    params: list = [until]
    if since is not None:
        where.insert(0, "e.timestamp >= %s")
        params.insert(0, since)
    join = ""
    if request_ids_from == "randomised":
        join = f" JOIN {SearchRequest._meta.db_table} r ON r.request_id = e.request_id AND r.randomised"
    columns = ", ".join(f"e.{EVENTS.db_column(name)}" for name in EVENT_FRAME_COLUMNS)
    sql = f"SELECT {columns} FROM {table} e{join} WHERE {' AND '.join(where)}"
    if connection.vendor == "postgresql":
        frame = _postgres_frame(sql, params)
    else:
        with connection.cursor() as cursor:
            cursor.execute(sql, [connection.ops.adapt_datetimefield_value(p) for p in params])
            frame = pd.DataFrame.from_records(cursor.fetchall(), columns=EVENT_FRAME_COLUMNS)
    frame.columns = EVENT_FRAME_COLUMNS
    frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True, format="ISO8601")
    frame["position"] = pd.to_numeric(frame["position"]).fillna(0).astype("int64")
    for name in _EVENT_TEXT:
        frame[name] = frame[name].fillna("").astype(str)
    return frame


def _postgres_frame(sql: str, params: list) -> pd.DataFrame:
    buffer = io.BytesIO()
    with connection.cursor() as cursor:
        # COPY takes no bind parameters: merge them client-side, safely quoted by psycopg.
        statement = cursor.cursor.mogrify(sql, params)
        with cursor.cursor.copy(f"COPY ({statement}) TO STDOUT (FORMAT csv)") as copy:
            for block in copy:
                buffer.write(block)
    buffer.seek(0)
    if not buffer.getbuffer().nbytes:
        return pd.DataFrame(columns=EVENT_FRAME_COLUMNS)
    return pd.read_csv(
        buffer,
        header=None,
        names=EVENT_FRAME_COLUMNS,
        dtype=dict.fromkeys(_EVENT_TEXT, str),
        keep_default_na=False,
        na_values={"position": [""]},
    )


# The products' ranking attributes, the external id called product_id as in the events.
_CATALOG_FIELDS = ["external_id", "title", "description", "brand", "category", "price", "rating"]
CATALOG_FRAME_COLUMNS = ["product_id", *_CATALOG_FIELDS[1:]]


def catalog_frame_get() -> pd.DataFrame:
    """Every product's ranking attributes: price and rating as floats (NaN when unrated)."""
    rows = Product.objects.values_list(*_CATALOG_FIELDS).order_by("id")
    frame = pd.DataFrame.from_records(rows.iterator(chunk_size=10_000), columns=CATALOG_FRAME_COLUMNS)
    frame["price"] = pd.to_numeric(frame["price"], errors="coerce").astype("float64").fillna(0.0)
    frame["rating"] = pd.to_numeric(frame["rating"], errors="coerce").astype("float64")
    for field, name in zip(_CATALOG_FIELDS, CATALOG_FRAME_COLUMNS, strict=True):
        if PRODUCTS[field].kind == Kind.TEXT:
            frame[name] = frame[name].fillna("").astype(str)
    return frame


def event_latest_timestamp_get() -> datetime | None:
    """The time of the newest event (an index look-up)."""
    return Event.objects.aggregate(latest=Max("timestamp"))["latest"]


def event_earliest_timestamp_get() -> datetime | None:
    """The time of the oldest event (an index look-up)."""
    return Event.objects.aggregate(earliest=Min("timestamp"))["earliest"]


# A request's events are looked for from a day before it (clients' clocks) to a week after:
# a range on the partition key, so PostgreSQL reads one or two monthly partitions' indexes.
REQUEST_EVENTS_BEFORE = timedelta(days=1)
REQUEST_EVENTS_AFTER = timedelta(days=7)
TEAM_NAMES = {"A": "control", "B": "challenger", "=": "both"}


@dataclass(frozen=True)
class ShownItem:
    """One position of a logged list: the product (None when the catalog does not know it),
    the interleaving team that placed it and the challenger's rank of it (shadow)."""

    position: int
    product_id: str
    product: Product | None
    team: str
    challenger_rank: int | None


def search_request_shown_get(*, search_request: SearchRequest) -> list[ShownItem]:
    """The list as it was shown, position by position, with the catalog's products."""
    ids = [str(product_id) for product_id in search_request.product_ids or []]
    products = {product.external_id: product for product in Product.objects.filter(external_id__in=ids)}
    teams = search_request.teams or ""
    shadow = {
        str(product_id): rank for rank, product_id in enumerate(search_request.shadow_ids or [], start=1)
    }
    return [
        ShownItem(
            position=position,
            product_id=product_id,
            product=products.get(product_id),
            team=TEAM_NAMES.get(teams[position - 1], "") if position <= len(teams) else "",
            challenger_rank=shadow.get(product_id),
        )
        for position, product_id in enumerate(ids, start=1)
    ]


def search_request_events_get(*, search_request: SearchRequest) -> QuerySet[Event]:
    """The events sent for the request, oldest first (the request id's index within the
    partitions of the request's time)."""
    return Event.objects.filter(
        request_id=search_request.request_id,
        timestamp__gte=search_request.timestamp - REQUEST_EVENTS_BEFORE,
        timestamp__lt=search_request.timestamp + REQUEST_EVENTS_AFTER,
    ).order_by("timestamp", "id")


def synthetic_catalog_mismatch_get(*, external_ids: list[str], titles: list[str]) -> str:
    """Why the stored products are not the given synthetic catalog (the same ids with the
    same titles), in a sentence; empty when they are."""
    stored = dict(Product.objects.filter(external_id__in=external_ids).values_list("external_id", "title"))
    missing = [pid for pid in external_ids if pid not in stored]
    if missing:
        return f"{len(missing):,} of its {len(external_ids):,} products are not in the catalog (e.g. {missing[0]})"
    differ = [pid for pid, title in zip(external_ids, titles, strict=True) if stored[pid] != title]
    if differ:
        return f"{len(differ):,} of its products have other titles in the catalog (e.g. {differ[0]})"
    return ""
