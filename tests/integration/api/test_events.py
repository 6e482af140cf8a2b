"""POST /api/events: idempotent by event_id, all or nothing per batch with per-item errors,
2xx only after commit, unknown products kept, query/user/session from the logged request
(ranking.api.EventsView, catalog.services.events_ingest)."""

from __future__ import annotations

import threading
import uuid

import pytest
from django.db import connection
from django.utils import timezone

from catalog.models import Event, SearchRequest
from catalog.services import events_request_context_fill
from ranking.serving.impression_log import ImpressionLogWriter, LoggedRequest
from tests.factories import ProductFactory
from tests.integration.api.support import EVENTS, RANK, assert_refused, post_json, product, serve_current

pytestmark = pytest.mark.django_db


def event(event_type: str = "click", **fields) -> dict:
    return {
        "event_id": str(uuid.uuid4()),
        "event_type": event_type,
        "product_id": "P1",
        "request_id": "req-1",
        "position": 2,
        "timestamp": "2026-09-10T12:00:00Z",
        **fields,
    }


def ingest(client, events: list[dict]) -> dict:
    response = post_json(client, EVENTS, {"events": events})
    assert response.status_code == 200, response.content
    return response.json()


@pytest.fixture
def logged_request():
    ProductFactory(external_id="P1")
    return SearchRequest.objects.create(
        request_id="req-1",
        timestamp="2026-09-10T11:59:00Z",
        query="Red  Running-Shoes",
        query_norm="red running shoes",
        user_id="U7",
        session_id="S7",
        product_ids=["P1", "P2"],
    )


@pytest.mark.usefixtures("logged_request")
def test_a_batch_is_stored_and_counted(client):
    batch = [event("impression", position=1), event("click", position=1), event("purchase", position=None)]

    assert ingest(client, batch) == {"received": 3, "stored": 3, "duplicates": 0}

    stored = {str(row.event_id): row for row in Event.objects.all()}
    assert set(stored) == {item["event_id"] for item in batch}
    click = stored[batch[1]["event_id"]]
    assert click.event_type == "click"
    assert click.product_id == "P1"
    assert click.position == 1
    assert click.request_id == "req-1"
    assert click.timestamp.isoformat() == "2026-09-10T12:00:00+00:00"
    assert stored[batch[2]["event_id"]].position is None


@pytest.mark.usefixtures("logged_request")
def test_a_resent_batch_is_stored_once(client):
    batch = [event("impression", position=1), event("click")]
    ingest(client, batch)

    again = ingest(client, batch)

    assert again == {"received": 2, "stored": 0, "duplicates": 2}
    assert Event.objects.count() == 2


@pytest.mark.usefixtures("logged_request")
def test_an_event_repeated_within_a_batch_is_stored_once(client):
    click = event("click")

    assert ingest(client, [click, click]) == {"received": 2, "stored": 1, "duplicates": 1}
    assert Event.objects.count() == 1


@pytest.mark.usefixtures("logged_request")
def test_a_batch_with_one_bad_event_stores_nothing_and_names_each_bad_item(client):
    batch = [event("impression", position=1), event("click", position=0), event("wishlist")]

    response = post_json(client, EVENTS, {"events": batch})

    body = assert_refused(response, 400, "events[1].position", "greater than or equal to 1")
    assert_refused(response, 400, "events[2].event_type", "not a valid choice")
    assert {item["field"] for item in body["errors"]} == {"events[1].position", "events[2].event_type"}
    assert Event.objects.count() == 0


@pytest.mark.parametrize(
    ("fields", "field", "problem"),
    [
        ({"event_id": "not-a-uuid"}, "events[0].event_id", "valid UUID"),
        ({"event_id": None}, "events[0].event_id", "may not be null"),
        ({"product_id": ""}, "events[0].product_id", "may not be blank"),
        ({"product_id": "P\x001"}, "events[0].product_id", "Null characters"),
        ({"timestamp": "yesterday"}, "events[0].timestamp", "Datetime has wrong format"),
        ({"timestamp": "0001-01-01T00:05:07Z"}, "events[0].timestamp", "must lie between 2000-01-01"),
        ({"timestamp": "2999-05-07T20:38:00Z"}, "events[0].timestamp", "a day from now"),
        ({"position": 40_000}, "events[0].position", "less than or equal to 32767"),
        ({"request_id": "r" * 65}, "events[0].request_id", "no more than 64"),
        ({"query": "q" * 513}, "events[0].query", "no more than 512"),
    ],
    ids=[
        "bad uuid",
        "no uuid",
        "blank product",
        "NUL in product",
        "bad time",
        "year 1",
        "far future",
        "position",
        "request_id",
        "query",
    ],
)
def test_each_invalid_field_is_named_with_its_index(client, fields, field, problem):
    assert_refused(post_json(client, EVENTS, {"events": [event(**fields)]}), 400, field, problem)
    assert Event.objects.count() == 0


def test_an_impression_requires_a_position(client):
    response = post_json(client, EVENTS, {"events": [event("impression", position=None)]})

    assert_refused(response, 400, "events[0].position", "is required for an impression")
    assert Event.objects.count() == 0


def test_a_click_needs_no_position(client):
    assert ingest(client, [event("click", position=None)])["stored"] == 1


@pytest.mark.parametrize(
    ("body", "field", "problem"),
    [
        ({"events": []}, "events", "may not be empty"),
        ({}, "events", "required"),
        ({"events": {"event_id": "x"}}, "events", "list"),
        ({"events": ["click"]}, "events[0]", "dictionary"),
        ([event()], "body", "Invalid data"),
    ],
    ids=["empty", "missing", "an object", "an item not an object", "a JSON array body"],
)
def test_a_batch_that_is_not_a_list_of_events_is_refused(client, body, field, problem):
    assert_refused(post_json(client, EVENTS, body), 400, field, problem)


