"""The dashboard's reads in one call: traffic over the chosen range, the roll-up's last run,
beat, drift.

The traffic of a range is kept in the cache for ``window.cache_seconds`` (30 s for the hour,
2 min for the day, 10 min for the week). The day and the week read the hourly roll-up and
count only the hours it has not reached, so even a cold cache costs a few hundred
milliseconds, not the seconds a week's scan takes on a busy shop. Beat's and the roll-up's
status are read fresh (one small query each)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from django.conf import settings
from django.core.cache import cache
from django.db.models import Max
from redis import RedisError

from training.dashboard.beat import BeatStatus, beat_status_get
from training.dashboard.drift import drift_summary_get
from training.dashboard.traffic import Traffic, TrafficWindow, traffic_get
from training.models import TrafficHour

logger = logging.getLogger(__name__)

STALE_AFTER_INTERVALS = 3


@dataclass(frozen=True)
class RollupStatus:
    last_run: datetime | None  # the newest ``computed_at``: every run writes the last hours
    interval: timedelta  # how often beat runs it (SEARCHOP_TRAFFIC_ROLLUP_MINUTES)
    now: datetime  # when the status was read

    @property
    def stale_after(self) -> timedelta:
        return self.interval * STALE_AFTER_INTERVALS

    @property
    def stale(self) -> bool:
        """No run for ``STALE_AFTER_INTERVALS`` intervals (or never)."""
        return self.last_run is None or self.now - self.last_run > self.stale_after


def traffic_rollup_status_get(*, now: datetime) -> RollupStatus:
    """When the traffic roll-up last ran, and whether that is long enough ago that the day
    and week views count many hours live (slower, the same numbers)."""
    last_run = TrafficHour.objects.aggregate(last_run=Max("computed_at"))["last_run"]
    interval = timedelta(minutes=settings.SEARCHOP_TRAFFIC_ROLLUP["every_minutes"])
    return RollupStatus(last_run=last_run, interval=interval, now=now)


@dataclass(frozen=True)
class Dashboard:
    now: datetime
    traffic: Traffic
    rollup: RollupStatus
    beat: BeatStatus
    drift: Any | None


def dashboard_get(*, window: TrafficWindow, now: datetime) -> Dashboard:
    return Dashboard(
        now=now,
        traffic=traffic_cached_get(window=window, now=now),
        rollup=traffic_rollup_status_get(now=now),
        beat=beat_status_get(now=now),
        drift=drift_summary_get(),
    )


def traffic_cached_get(*, window: TrafficWindow, now: datetime) -> Traffic:
    """``traffic_get`` through the cache (computed at most once per ``window.cache_seconds``;
    without Redis, computed each time)."""
    key = f"dashboard:traffic:{window.name}"
    try:
        traffic = cache.get(key)
    except RedisError as error:
        logger.warning("dashboard: the cache is unreachable (%s); computing the traffic", error)
        return traffic_get(window=window, now=now)
    if traffic is None:
        traffic = traffic_get(window=window, now=now)
        try:
            cache.set(key, traffic, window.cache_seconds)
        except RedisError as error:
            logger.warning("dashboard: the cache is unreachable (%s)", error)
    return traffic
