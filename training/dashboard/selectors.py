"""The dashboard's reads in one call: traffic over the chosen range, beat, drift.

The traffic of a range is kept in the cache for ``window.cache_seconds`` (30 s for the hour,
2 min for the day, 10 min for the week): a week is a scan of about a million rows on a busy
shop (seconds), which one page view in ten minutes pays, not every view. Beat's status is
read fresh (one small query)."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from django.core.cache import cache
from redis import RedisError

from training.dashboard.beat import BeatStatus, beat_status_get
from training.dashboard.drift import drift_summary_get
from training.dashboard.traffic import Traffic, TrafficWindow, traffic_get

logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Dashboard:
    now: datetime
    traffic: Traffic
    beat: BeatStatus
    drift: Any | None


def dashboard_get(*, window: TrafficWindow, now: datetime) -> Dashboard:
    return Dashboard(
        now=now,
        traffic=traffic_cached_get(window=window, now=now),
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
