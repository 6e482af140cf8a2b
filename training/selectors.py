"""Reads the training pipeline shares: lists in a time window, randomised lists, the ground
truth of evaluation lists, pipeline runs."""

from __future__ import annotations

from datetime import datetime

import numpy as np
import pandas as pd
from django.utils import timezone

from catalog.models import GroundTruth, SearchRequest
from catalog.selectors import EVENT_FRAME_COLUMNS, events_frame_get
from training.lists import lists_build
from training.models import PipelineRun


def lists_get(*, since: datetime, until: datetime) -> pd.DataFrame:
    """The lists shown in ``[since, until)`` with labels from events in the same window only.

    Lists come from impression events; a request that ``/api/rank`` served and logged but
    for which the shop sent no impression events counts with the ids it returned, in order.
    """
    events = events_frame_get(since=since, until=until)
    logged = _logged_impressions(
        since=since, until=until, known=set(events.loc[events.event_type == "impression", "request_id"])
    )
    if len(logged):
        events = pd.concat([events, logged], ignore_index=True)
    return lists_build(events)


def _logged_impressions(*, since: datetime, until: datetime, known: set[str]) -> pd.DataFrame:
    rows = (
        SearchRequest.objects.filter(timestamp__gte=since, timestamp__lt=until)
        .exclude(source=SearchRequest.Source.SYNTHETIC)
        .values_list("request_id", "timestamp", "query_norm", "user_id", "product_ids")
    )
    records = []
    for request_id, timestamp, query_norm, user_id, product_ids in rows.iterator(chunk_size=5_000):
        if request_id in known or not product_ids:
            continue
        for position, product_id in enumerate(product_ids, start=1):
            records.append(
                (request_id, "impression", str(product_id), position, timestamp, query_norm, user_id)
            )
    frame = pd.DataFrame.from_records(records, columns=EVENT_FRAME_COLUMNS)
    if len(frame):
        frame["timestamp"] = pd.to_datetime(frame["timestamp"], utc=True)
    return frame


def randomised_lists_get(*, until: datetime) -> pd.DataFrame:
    """Lists shown in random order before ``until`` (for position-bias estimation)."""
    return lists_build(events_frame_get(since=None, until=until, request_ids_from="randomised"))


def truth_get(*, lists: pd.DataFrame, since: datetime, until: datetime) -> np.ndarray | None:
    """True relevance per row of ``lists`` (NaN where unknown), or None when no list of the
    window has any (real shops): only evaluation reads it, never the trainer."""
    requests = SearchRequest.objects.filter(timestamp__gte=since, timestamp__lt=until).values("request_id")
    rows = GroundTruth.objects.filter(request_id__in=requests).values_list(
        "request_id", "product_external_id", "relevance"
    )
    truth = pd.DataFrame.from_records(
        rows.iterator(chunk_size=20_000), columns=["request_id", "product_id", "relevance"]
    )
    if truth.empty:
        return None
    joined = lists[["request_id", "product_id"]].merge(truth, on=["request_id", "product_id"], how="left")
    return joined["relevance"].to_numpy(dtype=np.float64)


def active_run_get() -> PipelineRun | None:
    """The run that is queued or running, unless its worker is lost (no heartbeat): the next
    trigger closes such a run first, so it does not block "run now"."""
    return (
        PipelineRun.objects.filter(status__in=PipelineRun.ACTIVE)
        .exclude(status=PipelineRun.Status.RUNNING, heartbeat_at__lt=PipelineRun.silent_since(timezone.now()))
        .first()
    )
