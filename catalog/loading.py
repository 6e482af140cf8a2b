"""Bulk loading of frames into the catalog tables, with a fast path per database.

PostgreSQL: ``COPY`` into a temporary staging table, then one ``INSERT ... SELECT ... ON
CONFLICT DO NOTHING`` (COPY itself has no ON CONFLICT). SQLite: ``INSERT OR IGNORE``. Both are idempotent by the table's unique key, and both run inside
the caller's transaction, so a failed load leaves nothing behind. Events are stored once per
``event_id`` (``catalog.models.EVENT_RESEND_WINDOW`` says how): both paths skip a copy whose
id is stored within the window of its time, or that repeats an id earlier in the batch.
"""

from __future__ import annotations

import io
import json
import uuid
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import timedelta

import numpy as np
import pandas as pd
from django.db import connection
from django.utils import timezone

from catalog.models import EVENT_RESEND_WINDOW, Event, GroundTruth, SearchRequest

SQLITE_BATCH = 5_000


@dataclass(frozen=True)
class TableSpec:
    table: str
    columns: Sequence[tuple[str, str]]  # (column, PostgreSQL type)
    conflict: str
    text_columns: Sequence[str]
    # Events: a copy of an id stored within this window of its time is not new either.
    resend_window: timedelta | None = None


EVENT_TABLE = TableSpec(
    table=Event._meta.db_table,
    columns=(
        ("event_id", "uuid"),
        ("event_type", "text"),
        ("timestamp", "timestamptz"),
        ("user_id", "text"),
        ("session_id", "text"),
        ("query", "text"),
        ("query_norm", "text"),
        ("product_external_id", "text"),
        ("position", "integer"),
        ("request_id", "text"),
        ("ingested_at", "timestamptz"),
    ),
    conflict='event_id, "timestamp"',
    text_columns=("user_id", "session_id", "query", "query_norm", "request_id", "product_external_id"),
    resend_window=EVENT_RESEND_WINDOW,
)
REQUEST_TABLE = TableSpec(
    table=SearchRequest._meta.db_table,
    columns=(
        ("request_id", "text"),
        ("timestamp", "timestamptz"),
        ("query", "text"),
        ("query_norm", "text"),
        ("user_id", "text"),
        ("session_id", "text"),
        ("product_ids", "jsonb"),
        ("model_version", "integer"),
        ("fallback", "boolean"),
        ("randomised", "boolean"),
        ("source", "text"),
    ),
    conflict='request_id, "timestamp"',
    text_columns=("query", "query_norm", "user_id", "session_id", "source"),
)
TRUTH_TABLE = TableSpec(
    table=GroundTruth._meta.db_table,
    columns=(("request_id", "text"), ("product_external_id", "text"), ("relevance", "smallint")),
    conflict="request_id, product_external_id",
    text_columns=(),
)


def events_load(frame: pd.DataFrame) -> int:
    """Insert event rows (columns as ``EVENT_TABLE``; ``product_id`` accepted for the product's
    external id); rows whose ``event_id`` is already stored are skipped. Returns rows inserted."""
    frame = frame.rename(columns={"product_id": "product_external_id"})
    if "ingested_at" not in frame:
        frame = frame.assign(ingested_at=timezone.now())
    return _load(EVENT_TABLE, frame)


def search_requests_load(frame: pd.DataFrame) -> int:
    defaults = {"model_version": None, "fallback": False, "randomised": False, "source": "synthetic"}
    frame = frame.assign(**{key: value for key, value in defaults.items() if key not in frame})
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
    names = ", ".join(f'"{name}"' for name, _ in spec.columns)
    columns_sql = ", ".join(f'"{name}" {kind}' for name, kind in spec.columns)
    force_not_null = ", ".join(f'"{name}"' for name in spec.text_columns)
    options = "FORMAT csv" + (f", FORCE_NOT_NULL ({force_not_null})" if force_not_null else "")
    with connection.cursor() as cursor:
        cursor.execute(f"DROP TABLE IF EXISTS {staging}")
        cursor.execute(f"CREATE TEMPORARY TABLE {staging} ({columns_sql}) ON COMMIT DROP")
        with cursor.cursor.copy(f"COPY {staging} ({names}) FROM STDIN ({options})") as copy:
            for block in _csv_blocks(frame):
                copy.write(block)
        inserted = _insert_staged(cursor, spec, staging=staging, columns=names, values=names)
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
        params.update(
            window=spec.resend_window, since=first - spec.resend_window, until=last + spec.resend_window
        )
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


def _csv_blocks(frame: pd.DataFrame, rows_per_block: int = 200_000):
    frame = _for_csv(frame)
    for start in range(0, len(frame), rows_per_block):
        buffer = io.StringIO()
        # "\r\n" line ends make the writer quote a lone "\r" inside a value too, which COPY
        # would otherwise take for the end of a row.
        frame.iloc[start : start + rows_per_block].to_csv(
            buffer, index=False, header=False, lineterminator="\r\n"
        )
        yield buffer.getvalue()


