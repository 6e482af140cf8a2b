"""An event is stored once per event_id (catalog.models.EVENT_RESEND_WINDOW, catalog.loading):
the key (event_id, timestamp) holds on the partitioned table, and the loaders skip a copy
whose id is stored within the window of its time or repeated earlier in the same batch."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pandas as pd
import pytest
from django.db import IntegrityError, transaction

from catalog import loading
from catalog.models import EVENT_RESEND_WINDOW, Event
from catalog.services import events_ingest

pytestmark = pytest.mark.django_db

WHEN = datetime(2026, 10, 14, 9, 30, tzinfo=UTC)


def event(event_id: str, timestamp: datetime | None = WHEN, **overrides) -> dict:
    return {
        "event_id": event_id,
        "event_type": "click",
        "product_id": "P00001",
        "position": 1,
        "timestamp": timestamp,
        **overrides,
    }


def stored(event_id: str) -> list[datetime]:
    return sorted(Event.objects.filter(event_id=event_id).values_list("timestamp", flat=True))


def test_an_event_resent_as_it_was_is_stored_once():
    event_id = str(uuid.uuid4())

    first = events_ingest(events=[event(event_id)])
    again = events_ingest(events=[event(event_id)])

    assert (first.stored, again.stored, again.duplicates) == (1, 0, 1)
    assert stored(event_id) == [WHEN]


def test_an_event_sent_without_a_time_and_retried_later_is_stored_once():
    """/api/events stamps it with its arrival, so the retry carries another time."""
    event_id = str(uuid.uuid4())

    events_ingest(events=[event(event_id, timestamp=None)])
    again = events_ingest(events=[event(event_id, timestamp=None)])

    assert again.stored == 0
    assert len(stored(event_id)) == 1


def test_an_id_resent_with_another_time_within_the_window_is_skipped():
    event_id = str(uuid.uuid4())
    events_ingest(events=[event(event_id)])

    again = events_ingest(
        events=[event(event_id, timestamp=WHEN + EVENT_RESEND_WINDOW - timedelta(minutes=1))]
    )
    earlier = events_ingest(events=[event(event_id, timestamp=WHEN - timedelta(days=3))])

    assert (again.stored, earlier.stored) == (0, 0)
    assert stored(event_id) == [WHEN]


def test_an_id_resent_with_a_time_further_than_the_window_is_stored_as_another_event():
    event_id = str(uuid.uuid4())
    events_ingest(events=[event(event_id)])
    later = WHEN + EVENT_RESEND_WINDOW + timedelta(minutes=1)

    again = events_ingest(events=[event(event_id, timestamp=later)])

    assert again.stored == 1
    assert stored(event_id) == [WHEN, later]


def test_an_id_repeated_in_one_batch_with_two_times_is_stored_once_the_earliest():
    event_id = str(uuid.uuid4())

    result = events_ingest(events=[event(event_id, timestamp=WHEN + timedelta(hours=1)), event(event_id)])

    assert (result.received, result.stored) == (2, 1)
    assert stored(event_id) == [WHEN]


def test_the_importers_loader_applies_the_same_rule_across_its_chunks():
    event_id = str(uuid.uuid4())
    frame = pd.DataFrame(
        {
            "event_id": [event_id, str(uuid.uuid4())],
            "event_type": ["click", "click"],
            "timestamp": pd.to_datetime([WHEN, WHEN], utc=True),
            "user_id": ["U1", "U1"],
            "session_id": ["s", "s"],
            "query": ["shoes", "shoes"],
            "query_norm": ["shoes", "shoes"],
            "product_id": ["P00001", "P00002"],
            "position": pd.array([1, 2], dtype="Int64"),
            "request_id": ["r", "r"],
        }
    )
    loader = loading.EventsLoader()
    loader.add(frame)
    loader.add(frame.iloc[:1].assign(timestamp=pd.to_datetime([WHEN + timedelta(hours=2)], utc=True)))

    assert loader.finish() == 2
    assert stored(event_id) == [WHEN]


def test_the_database_refuses_a_second_row_with_the_same_id_and_time():
    """The key holds even for a writer that skips the loaders."""
    event_id = uuid.uuid4()
    fields = {"event_type": "click", "product_id": "P00001", "ingested_at": WHEN}
    Event.objects.create(event_id=event_id, timestamp=WHEN, **fields)

    with pytest.raises(IntegrityError), transaction.atomic():
        Event.objects.create(event_id=event_id, timestamp=WHEN, **fields)
