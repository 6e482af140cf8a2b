"""Bulk loading of frames into the catalog tables, with a fast path per database.

PostgreSQL: ``COPY`` into a temporary staging table, then one ``INSERT ... SELECT ... ON
CONFLICT DO NOTHING`` (COPY itself has no ON CONFLICT). SQLite: ``INSERT OR IGNORE``. Both
are idempotent by the table's unique key, and both run inside the caller's transaction, so a
failed load leaves nothing behind. Column names and types come from the models, and the
events' columns from ``catalog.columns.EVENTS``. Events are stored once per ``event_id``
(``catalog.models.EVENT_RESEND_WINDOW`` says how): both paths skip a copy whose id is stored
within the window of its time, or that repeats an id earlier in the batch.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Collection, Iterator, Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd
from django.db import connection
from django.db.models import Model
from django.utils import timezone

from catalog.columns import EVENTS, stored_field
from catalog.models import EVENT_RESEND_WINDOW, Event, GroundTruth, SearchRequest

SQLITE_BATCH = 5_000
ROWS_PER_COPY_BLOCK = 200_000

# A model field's PostgreSQL type for a staging table; anything else is text.
_POSTGRES_TYPES = {
    "UUIDField": "uuid",
    "DateTimeField": "timestamptz",
    "FloatField": "double precision",
    "BigAutoField": "bigint",
    "BigIntegerField": "bigint",
    "AutoField": "integer",
    "IntegerField": "integer",
    "PositiveIntegerField": "integer",
    "PositiveSmallIntegerField": "smallint",
    "BooleanField": "boolean",
    "JSONField": "jsonb",
}
_INTEGRAL = ("bigint", "integer", "smallint")


@dataclass(frozen=True)
class TableSpec:
    table: str
    columns: Sequence[tuple[str, str]]  # (column, PostgreSQL type)
    conflict: str
    text_columns: Sequence[str]
    # Events: a copy of an id stored within this window of its time is not new either.
    resend_window: timedelta | None = None

    @classmethod
    def of(
        cls,
        model: type[Model],
        columns: Sequence[str] = (),
        *,
        conflict: str = "",
        resend_window: timedelta | None = None,
    ) -> TableSpec:
        """``columns`` of ``model``'s table (default: all but the id) with their types from the
        model's fields. Text columns store '' for an empty value, never NULL, as Django does."""
        fields = {field.column: field for field in model._meta.concrete_fields}
        names = columns or [
            str(field.column) for field in model._meta.concrete_fields if not field.primary_key
        ]
        internal = {name: stored_field(fields[name]).get_internal_type() for name in names}
        return cls(
            table=model._meta.db_table,
            columns=tuple((name, _POSTGRES_TYPES.get(internal[name], "text")) for name in names),
            conflict=conflict,
            text_columns=tuple(name for name in names if internal[name] in ("CharField", "TextField")),
            resend_window=resend_window,
        )

    @property
    def names_sql(self) -> str:
        return ", ".join(f'"{name}"' for name, _ in self.columns)

    @property
    def columns_sql(self) -> str:
        return ", ".join(f'"{name}" {kind}' for name, kind in self.columns)


# The tables' keys hold the time: the events and the log are partitioned by it (catalog.models).
EVENT_TABLE = TableSpec.of(
    Event,
    (*EVENTS.db_columns, "ingested_at"),
    conflict=f'{EVENTS.db_column(EVENTS.key)}, "timestamp"',
    resend_window=EVENT_RESEND_WINDOW,
)
REQUEST_TABLE = TableSpec.of(SearchRequest, conflict='request_id, "timestamp"')
TRUTH_TABLE = TableSpec.of(GroundTruth, conflict="request_id, product_external_id")
# Frames of events name the product's column as the files do.
_EVENT_RENAMES = {name: EVENTS.db_column(name) for name in EVENTS.names if name != EVENTS.db_column(name)}


def events_load(frame: pd.DataFrame) -> int:
    """Insert event rows (columns as ``EVENT_TABLE``; ``product_id`` accepted for the product's
    external id); rows whose ``event_id`` is already stored are skipped. Returns rows inserted."""
    frame = frame.rename(columns=_EVENT_RENAMES)
    if "ingested_at" not in frame:
        frame = frame.assign(ingested_at=timezone.now())
    return _load(EVENT_TABLE, frame)


# A loaded request's columns that its frame does not give: the model's defaults (no model
# version, no experiment, ...), from the shop's own search.
_REQUEST_DEFAULTS = {
    **{
        str(field.column): field.get_default()
        for field in SearchRequest._meta.concrete_fields
        if not field.primary_key and not isinstance(field.get_default(), list | dict)
    },
    "source": SearchRequest.Source.SYNTHETIC.value,
}


