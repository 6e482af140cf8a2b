"""The impression log: one catalog.SearchRequest row per served request, written in the
request ("sync") or batched by a background thread ("thread"), from a bounded queue that
drops the oldest rows and keeps them while the database refuses the write
(ranking.serving.impression_log)."""

from __future__ import annotations

import threading
import time
from datetime import timedelta

import pytest
from django.db import connection
from django.utils import timezone

from catalog.models import SearchRequest
from ranking.serving.impression_log import WRITER, ImpressionLogWriter, LoggedRequest, search_requests_write
from tests.factories import ContractModelVersionFactory
from tests.integration.api.support import RANK, metric_value, post_json, product, serve_current

pytestmark = pytest.mark.django_db

REQUEST = {
    "query": "Trail Running-Shoes",
    "user_id": "U1",
    "session_id": "S1",
    "products": [
        product("A", title="Trail running shoes", price=60.0),
        product("B", title="Office shoes", price=150.0),
        product("C", title="Running socks", price=9.0),
    ],
}


def rank(client, **fields) -> dict:
    response = post_json(client, RANK, {**REQUEST, **fields})
    assert response.status_code == 200, response.content
    return response.json()


def returned_ids(body: dict) -> list[str]:
    return [item["id"] for item in body["ranked_products"]]


def logged_row(request_id: str, timestamp_offset: int = 0, query: str = "q") -> LoggedRequest:
    return LoggedRequest(
        request_id=request_id,
        timestamp=timezone.now() + timedelta(seconds=timestamp_offset),
        query=query,
        query_norm=query,
        user_id="",
        session_id="",
        product_ids=["A"],
        model_version=None,
        fallback=True,
    )


@pytest.fixture
def writer(settings):
    """A writer of its own whose thread would wait an hour: only the test flushes it."""
    settings.SEARCHOP_IMPRESSION_LOG_FLUSH_SECONDS = 3600.0
    own = ImpressionLogWriter()
    yield own
    own.reset()


def test_each_served_request_is_logged_once_with_the_returned_ids_in_order(client):
    model = ContractModelVersionFactory()
    serve_current()
    started = timezone.now()

    body = rank(client)

    row = SearchRequest.objects.get()
    assert row.request_id == body["request_id"]
    assert row.query == "Trail Running-Shoes"
    assert row.query_norm == "trail running shoes"
    assert (row.user_id, row.session_id) == ("U1", "S1")
    assert row.model_version == model.version
    assert row.fallback is False
    assert row.product_ids == returned_ids(body)
    assert row.source == SearchRequest.Source.API
    assert started <= row.timestamp <= timezone.now()
    # The server time to the ranked order: positive, and within the request's own time.
    assert 0 < row.latency_seconds < (timezone.now() - started).total_seconds()


def test_the_log_holds_what_was_returned_after_the_limit(client):
    serve_current()

    body = rank(client, limit=2)

    assert SearchRequest.objects.get().product_ids == returned_ids(body)
    assert len(returned_ids(body)) == 2


def test_a_request_answered_by_the_fallback_is_logged_as_such(client):
    serve_current()

    body = rank(client)

    row = SearchRequest.objects.get(request_id=body["request_id"])
    assert row.fallback is True
    assert row.model_version is None


def test_a_request_without_user_or_session_is_logged_with_empty_ones(client):
    serve_current()

    body = rank(client, user_id=None, session_id=None)

    row = SearchRequest.objects.get(request_id=body["request_id"])
    assert (row.user_id, row.session_id) == ("", "")


def test_with_the_log_off_nothing_is_written(client, settings):
    settings.SEARCHOP_IMPRESSION_LOG = "off"
    serve_current()

    rank(client)

    assert not SearchRequest.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_in_thread_mode_the_background_writer_logs_every_request(client, settings):
    settings.SEARCHOP_IMPRESSION_LOG = "thread"
    settings.SEARCHOP_IMPRESSION_LOG_FLUSH_SECONDS = 0.05
    serve_current()

    bodies = [rank(client, query=f"query {i}") for i in range(5)]
    deadline = time.monotonic() + 30
    while SearchRequest.objects.count() < 5 and time.monotonic() < deadline:
        time.sleep(0.05)

    logged = {row.request_id: row for row in SearchRequest.objects.all()}
    assert set(logged) == {body["request_id"] for body in bodies}
    for i, body in enumerate(bodies):
        assert logged[body["request_id"]].query == f"query {i}"
        assert logged[body["request_id"]].product_ids == returned_ids(body)
    assert WRITER.pending() == 0