def _for_csv(frame: pd.DataFrame) -> pd.DataFrame:
    """Timestamps to microseconds in ISO form, JSON columns serialised, integers kept integral."""
    out = {}
    for name in frame.columns:
        column = frame[name]
        if isinstance(column.dtype, pd.DatetimeTZDtype) or pd.api.types.is_datetime64_any_dtype(column):
            out[name] = pd.to_datetime(column, utc=True).dt.strftime("%Y-%m-%d %H:%M:%S.%f+00")
        elif name == "product_ids":
            out[name] = column.map(json.dumps)
        elif pd.api.types.is_float_dtype(column) and name in ("position", "model_version"):
            out[name] = column.astype("Int64")
        else:
            out[name] = column
    return pd.DataFrame(out, index=frame.index)


def _sqlite_load(spec: TableSpec, frame: pd.DataFrame) -> int:
    """The portable path: ``INSERT OR IGNORE`` in batches, values in Django's storage format
    (UUIDs as 32 hex digits, UTC datetimes as text, JSON as text)."""
    names = [name for name, _ in spec.columns]
    columns = []
    for name, kind in spec.columns:
        column = frame[name]
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
            values = column.map(json.dumps)
        elif kind in ("integer", "smallint"):
            values = column.astype("Int64")
        elif kind == "boolean":
            values = column.astype(bool)
        else:
            values = column
        columns.append(values.astype(object).where(values.notna(), None).to_numpy())
    rows = list(zip(*columns, strict=True))
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


def _plain(value):
    return value.item() if isinstance(value, np.generic) else value


class EventsLoader:
    """Loads validated event frames chunk by chunk inside the caller's transaction, then
    ``finish()`` inserts them in one statement, skipping event ids already stored (idempotent).

    PostgreSQL: each chunk is COPYed into one temporary staging table in COPY's text format,
    built with a C-level join over the columns (``to_csv`` and ``strftime`` cost several times
    more); ``finish`` runs a single ``INSERT ... SELECT ... ON CONFLICT DO NOTHING`` of the
    events that are new (``_insert_staged``).
    SQLite: ``events_load`` per chunk. Expects the columns of ``importers.events_check``.
    """

    STAGING = "staging_event_import"
    STAGED = (
        ("event_id", "uuid"),
        ("event_type", "text"),
        ("timestamp", "timestamptz"),
        ("user_id", "text"),
        ("session_id", "text"),
        ("query", "text"),
        ("query_norm", "text"),
        ("product_external_id", "text"),
        ("position", "smallint"),
        ("request_id", "text"),
    )

    def __init__(self, *, ingested_at=None):
        self.ingested_at = ingested_at or timezone.now()
        self.postgres = connection.vendor == "postgresql"
        self.staged = 0
        self.inserted = 0
        self._names = ", ".join(f'"{name}"' for name, _ in self.STAGED)

    def add(self, frame: pd.DataFrame) -> None:
        if frame.empty:
            return
        if not self.postgres:
            self.inserted += events_load(frame.assign(ingested_at=self.ingested_at))
            return
        with connection.cursor() as cursor:
            if not self.staged:
                columns_sql = ", ".join(f'"{name}" {kind}' for name, kind in self.STAGED)
                cursor.execute(f"DROP TABLE IF EXISTS {self.STAGING}")
                cursor.execute(f"CREATE TEMPORARY TABLE {self.STAGING} ({columns_sql}) ON COMMIT DROP")
            with cursor.cursor.copy(f"COPY {self.STAGING} ({self._names}) FROM STDIN") as copy:
                copy.write(_copy_text(frame))
        self.staged += len(frame)

    def finish(self) -> int:
        """Insert what was staged; returns the number of new events."""
        if self.postgres and self.staged:
            with connection.cursor() as cursor:
                self.inserted = _insert_staged(
                    cursor,
                    EVENT_TABLE,
                    staging=self.STAGING,
                    columns=f'{self._names}, "ingested_at"',
                    values=f"{self._names}, %(ingested_at)s",
                    params={"ingested_at": self.ingested_at},
                )
                cursor.execute(f"DROP TABLE {self.STAGING}")
            self.staged = 0
        return self.inserted


_COPY_ESCAPES = (("\\", "\\\\"), ("\t", "\\t"), ("\n", "\\n"), ("\r", "\\r"))


def _copy_text(frame: pd.DataFrame) -> bytes:
    """The frame as COPY text-format rows, in ``EventsLoader.STAGED`` order."""
    columns = []
    for name, _ in EventsLoader.STAGED:
        source = "product_id" if name == "product_external_id" else name
        column = frame[source]
        if name == "timestamp":
            naive = column.dt.tz_convert("UTC").dt.tz_localize(None).to_numpy(dtype="datetime64[us]")
            values = np.datetime_as_string(naive, unit="us", timezone="UTC").tolist()
        elif name == "position":
            values = np.where(column.isna(), "\\N", column.astype(str).to_numpy(dtype=object)).tolist()
        else:
            values = column.to_numpy(dtype=object)
            # One joined string is a C pass; escaping per value only when a column needs it.
            joined = "".join(values)
            if any(special in joined for special, _ in _COPY_ESCAPES):
                escaped = column.astype(str)
                for special, replacement in _COPY_ESCAPES:
                    escaped = escaped.str.replace(special, replacement, regex=False)
                values = escaped.to_numpy(dtype=object)
            values = values.tolist()
        columns.append(values)
    return ("\n".join(map("\t".join, zip(*columns, strict=True))) + "\n").encode()