def search_requests_load(frame: pd.DataFrame) -> int:
    frame = frame.assign(**{key: value for key, value in _REQUEST_DEFAULTS.items() if key not in frame})
    return _load(REQUEST_TABLE, frame)


def ground_truth_load(frame: pd.DataFrame) -> int:
    return _load(TRUTH_TABLE, frame)


def _load(spec: TableSpec, frame: pd.DataFrame) -> int:
    if frame.empty:
        return 0
    frame = frame[[name for name, _ in spec.columns]]
    if connection.vendor == "postgresql":
        return _copy_load(spec, frame)
    if spec.resend_window is not None:
        frame = _events_new(frame, spec.resend_window)
    return _sqlite_load(spec, frame)


def _events_new(frame: pd.DataFrame, window: timedelta, batch: int = 500) -> pd.DataFrame:
    """SQLite's side of the re-send rule (PostgreSQL's is one statement, ``_insert_staged``):
    the earliest copy of each id in ``frame``, unless the id is stored within ``window`` of
    its time. Looked up in batches, under SQLite's limit on query parameters."""
    frame = frame.reset_index(drop=True)
    times = pd.to_datetime(frame["timestamp"], utc=True)
    ids = frame["event_id"].map(lambda value: uuid.UUID(str(value)).hex)
    order = pd.DataFrame({"id": ids, "time": times}).sort_values(["id", "time"], kind="stable")
    first = order.drop_duplicates("id").index
    stored: dict[str, list] = {}
    unique_ids = ids.loc[first].tolist()
    for start in range(0, len(unique_ids), batch):
        rows = Event.objects.filter(event_id__in=unique_ids[start : start + batch]).values_list(
            "event_id", "timestamp"
        )
        for event_id, timestamp in rows:
            stored.setdefault(event_id.hex, []).append(timestamp)
    new = [
        index
        for index in first
        if not any(abs(times[index] - other) < window for other in stored.get(ids[index], ()))
    ]
    return frame.loc[sorted(new)]


def _copy_load(spec: TableSpec, frame: pd.DataFrame) -> int:
    staging = f"staging_{spec.table}"
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {staging}")
        cursor.execute(f"CREATE TEMPORARY TABLE {staging} ({spec.columns_sql}) ON COMMIT DROP")
        _copy_csv(cursor, staging, spec, frame)
        inserted = _insert_staged(
            cursor, spec, staging=staging, columns=spec.names_sql, values=spec.names_sql
        )
        cursor.execute(f"DROP TABLE {staging}")
    return inserted


def _insert_staged(cursor, spec: TableSpec, *, staging: str, columns: str, values: str, params=None) -> int:
    """``INSERT`` the staged rows (``values``, an expression list over ``staging``) that are
    new; returns how many. Events: the earliest copy of each id in the batch, and none whose
    id is stored within the re-send window of its time; the look-up is bounded by the batch's
    times as constants, so PostgreSQL reads only the months they can match."""
    params = dict(params or {})
    select = f"SELECT {values} FROM {staging} s"
    if spec.resend_window is not None:
        cursor.execute(f'SELECT min("timestamp"), max("timestamp") FROM {staging}')
        first, last = cursor.fetchone()
        if first is None:
            return 0
        window = spec.resend_window
        params.update(window=window, since=first - window, until=last + window)
        select = (
            f"SELECT DISTINCT ON (s.event_id) {values} FROM {staging} s WHERE NOT EXISTS ("
            f"SELECT 1 FROM {spec.table} e WHERE e.event_id = s.event_id "
            'AND e."timestamp" > s."timestamp" - %(window)s AND e."timestamp" < s."timestamp" + %(window)s '
            'AND e."timestamp" > %(since)s AND e."timestamp" < %(until)s'
            ') ORDER BY s.event_id, s."timestamp"'
        )
    cursor.execute(
        f"INSERT INTO {spec.table} ({columns}) {select} ON CONFLICT ({spec.conflict}) DO NOTHING", params
    )
    return cursor.rowcount


def _copy_csv(cursor, table: str, spec: TableSpec, frame: pd.DataFrame) -> None:
    """COPY in CSV format: the path for any column type (dates, JSON)."""
    force_not_null = ", ".join(f'"{name}"' for name in spec.text_columns)
    options = "FORMAT csv" + (f", FORCE_NOT_NULL ({force_not_null})" if force_not_null else "")
    with cursor.cursor.copy(f"COPY {table} ({spec.names_sql}) FROM STDIN ({options})") as copy:
        for block in _csv_blocks(frame, spec):
            copy.write(block)


