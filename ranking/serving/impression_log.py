"""The impression log: one ``catalog.SearchRequest`` row per served rank request.

Written off the request path so it does not dominate latency: the request appends a row to
a bounded in-process queue (microseconds) and a background thread writes the queue in
batches every ``SEARCHOP_IMPRESSION_LOG_FLUSH_SECONDS``. When the database is down, rows
wait in the queue and the writer retries with a back-off; once the queue holds
``SEARCHOP_IMPRESSION_LOG_MAX_QUEUE`` rows, the oldest are dropped and counted
(``searchop_impression_log_dropped_total``): ranking keeps answering, and what is lost is
bounded and visible. Rows still queued when a worker exits are written at exit.

``SEARCHOP_IMPRESSION_LOG = "sync"`` writes in the request instead (simple, slower); ``"off"``
disables the log.
"""

from __future__ import annotations

import atexit
import logging
import threading
from collections import deque
from datetime import datetime
from typing import NamedTuple

import orjson
from django.conf import settings
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    close_old_connections,
    connection,
    connections,
    transaction,
)
from django.utils import timezone

from catalog.models import SearchRequest
from ranking.experiments.routing import Exposure
from ranking.serving import observability

logger = logging.getLogger(__name__)


class LoggedRequest(NamedTuple):
    """One served request as queued: a plain tuple, so the request path builds no model. The
    fields after ``fallback`` are the experiment's (``Exposure``), empty outside experiments."""

    request_id: str
    timestamp: datetime
    query: str
    query_norm: str
    user_id: str
    session_id: str
    product_ids: list[str]
    model_version: int | None
    fallback: bool
    experiment_id: int | None = None
    arm: str = ""
    teams: str = ""
    shadow_ids: list[str] | None = None
    challenger_seconds: float | None = None
    challenger_error: str = ""
    latency_seconds: float | None = None


_COLUMNS = (*LoggedRequest._fields, "randomised", "source")
_COPY_SQL = f"COPY {SearchRequest._meta.db_table} ({', '.join(_COLUMNS)}) FROM STDIN"
# JSON columns are written as JSON text by orjson (half the CPU of a flush with json).
_JSON_FIELDS = tuple(LoggedRequest._fields.index(name) for name in ("product_ids", "shadow_ids"))


def search_requests_write(rows: list[LoggedRequest]) -> None:
    """Write logged requests in one statement. PostgreSQL: ``COPY`` (a tenth of the Python
    CPU of the ORM's multi-row ``INSERT`` for a batch of 500, and less server work); the
    request ids are fresh UUIDs, so a conflict means a bug or a replay, and the caller then
    writes row by row with ``ON CONFLICT DO NOTHING``. Elsewhere: that ``INSERT``."""
    if connection.vendor != "postgresql":
        _write_ignoring_conflicts(rows)
        return
    source = SearchRequest.Source.API.value
    with (
        connection.wrap_database_errors,
        connection.cursor() as cursor,
        cursor.cursor.copy(_COPY_SQL) as copy,
    ):
        for row in rows:
            values = list(row)
            for index in _JSON_FIELDS:  # None stays NULL
                if values[index] is not None:
                    values[index] = orjson.dumps(values[index]).decode()
            copy.write_row((*values, False, source))


def _write_ignoring_conflicts(rows: list[LoggedRequest]) -> None:
    """The ORM's ``INSERT ... ON CONFLICT DO NOTHING``: a request id logged twice is stored once."""
    SearchRequest.objects.bulk_create(
        [SearchRequest(**row._asdict(), source=SearchRequest.Source.API) for row in rows],
        ignore_conflicts=True,
    )


class ImpressionLogWriter:
    def __init__(self) -> None:
        self._queue: deque[LoggedRequest] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff = 0.0

    def append(self, row: LoggedRequest) -> None:
        limit = settings.SEARCHOP_IMPRESSION_LOG_MAX_QUEUE
        with self._lock:
            if len(self._queue) >= limit:
                self._queue.popleft()
                observability.IMPRESSION_LOG_DROPPED.inc()
            self._queue.append(row)
        if self._thread is None or not self._thread.is_alive():
            self._start()

    def pending(self) -> int:
        return len(self._queue)

    def reset(self) -> None:
        """Forget the queued rows (tests)."""
        with self._lock:
            self._queue.clear()
            self._backoff = 0.0

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="searchop-impression-log", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            self._wake.wait(settings.SEARCHOP_IMPRESSION_LOG_FLUSH_SECONDS + self._backoff)
            self._wake.clear()
            self.flush()

    def flush(self) -> int:
        """Write what is queued (in batches); returns rows written. Safe from any thread."""
        written = 0
        while True:
            with self._lock:
                batch = [self._queue.popleft() for _ in range(min(len(self._queue), 500))]
            observability.IMPRESSION_LOG_QUEUE.set(len(self._queue))
            if not batch:
                self._backoff = 0.0
                return written
            try:
                close_old_connections()
                search_requests_write(batch)
            except (DataError, IntegrityError):
                # The database is up but refuses something in this batch: write the rows one
                # by one and drop (and count) only the ones it refuses, so one bad row cannot
                # hold up the log.
                written += self._write_one_by_one(batch)
                continue
            except DatabaseError as error:
                with self._lock:
                    self._queue.extendleft(reversed(batch))
                    overflow = len(self._queue) - settings.SEARCHOP_IMPRESSION_LOG_MAX_QUEUE
                    for _ in range(max(overflow, 0)):
                        self._queue.popleft()
                        observability.IMPRESSION_LOG_DROPPED.inc()
                self._backoff = min(max(self._backoff * 2, 0.5), 30.0)
                logger.warning(
                    "impression log: database unavailable (%s); %d rows wait", error, len(self._queue)
                )
                connections.close_all()
                return written
            written += len(batch)
            observability.IMPRESSION_LOG_WRITTEN.inc(len(batch))

    def _write_one_by_one(self, batch: list[LoggedRequest]) -> int:
        written = 0
        for row in batch:
            try:
                with transaction.atomic():
                    _write_ignoring_conflicts([row])
                written += 1
            except (DataError, IntegrityError) as error:
                observability.IMPRESSION_LOG_DROPPED.inc()
                logger.error("impression log: dropped request %s: %s", row.request_id, error)
        observability.IMPRESSION_LOG_WRITTEN.inc(written)
        return written


WRITER = ImpressionLogWriter()
atexit.register(WRITER.flush)


def impression_log_record(
    *,
    request_id: str,
    query: str,
    query_norm: str,
    user_id: str,
    session_id: str,
    product_ids: list[str],
    model_version: int | None,
    fallback: bool,
    exposure: Exposure | None = None,
    latency_seconds: float | None = None,
) -> None:
    """Log one served request (the ids it returned, in order) as configured; ``exposure``
    when an experiment served it (``ranking.experiments.routing.search_answer``);
    ``latency_seconds``, the server time to its ranked order (the dashboard's percentiles)."""
    mode = settings.SEARCHOP_IMPRESSION_LOG
    if mode == "off":
        return
    row = LoggedRequest(
        request_id=request_id,
        timestamp=timezone.now(),
        query=query,
        query_norm=query_norm,
        user_id=user_id,
        session_id=session_id,
        product_ids=product_ids,
        model_version=model_version,
        fallback=fallback,
        **(exposure._asdict() if exposure is not None else {}),
        latency_seconds=latency_seconds,
    )
    if mode == "sync":
        _write_ignoring_conflicts([row])
        observability.IMPRESSION_LOG_WRITTEN.inc()
        return
    WRITER.append(row)
