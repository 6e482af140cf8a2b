"""The machine API while PostgreSQL cannot be reached: ranking goes on from the worker's
memory, events are refused with a JSON 503 that says when to retry, nothing is a 500.

The outage is real: the test's connection is pointed at a port nothing listens on, so every
query meets a refused connection, as when the server is stopped (tests/faults stops one).
"""

from __future__ import annotations

import socket
import uuid

import pytest
from django.db import connections

from catalog.models import Event
from ranking.models import ApiClient
from tests.factories import ContractModelVersionFactory, ProductFactory
from tests.integration.api.support import EVENTS, RANK, assert_refused, post_json, product, serve_current

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture(autouse=True)
def no_impression_log(settings):
    # The serving tests log synchronously, in the request, which an outage fails with a 503
    # by design; production logs from a queue that waits for the database (test_impression_log).
    settings.SEARCHOP_IMPRESSION_LOG = "off"


@pytest.fixture
def outage():
    """Call it to cut the database off from this process; restored after the test."""
    connection = connections["default"]
    saved = dict(connection.settings_dict)

    def cut() -> None:
        connection.close()
        with socket.socket() as probe:  # a port that was free a moment ago: nothing listens
            probe.bind(("127.0.0.1", 0))
            connection.settings_dict["PORT"] = probe.getsockname()[1]

    yield cut
    connection.close()
    connection.settings_dict.clear()
    connection.settings_dict.update(saved)


@pytest.fixture
def keyed(settings):
    settings.SEARCHOP_REQUIRE_API_KEY = True
    settings.SEARCHOP_API_KEY_CACHE_SECONDS = 0.0  # every request looks its key up again
    ProductFactory(external_id="P1")
    ContractModelVersionFactory()
    serve_current()
    _, key = ApiClient.objects.create_key(name="shop")
    return {"HTTP_AUTHORIZATION": f"Api-Key {key}"}


def rank(client, auth):
    return post_json(
        client, RANK, {"query": "trail shoes", "products": [product("P1"), product("X")]}, **auth
    )


def test_a_key_checked_before_the_outage_keeps_ranking_with_the_model_in_memory(client, keyed, outage):
    assert rank(client, keyed).status_code == 200
    outage()

    response = rank(client, keyed)

    assert response.status_code == 200, response.content
    assert response.json()["fallback"] is False


def test_a_key_not_seen_within_the_grace_period_gets_503_with_retry_after(client, keyed, outage, settings):
    assert rank(client, keyed).status_code == 200
    settings.SEARCHOP_API_KEY_OUTAGE_GRACE_SECONDS = 0.0
    outage()

    response = rank(client, keyed)

    body = assert_refused(response, 503, "authorization", "cannot be checked now")
    assert body["error"] == "database_unavailable"
    assert response["Retry-After"] == str(settings.SEARCHOP_RETRY_AFTER_SECONDS)
    assert body["retry_after_seconds"] == settings.SEARCHOP_RETRY_AFTER_SECONDS


def test_the_production_check_skips_a_beat_and_the_worker_keeps_serving(client, settings, outage):
    ProductFactory(external_id="P1")
    model = ContractModelVersionFactory()
    serve_current()
    settings.SEARCHOP_MODEL_CHECK_SECONDS = 0.0  # every request checks the production version
    outage()

    replies = [post_json(client, RANK, {"query": "shoes", "products": [product("P1")]}) for _ in range(3)]

    assert [r.status_code for r in replies] == [200] * 3
    assert {r.json()["model_version"] for r in replies} == {model.version}


def test_events_are_refused_with_503_and_retry_after_and_stored_once_the_database_is_back(client, outage):
    ProductFactory(external_id="P1")
    batch = {"events": [{"event_id": str(uuid.uuid4()), "event_type": "click", "product_id": "P1"}]}
    reachable = dict(connections["default"].settings_dict)
    outage()

    response = post_json(client, EVENTS, batch)

    body = assert_refused(response, 503, "database", "nothing was stored")
    assert body["error"] == "database_unavailable"
    assert response["Retry-After"]
    connections["default"].close()
    connections["default"].settings_dict.update(reachable)
    assert post_json(client, EVENTS, batch).status_code == 200  # the client's retry
    assert Event.objects.count() == 1