def _csv_blocks(frame: pd.DataFrame, spec: TableSpec) -> Iterator[str]:
    frame = _for_csv(frame, spec)
    for start in range(0, len(frame), ROWS_PER_COPY_BLOCK):
        buffer = io.StringIO()
        # "\r\n" line ends make the writer quote a lone "\r" inside a value too, which COPY
        # would otherwise take for the end of a row.
        frame.iloc[start : start + ROWS_PER_COPY_BLOCK].to_csv(
            buffer, index=False, header=False, lineterminator="\r\n"
        )
        yield buffer.getvalue()


def _json_or_null(value: object) -> str | None:
    """JSON text, with None left as SQL NULL (not the JSON ``null``)."""
    return None if value is None else json.dumps(value)


def _for_csv(frame: pd.DataFrame, spec: TableSpec) -> pd.DataFrame:
    """Timestamps to microseconds in ISO form, JSON columns serialised, integers kept integral."""
    kinds = dict(spec.columns)
    out = {}
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(column):
            out[name] = pd.to_datetime(column, utc=True).dt.strftime("%Y-%m-%d %H:%M:%S.%f+00")
        elif kinds[name] == "jsonb":
            out[name] = column.map(_json_or_null)
        elif pd.api.types.is_float_dtype(column) and kinds[name] in _INTEGRAL:
            out[name] = column.astype("Int64")
        else:
            out[name] = column
    return pd.DataFrame(out, index=frame.index)


def _sqlite_load(spec: TableSpec, frame: pd.DataFrame) -> int:
    """The portable path: ``INSERT OR IGNORE`` in batches, values in Django's storage format
    (UUIDs as 32 hex digits, UTC datetimes as text, JSON as text)."""
    columns = [_sqlite_values(frame[name], kind) for name, kind in spec.columns]
    rows = list(zip(*columns, strict=True))
    names = [name for name, _ in spec.columns]
    placeholders = ", ".join("?" for _ in names)
    sql = f"INSERT OR IGNORE INTO {spec.table} ({', '.join(names)}) VALUES ({placeholders})"
    with connection.cursor() as cursor:
        raw = cursor.connection
        before = raw.total_changes
        for start in range(0, len(rows), SQLITE_BATCH):
            cursor.executemany(
                sql, [tuple(_plain(v) for v in row) for row in rows[start : start + SQLITE_BATCH]]
            )
        return raw.total_changes - before


def _sqlite_values(column: pd.Series, kind: str) -> np.ndarray:
    if kind == "timestamptz":
        # Django's own format: no fraction when there are no microseconds, so that text
        # comparisons in SQLite agree with the ORM's parameters at the boundaries.
        values = (
            pd.to_datetime(column, utc=True)
            .dt.strftime("%Y-%m-%d %H:%M:%S.%f")
            .str.replace(r"\.000000$", "", regex=True)
        )
    elif kind == "uuid":
        values = column.astype(str).str.replace("-", "", regex=False).str.lower()
    elif kind == "jsonb":
        values = column.map(_json_or_null)
    elif kind in _INTEGRAL:
        values = column.astype("Int64")
    elif kind == "boolean":
        values = column.astype(bool)
    else:
        values = column
    return values.astype(object).where(values.notna(), None).to_numpy()


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


