"""Bulk loading into PostgreSQL (catalog.loading): COPY paths, idempotent loads, stored values."""

from __future__ import annotations

import uuid

import pandas as pd
import pytest
from django.db import transaction

from catalog import loading
from catalog.models import Event, GroundTruth, SearchRequest
from tests.factories import BASE_TIME

pytestmark = pytest.mark.django_db

SPECIAL = ["tab\there", "back\\slash", "line\nbreak", "carriage\rreturn", 'quote "q"']


def events(count: int, **columns) -> pd.DataFrame:
    """Events as ``events_check`` returns them (product_id, Int64 positions, UTC times)."""
    frame = pd.DataFrame(
        {
            "event_id": [str(uuid.UUID(int=n + 1)) for n in range(count)],
            "event_type": ["impression"] * count,
            "timestamp": pd.to_datetime([BASE_TIME] * count, utc=True),
            "user_id": ["U1"] * count,
            "session_id": ["s1"] * count,
            "query": ["shoes"] * count,
            "query_norm": ["shoes"] * count,
            "product_id": [f"P{n}" for n in range(count)],
            "position": pd.array(range(1, count + 1), dtype="Int64"),
            "request_id": ["r1"] * count,
        }
    )
    return frame.assign(**columns)


def test_rows_insert_stores_text_as_given_and_a_missing_text_as_empty():
    frame = pd.DataFrame(
        {
            "request_id": SPECIAL,
            "product_external_id": ["P1", None, "P3", "P4", "P5"],
            "relevance": [3, 2, 1, 0, 3],
        }
    )
    assert loading.rows_insert(model=GroundTruth, frame=frame) == 5
    stored = list(
        GroundTruth.objects.order_by("relevance", "id").values_list("request_id", "product_external_id")
    )
    assert sorted(stored) == sorted(zip(SPECIAL, ["P1", "", "P3", "P4", "P5"], strict=True))


def test_rows_insert_takes_the_csv_path_for_dates_and_json_with_the_same_result():
    frame = pd.DataFrame(
        {
            "request_id": SPECIAL,
            "timestamp": pd.to_datetime([BASE_TIME] * 5, utc=True),
            "query": SPECIAL,
            "query_norm": [None] * 5,
            "user_id": ["U1"] * 5,
            "session_id": ["s1"] * 5,
            "product_ids": [["P1", "P2"]] * 5,
            "model_version": [None, 2, None, 4, None],
            "fallback": [False] * 5,
            "randomised": [True] * 5,
            "source": ["import"] * 5,
        }
    )
    assert loading.rows_insert(model=SearchRequest, frame=frame) == 5
    stored = SearchRequest.objects.get(request_id="line\nbreak")
    assert (stored.query, stored.query_norm, stored.product_ids, stored.timestamp) == (
        "line\nbreak",
        "",
        ["P1", "P2"],
        BASE_TIME,
    )
    assert sorted(SearchRequest.objects.values_list("model_version", flat=True), key=str) == [
        2,
        4,
        None,
        None,
        None,
    ]


def test_events_load_skips_the_event_ids_already_stored():
    with transaction.atomic():
        assert loading.events_load(events(3)) == 3
        assert loading.events_load(events(5)) == 2
    assert Event.objects.count() == 5
    assert Event.objects.get(event_id=uuid.UUID(int=5)).product_id == "P4"


def test_the_events_loader_stages_chunks_and_inserts_the_new_events_once():
    with transaction.atomic():
        loading.events_load(events(2))
        loader = loading.EventsLoader()
        loader.add(events(3, query=SPECIAL[:3]))
        loader.add(events(4).iloc[3:])
        assert loader.finish() == 2
    stored = Event.objects.order_by("position")
    assert [event.query for event in stored] == ["shoes", "shoes", "line\nbreak", "shoes"]
    assert [event.position for event in stored] == [1, 2, 3, 4]


def test_a_click_without_a_position_is_stored_with_none():
    with transaction.atomic():
        loader = loading.EventsLoader()
        loader.add(events(1, event_type="click", position=pd.array([None], dtype="Int64")))
        loader.finish()
    assert Event.objects.get().position is None


def test_search_requests_and_truth_load_once_by_their_keys():
    requests = pd.DataFrame(
        {
            "request_id": ["r1", "r2"],
            "timestamp": pd.to_datetime([BASE_TIME] * 2, utc=True),
            "query": ["Shoes", "hats"],
            "query_norm": ["shoes", "hats"],
            "user_id": ["U1", "U2"],
            "session_id": ["s1", "s2"],
            "product_ids": [["P1"], ["P2", "P3"]],
        }
    )
    truth = pd.DataFrame(
        {"request_id": ["r1", "r2"], "product_external_id": ["P1", "P2"], "relevance": [3, 0]}
    )
    with transaction.atomic():
        assert loading.search_requests_load(requests) == 2
        assert loading.search_requests_load(requests) == 0
        assert loading.ground_truth_load(truth) == 2
        assert loading.ground_truth_load(truth) == 0
    assert SearchRequest.objects.get(request_id="r2").source == SearchRequest.Source.SYNTHETIC