@pytest.mark.django_db(transaction=True)  # flush() runs outside a transaction, as in its thread
def test_a_full_queue_drops_the_oldest_rows_and_counts_them(client, settings, writer):
    settings.SEARCHOP_IMPRESSION_LOG_MAX_QUEUE = 3
    dropped = metric_value(client, "searchop_impression_log_dropped_total")

    for i in range(5):
        writer.append(logged_row(f"r{i}", timestamp_offset=i))

    assert writer.pending() == 3
    assert metric_value(client, "searchop_impression_log_dropped_total") == dropped + 2
    assert writer.flush() == 3
    assert list(SearchRequest.objects.order_by("timestamp").values_list("request_id", flat=True)) == [
        "r2",
        "r3",
        "r4",
    ]


@pytest.mark.django_db(transaction=True)
def test_rows_the_database_refuses_stay_queued_and_are_written_once_it_accepts(writer):
    """The database 'refuses' for real: another connection holds an exclusive lock on the
    table and this one gives up waiting for it after 200 ms."""
    locked, release = threading.Event(), threading.Event()

    def hold_the_table() -> None:
        try:
            with connection.cursor() as cursor:
                cursor.execute("BEGIN")
                cursor.execute("LOCK TABLE catalog_searchrequest IN ACCESS EXCLUSIVE MODE")
                locked.set()
                release.wait(timeout=30)
                cursor.execute("COMMIT")
        finally:
            connection.close()

    holder = threading.Thread(target=hold_the_table)
    holder.start()
    try:
        assert locked.wait(timeout=30)
        for i in range(3):
            writer.append(logged_row(f"r{i}", timestamp_offset=i))
        with connection.cursor() as cursor:
            cursor.execute("SET lock_timeout = '200ms'")

        written_while_locked = writer.flush()
        pending_while_locked = writer.pending()
    finally:
        release.set()
        holder.join()

    assert written_while_locked == 0
    assert pending_while_locked == 3
    assert writer.flush() == 3
    assert writer.pending() == 0
    assert list(SearchRequest.objects.order_by("timestamp").values_list("request_id", flat=True)) == [
        "r0",
        "r1",
        "r2",
    ]


@pytest.mark.django_db(transaction=True)
def test_a_batch_is_written_with_every_field_as_logged(writer):
    row = logged_row("r0", query="red shoes")._replace(
        product_ids=["A", 'say "hi"\\'], model_version=7, fallback=False, latency_seconds=0.0042
    )

    search_requests_write([row])

    stored = SearchRequest.objects.get(request_id="r0")
    assert (stored.query, stored.query_norm, stored.product_ids, stored.model_version, stored.fallback) == (
        "red shoes",
        "red shoes",
        ["A", 'say "hi"\\'],
        7,
        False,
    )
    assert stored.timestamp == row.timestamp
    assert stored.source == SearchRequest.Source.API
    assert stored.randomised is False
    assert stored.latency_seconds == 0.0042  # written by COPY, column for column


@pytest.mark.django_db(transaction=True)
def test_a_row_the_database_refuses_is_dropped_and_counted_and_the_rest_of_its_batch_is_written(
    client, writer
):
    dropped = metric_value(client, "searchop_impression_log_dropped_total")
    writer.append(logged_row("r0"))
    writer.append(logged_row("r1", query="q" * 600))  # longer than the column holds
    writer.append(logged_row("r2"))

    assert writer.flush() == 2

    assert sorted(SearchRequest.objects.values_list("request_id", flat=True)) == ["r0", "r2"]
    assert metric_value(client, "searchop_impression_log_dropped_total") == dropped + 1
    assert writer.pending() == 0


@pytest.mark.django_db(transaction=True)
def test_a_request_id_logged_twice_is_stored_once(writer):
    """A row keeps the time it was served at, so a row written again (a batch retried after
    the database came back) is the same (request_id, timestamp), the table's key."""
    row = logged_row("r0")
    writer.append(row)
    writer.flush()
    writer.append(row)
    writer.append(logged_row("r1"))

    writer.flush()

    assert sorted(SearchRequest.objects.values_list("request_id", flat=True)) == ["r0", "r1"]