class EventsLoader:
    """Loads validated event frames chunk by chunk inside the caller's transaction, then
    ``finish()`` inserts them in one statement, skipping event ids already stored (idempotent).

    PostgreSQL: each chunk is COPYed into one temporary staging table in COPY's text format
    (``_copy_text``, several times cheaper than ``to_csv``); ``finish`` runs a single
    ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` of the events that are new
    (``_insert_staged``). SQLite: ``events_load`` per
    chunk. Expects the columns of ``catalog.columns.EVENTS`` (as ``events_check`` returns them).
    """

    STAGING = "staging_event_import"
    STAGED = TableSpec.of(Event, EVENTS.db_columns, conflict=EVENT_TABLE.conflict)

    def __init__(self, *, ingested_at=None):
        self.ingested_at = ingested_at or timezone.now()
        self.postgres = connection.vendor == "postgresql"
        self.staged = 0
        self.inserted = 0

    def add(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        if not self.postgres:
            self.inserted += events_load(frame.assign(ingested_at=self.ingested_at))
            return
        with connection.cursor() as cursor:
            if not self.staged:
                cursor.execute(f"DROP TABLE IF EXISTS {self.STAGING}")
                cursor.execute(
                    f"CREATE TEMPORARY TABLE {self.STAGING} ({self.STAGED.columns_sql}) ON COMMIT DROP"
                )
            with cursor.cursor.copy(f"COPY {self.STAGING} ({self.STAGED.names_sql}) FROM STDIN") as copy:
                copy.write(_copy_text(frame, EVENTS.names, text=EVENTS.text))
        self.staged += len(frame)

    def finish(self) -> int:
        """Insert what was staged; returns the number of new events."""
        if self.postgres and self.staged:
            names = self.STAGED.names_sql
            with connection.cursor() as cursor:
                self.inserted = _insert_staged(
                    cursor,
                    EVENT_TABLE,
                    staging=self.STAGING,
                    columns=f'{names}, "ingested_at"',
                    values=f"{names}, %(ingested_at)s",
                    params={"ingested_at": self.ingested_at},
                )
                cursor.execute(f"DROP TABLE {self.STAGING}")
            self.staged = 0
        return self.inserted


def rows_insert(*, model, frame: pd.DataFrame) -> int:
    """Insert new rows into ``model``'s table (no conflict handling: the caller's rows are new,
    e.g. a fresh feature set). ``frame`` columns are the table's column names. PostgreSQL:
    ``COPY`` straight into the table; SQLite: batched ``INSERT``. Returns rows written."""
    if frame.empty:
        return 0
    spec = TableSpec.of(model, tuple(frame.columns))
    integral = [name for name, kind in spec.columns if kind in _INTEGRAL]
    if integral:
        frame = frame.assign(**{name: frame[name].round().astype("Int64") for name in integral})
    if connection.vendor != "postgresql":
        return _sqlite_load(spec, frame)
    with connection.cursor() as cursor:
        if not all(_text_format_fits(frame[name]) for name in frame.columns):
            _copy_csv(cursor, spec.table, spec, frame)
            return len(frame)
        with cursor.cursor.copy(f"COPY {spec.table} ({spec.names_sql}) FROM STDIN") as copy:
            for start in range(0, len(frame), ROWS_PER_COPY_BLOCK):
                block = frame.iloc[start : start + ROWS_PER_COPY_BLOCK]
                copy.write(_copy_text(block, frame.columns, text=spec.text_columns))
    return len(frame)


def _text_format_fits(column: pd.Series) -> bool:
    """Columns ``_copy_text`` writes as the CSV path would: 64-bit floats, integers,
    booleans and strings (anything else, dates or JSON, takes the CSV path)."""
    dtype = column.dtype
    if dtype in (np.dtype("float64"), pd.Float64Dtype()):
        return True
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        return True
    if isinstance(dtype, pd.StringDtype):
        return True
    return dtype == np.dtype(object) and pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty")


_COPY_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))


def _copy_text(frame: pd.DataFrame, names: Sequence[str], *, text: Collection[str]) -> bytes:
    """``frame[names]`` as COPY text-format rows, built column by column (what ``to_csv`` costs
    several times over) and holding the values the CSV path stores: floats in Python's shortest
    round-trip form (the same double arrives), times as UTC with microseconds, a missing value
    NULL, or '' in a ``text`` column (the CSV path's ``FORCE_NOT_NULL``)."""
    columns = []
    for name in names:
        column = frame[name]
        null = "" if name in text else r"\N"
        if column.dtype == np.dtype(object) or isinstance(column.dtype, pd.StringDtype):
            columns.append(_text_values(column, null))
            continue
        if column.dtype in (np.dtype("float64"), pd.Float64Dtype()):
            values = list(map(repr, column.to_numpy(dtype="float64", na_value=np.nan).tolist()))
        elif isinstance(column.dtype, pd.DatetimeTZDtype):
            naive = column.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
            values = np.datetime_as_string(naive, unit="us", timezone="UTC").tolist()
        else:  # booleans and integers
            values = list(map(str, column.tolist()))
        columns.append(_with_nulls(values, column, null))
    return ("\n".join(map("\t".join, zip(*columns, strict=True))) + "\n").encode()


def _text_values(column: pd.Series, null: str) -> list[str]:
    """Text escaped for COPY. Joining the values is one C pass that tells whether any needs
    escaping, and fails on a missing value: only then are the missing ones looked for."""
    values = column.to_numpy(dtype=object).tolist()
    try:
        joined = "".join(values)
    except TypeError:
        values = column.to_numpy(dtype=object, na_value="").tolist()
        joined = "".join(values)
    if any(special in joined for special, _ in _COPY_ESCAPES):
        for special, replacement in _COPY_ESCAPES:
            values = [value.replace(special, replacement) for value in values]
    # A missing value is now ''; in a column that is not text, it is NULL.
    return _with_nulls(values, column, null) if null and not all(values) else values


def _with_nulls(values: list[str], column: pd.Series, null: str) -> list[str]:
    missing = column.isna().to_numpy()
    if not missing.any():
        return values
    return [null if gone else value for value, gone in zip(values, missing.tolist(), strict=True)]