def test_a_batch_over_1000_events_is_refused_whole(client):
    batch = [event("click") for _ in range(1001)]

    assert_refused(post_json(client, EVENTS, {"events": batch}), 400, "events", "no more than 1000")
    assert Event.objects.count() == 0


def test_an_event_for_a_product_the_catalog_does_not_know_is_kept(client):
    assert ingest(client, [event("click", product_id="NOT-IN-CATALOG")])["stored"] == 1

    assert Event.objects.get().product_id == "NOT-IN-CATALOG"


def test_an_integer_product_id_is_stored_as_a_string(client):
    ingest(client, [event("click", product_id=1)])

    assert Event.objects.get().product_id == "1"


@pytest.mark.usefixtures("logged_request")
def test_query_user_and_session_come_from_the_logged_request_when_not_given(client):
    ingest(client, [event("click")])

    stored = Event.objects.get()
    assert stored.query == "Red  Running-Shoes"
    assert stored.query_norm == "red running shoes"
    assert stored.user_id == "U7"
    assert stored.session_id == "S7"


@pytest.mark.usefixtures("logged_request")
def test_query_user_and_session_given_with_the_event_win_over_the_logged_ones(client):
    ingest(client, [event("click", query="Blue Socks", user_id="U8", session_id="S8")])

    stored = Event.objects.get()
    assert (stored.query, stored.query_norm, stored.user_id, stored.session_id) == (
        "Blue Socks",
        "blue socks",
        "U8",
        "S8",
    )


def test_an_event_for_a_request_nobody_logged_keeps_empty_query_user_and_session(client):
    ingest(client, [event("click", request_id="never-served")])

    stored = Event.objects.get()
    assert (stored.query, stored.user_id, stored.session_id) == ("", "", "")


def test_events_sent_back_with_a_served_request_id_take_its_query_and_user(client):
    """The loop: /api/rank logs the request, the shop sends the events back with its id."""
    serve_current()
    ranked = post_json(
        client,
        RANK,
        {
            "query": "Trail Shoes",
            "user_id": "U9",
            "session_id": "S9",
            "products": [product("A"), product("B")],
        },
    ).json()
    shown = [item["id"] for item in ranked["ranked_products"]]

    ingest(
        client,
        [
            event("impression", request_id=ranked["request_id"], product_id=pid, position=i)
            for i, pid in enumerate(shown, start=1)
        ],
    )

    stored = Event.objects.order_by("position")
    assert [row.product_id for row in stored] == shown
    assert {(row.query_norm, row.user_id, row.session_id) for row in stored} == {("trail shoes", "U9", "S9")}


@pytest.mark.django_db(transaction=True)  # the writer flushes outside a transaction, as in its thread
def test_events_that_arrive_before_their_requests_log_row_get_its_query_user_and_session_before_features_are_built(
    client, settings
):
    """In "thread" mode the log row lands a fraction of a second after the response; a fast
    client's events can come first."""
    settings.SEARCHOP_IMPRESSION_LOG_FLUSH_SECONDS = 3600.0  # only the test flushes
    writer = ImpressionLogWriter()
    writer.append(
        LoggedRequest(
            request_id="req-early",
            timestamp=timezone.now(),
            query="Trail  Shoes",
            query_norm="trail shoes",
            user_id="U9",
            session_id="S9",
            product_ids=["P1", "P2"],
            model_version=None,
            fallback=True,
        )
    )
    ingest(
        client,
        [
            event("click", request_id="req-early", product_id="P1"),
            event("click", request_id="req-early", product_id="P2", user_id="U8"),
            event("click", request_id="req-early", product_id="P3", query="Blue Socks"),
        ],
    )
    assert writer.flush() == 1

    events_request_context_fill()  # the pipeline's step before it builds features

    stored = {row.product_id: row for row in Event.objects.all()}
    assert (stored["P1"].query, stored["P1"].query_norm, stored["P1"].user_id, stored["P1"].session_id) == (
        "Trail  Shoes",
        "trail shoes",
        "U9",
        "S9",
    )
    # What the client sent stays: P2's user; P3 came with its own query, so it is left alone.
    assert (stored["P2"].query_norm, stored["P2"].user_id, stored["P2"].session_id) == (
        "trail shoes",
        "U8",
        "S9",
    )
    assert (stored["P3"].query_norm, stored["P3"].user_id, stored["P3"].session_id) == ("blue socks", "", "")


def test_a_query_that_normalises_longer_than_512_characters_is_stored(client):
    assert ingest(client, [event("click", query="\ufdfa" * 512)])["stored"] == 1


@pytest.mark.django_db(transaction=True)
def test_the_answer_comes_only_after_the_batch_is_committed(client):
    """Another connection sees the events as soon as the 200 arrives."""
    batch = [event("click"), event("impression", position=1)]
    ingest(client, batch)
    seen: list[int] = []

    def count_from_another_connection() -> None:
        try:
            seen.append(Event.objects.filter(event_id__in=[e["event_id"] for e in batch]).count())
        finally:
            connection.close()

    reader = threading.Thread(target=count_from_another_connection)
    reader.start()
    reader.join()

    assert seen == [2]


def test_carriage_returns_and_tabs_inside_text_fields_are_stored_as_sent(client):
    """A lone \\r ended the row for COPY (found by schemathesis); now quoted by the writer."""
    result = ingest(client, [event("click", query="red\rshoes", user_id="u\tser", session_id="s\r\n1")])
    assert result["stored"] == 1
    stored = Event.objects.get()
    assert (stored.query, stored.user_id, stored.session_id) == ("red\rshoes", "u\tser", "s\r\n1")
