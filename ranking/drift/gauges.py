"""Prometheus gauges of the latest drift report, read from the database when ``/metrics`` is
scraped (the report is computed by a Celery task, in another process), at most every
``REFRESH_SECONDS`` per web worker. Alert rules use these names."""

from __future__ import annotations

import time

from django.db import DatabaseError
from prometheus_client import Gauge

from ranking.drift.selectors import drift_report_latest_get

REFRESH_SECONDS = 30.0

FEATURE_PSI = Gauge(
    "searchop_feature_psi",
    "Population stability index of each feature: served (last day) against the production model's training data.",
    ["feature"],
    multiprocess_mode="mostrecent",
)
SCORE_PSI = Gauge(
    "searchop_score_psi",
    "PSI of the model's raw scores, served against training.",
    multiprocess_mode="mostrecent",
)
UNSEEN_QUERY_SHARE = Gauge(
    "searchop_unseen_query_share",
    "Share of sampled searches (last day) whose query was not in the training data.",
    multiprocess_mode="mostrecent",
)
DRIFT_FLAGGED = Gauge(
    "searchop_drift_flagged",
    "1 when the latest drift report flags a feature, the scores, the unseen queries or the CTR.",
    multiprocess_mode="mostrecent",
)
_refreshed = [0.0]


def drift_gauges_refresh(*, force: bool = False) -> None:
    """Set the gauges from the latest report (none set before there is one with numbers)."""
    if not force and time.monotonic() - _refreshed[0] < REFRESH_SECONDS:
        return
    _refreshed[0] = time.monotonic()
    try:
        report = drift_report_latest_get()
    except DatabaseError:  # /metrics answers from memory while the database is away
        return
    if report is None:
        return
    result = report.result
    DRIFT_FLAGGED.set(1.0 if report.flagged else 0.0)
    for row in result.get("features", []):
        if row["psi"] is not None:
            FEATURE_PSI.labels(feature=row["feature"]).set(row["psi"])
    if (result.get("score") or {}).get("psi") is not None:
        SCORE_PSI.set(result["score"]["psi"])
    if (result.get("unseen_queries") or {}).get("share") is not None:
        UNSEEN_QUERY_SHARE.set(result["unseen_queries"]["share"])
