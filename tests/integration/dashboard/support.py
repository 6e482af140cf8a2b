"""Hand-made impression-log and event rows for the dashboard's tests."""

from __future__ import annotations

import uuid
from datetime import datetime

from catalog.models import Event, SearchRequest
from tests.factories import ProductFactory


def logged_search(
    *, at: datetime, latency: float | None = None, fallback: bool = False, **fields
) -> SearchRequest:
    return SearchRequest.objects.create(
        request_id=fields.pop("request_id", uuid.uuid4().hex),
        timestamp=at,
        query="shoes",
        query_norm="shoes",
        product_ids=fields.pop("product_ids", ["P1", "P2"]),
        fallback=fallback,
        latency_seconds=latency,
        **fields,
    )


def event(
    *, at: datetime, event_type: str, position: int | None = 1, request_id: str = "r", product=None
) -> Event:
    return Event.objects.create(
        event_id=uuid.uuid4(),
        event_type=event_type,
        timestamp=at,
        product=product or ProductFactory(),
        position=position,
        request_id=request_id,
        ingested_at=at,
    )