def rows_insert(*, model, frame: pd.DataFrame) -> int:
    """Insert new rows into ``model``'s table (no conflict handling: the caller's rows are new,
    e.g. a fresh feature set). ``frame`` columns are the table's column names. PostgreSQL:
    ``COPY`` straight into the table; SQLite: batched ``INSERT``. Returns rows written."""
    if frame.empty:
        return 0
    columns_by_name = {f.column: f for f in model._meta.concrete_fields}
    kinds = {
        "FloatField": "double precision",
        "BigIntegerField": "bigint",
        "IntegerField": "integer",
        "ForeignKey": "bigint",
        "PositiveIntegerField": "integer",
        "BooleanField": "boolean",
    }
    spec = TableSpec(
        table=model._meta.db_table,
        columns=tuple(
            (name, kinds.get(columns_by_name[name].get_internal_type(), "text")) for name in frame.columns
        ),
        conflict="",
        text_columns=tuple(
            name
            for name in frame.columns
            if columns_by_name[name].get_internal_type() in ("CharField", "TextField")
        ),
    )
    integral = [name for name, kind in spec.columns if kind in ("bigint", "integer")]
    if integral:
        frame = frame.assign(**{name: frame[name].round().astype("Int64") for name in integral})
    if connection.vendor != "postgresql":
        return _sqlite_load(spec, frame)
    names = ", ".join(f'"{name}"' for name, _ in spec.columns)
    if all(_text_format_fits(frame[name]) for name in frame.columns):
        # COPY's text format built column by column (what ``to_csv`` costs several times).
        with (
            connection.cursor() as cursor,
            cursor.cursor.copy(f"COPY {spec.table} ({names}) FROM STDIN") as copy,
        ):
            for start in range(0, len(frame), ROWS_PER_COPY_BLOCK):
                copy.write(_copy_text_rows(frame.iloc[start : start + ROWS_PER_COPY_BLOCK], spec))
        return len(frame)
    force_not_null = ", ".join(f'"{name}"' for name in spec.text_columns)
    options = "FORMAT csv" + (f", FORCE_NOT_NULL ({force_not_null})" if force_not_null else "")
    with (
        connection.cursor() as cursor,
        cursor.cursor.copy(f"COPY {spec.table} ({names}) FROM STDIN ({options})") as copy,
    ):
        for block in _csv_blocks(frame):
            copy.write(block)
    return len(frame)


ROWS_PER_COPY_BLOCK = 200_000


def _text_format_fits(column: pd.Series) -> bool:
    """Columns ``_copy_text_rows`` writes as the CSV path would: 64-bit floats, integers,
    booleans and strings (anything else, dates or JSON, takes the CSV path)."""
    dtype = column.dtype
    if dtype in (np.dtype("float64"), pd.Float64Dtype()):
        return True
    if pd.api.types.is_bool_dtype(dtype) or pd.api.types.is_integer_dtype(dtype):
        return True
    if isinstance(dtype, pd.StringDtype):
        return True
    return dtype == np.dtype(object) and pd.api.types.infer_dtype(column, skipna=True) in ("string", "empty")


def _copy_text_rows(frame: pd.DataFrame, spec: TableSpec) -> bytes:
    """``frame`` as COPY text-format rows holding the values the CSV path stores: floats in
    Python's shortest round-trip form (the same double arrives), a missing value NULL, or ''
    in a text column (the CSV path's ``FORCE_NOT_NULL``)."""
    columns = []
    for name in frame.columns:
        column = frame[name]
        missing = column.isna().to_numpy()
        if column.dtype in (np.dtype("float64"), pd.Float64Dtype()):
            values = list(map(repr, column.to_numpy(dtype="float64", na_value=np.nan).tolist()))
        elif pd.api.types.is_bool_dtype(column.dtype) or pd.api.types.is_integer_dtype(column.dtype):
            values = list(map(str, column.tolist()))
        else:
            values = column.to_numpy(dtype=object, na_value="").tolist()
            joined = "".join(values)
            if any(special in joined for special, _ in _COPY_ESCAPES):
                for special, replacement in _COPY_ESCAPES:
                    values = [value.replace(special, replacement) for value in values]
        if missing.any():
            null = "" if name in spec.text_columns else r"\N"
            values = [null if gone else value for value, gone in zip(values, missing.tolist(), strict=True)]
        columns.append(values)
    return ("\n".join(map("\t".join, zip(*columns, strict=True))) + "\n").encode()
