"""Served feature rows for drift monitoring, sampled off the hot path's budget.

``drift_sample_offer`` is called once per rank request, after the features step. It costs
one random draw for the requests it skips (``SEARCHOP_DRIFT["sample_share"]`` is kept, 2% by
default). A kept request's rows (a random ``rows_per_request`` of its candidates at most)
are copied (float64) into a per-worker reservoir that holds at most
``max_requests_per_minute`` requests per minute, each request of the minute with the same
chance (reservoir sampling), so a busy worker stores a bounded, unbiased sample. A
background thread writes the reservoir every ``flush_seconds`` (one ``DriftSample`` row per
request); rows still held at exit are written then. A write that fails is dropped and logged:
drift monitoring never holds up serving.
"""

from __future__ import annotations

import atexit
import logging
import random
import threading
import time
from datetime import datetime
from typing import NamedTuple

import numpy as np
from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import DatabaseError, close_old_connections
from django.utils import timezone

from ranking.models import DriftSample

logger = logging.getLogger(__name__)


class SampledRequest(NamedTuple):
    created_at: datetime
    model_version: int | None
    query_norm: str
    rows: np.ndarray  # float64, (rows, features): float32 would move values that sit on a bin edge


class DriftSampler:
    """Per minute, a reservoir of at most ``max_requests_per_minute`` sampled requests."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._minutes: dict[int, list[SampledRequest]] = {}
        self._seen: dict[int, int] = {}  # requests the share kept in each minute (the reservoir's n)
        self._thread: threading.Thread | None = None
        self._random = random.Random()

    def offer(self, *, model_version: int | None, query_norm: str, features: np.ndarray) -> None:
        config = settings.SEARCHOP_DRIFT
        if self._random.random() >= config["sample_share"]:
            return
        minute, cap = int(time.time() // 60), config["max_requests_per_minute"]
        with self._lock:
            seen = self._seen[minute] = self._seen.get(minute, 0) + 1
            slot = seen - 1 if seen <= cap else self._random.randrange(seen)
        if slot >= cap:
            return
        rows = features
        if len(rows) > config["rows_per_request"]:
            picked = np.random.default_rng().choice(len(rows), config["rows_per_request"], replace=False)
            rows = rows[np.sort(picked)]
        sampled = SampledRequest(timezone.now(), model_version, query_norm, rows.astype(np.float64))
        with self._lock:
            held = self._minutes.setdefault(minute, [])
            if len(held) < cap:
                held.append(sampled)
            else:
                held[slot] = sampled
        if self._thread is None or not self._thread.is_alive():
            self._start()

    def pending(self) -> int:
        return sum(len(held) for held in self._minutes.values())

    def reset(self) -> None:
        """Forget what is held (tests)."""
        with self._lock:
            self._minutes.clear()
            self._seen.clear()

    def _start(self) -> None:
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="searchop-drift-sampler", daemon=True)
            self._thread.start()

    def _run(self) -> None:
        while True:
            time.sleep(settings.SEARCHOP_DRIFT["flush_seconds"])
            close_old_connections()  # this thread's own connection, as a request's end would
            self.flush(current=False)

    def flush(self, *, current: bool = True) -> int:
        """Write the finished minutes' requests (and the current minute's with ``current``);
        returns the requests written. Safe from any thread."""
        now = int(time.time() // 60)
        with self._lock:
            done = [minute for minute in self._minutes if current or minute < now]
            batch = [row for minute in sorted(done) for row in self._minutes.pop(minute)]
            for minute in done:
                self._seen.pop(minute, None)
        if not batch:
            return 0
        try:
            DriftSample.objects.bulk_create(
                DriftSample(
                    created_at=row.created_at,
                    model_version=row.model_version,
                    query_norm=row.query_norm,
                    num_features=row.rows.shape[1],
                    num_rows=row.rows.shape[0],
                    features=row.rows.tobytes(),
                )
                for row in batch
            )
        except (DatabaseError, ValidationError, ValueError) as error:  # never the worker's problem
            logger.warning("drift samples: %d requests dropped (%s)", len(batch), error)
            return 0
        return len(batch)


SAMPLER = DriftSampler()
atexit.register(SAMPLER.flush)


def drift_sample_offer(state, request, features: np.ndarray) -> None:  # type: ignore[no-untyped-def]
    """Offer one served request's feature matrix to the drift sampler (see the module)."""
    SAMPLER.offer(
        model_version=state.model_version,
        query_norm=request.query_norm,
        features=features,
    )
