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

from django.conf import settings
from django.db import (
    DatabaseError,
    DataError,
    IntegrityError,
    close_old_connections,
    connections,
    transaction,
)
from django.utils import timezone

from catalog.models import SearchRequest
from ranking import observability

logger = logging.getLogger(__name__)


def _row(
    *,
    request_id: str,
    timestamp: datetime,
    query: str,
    query_norm: str,
    user_id: str,
    session_id: str,
    product_ids: list[str],
    model_version: int | None,
    fallback: bool,
) -> SearchRequest:
    return SearchRequest(
        request_id=request_id,
        timestamp=timestamp,
        query=query,
        query_norm=query_norm,
        user_id=user_id,
        session_id=session_id,
        product_ids=product_ids,
        model_version=model_version,
        fallback=fallback,
        source=SearchRequest.Source.API,
    )


class ImpressionLogWriter:
    def __init__(self) -> None:
        self._queue: deque[SearchRequest] = deque()
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._thread: threading.Thread | None = None
        self._backoff = 0.0

    def append(self, row: SearchRequest) -> None:
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
                SearchRequest.objects.bulk_create(batch, ignore_conflicts=True)
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

    def _write_one_by_one(self, batch: list[SearchRequest]) -> int:
        written = 0
        for row in batch:
            try:
                with transaction.atomic():
                    SearchRequest.objects.bulk_create([row], ignore_conflicts=True)
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
) -> None:
    """Log one served request (the ids it returned, in order) as configured."""
    mode = settings.SEARCHOP_IMPRESSION_LOG
    if mode == "off":
        return
    row = _row(
        request_id=request_id,
        timestamp=timezone.now(),
        query=query,
        query_norm=query_norm,
        user_id=user_id,
        session_id=session_id,
        product_ids=product_ids,
        model_version=model_version,
        fallback=fallback,
    )
    if mode == "sync":
        SearchRequest.objects.bulk_create([row], ignore_conflicts=True)
        observability.IMPRESSION_LOG_WRITTEN.inc()
        return
    WRITER.append(row)
