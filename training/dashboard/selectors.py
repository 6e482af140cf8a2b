"""The dashboard's reads in one call: traffic over the chosen range, beat, drift."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from training.dashboard.beat import BeatStatus, beat_status_get
from training.dashboard.drift import drift_summary_get
from training.dashboard.traffic import Traffic, TrafficWindow, traffic_get


@dataclass(frozen=True)
class Dashboard:
    now: datetime
    traffic: Traffic
    beat: BeatStatus
    drift: Any | None


def dashboard_get(*, window: TrafficWindow, now: datetime) -> Dashboard:
    return Dashboard(
        now=now,
        traffic=traffic_get(window=window, now=now),
        beat=beat_status_get(now=now),
        drift=drift_summary_get(),
    )
