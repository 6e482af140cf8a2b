"""The throttle when Redis cannot be reached (ranking.serving.access): requests are counted
per worker instead, and a Redis that hangs costs one timeout every few seconds, not one per
request. The hung Redis is real: a socket that accepts connections and never answers."""

from __future__ import annotations

import socket
import time

import pytest

from ranking.models import ApiClient
from ranking.serving.access import REDIS
from tests.integration.api.support import RANK, post_json, serve_current

pytestmark = pytest.mark.django_db


@pytest.fixture
def hung_redis(settings):
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(128)
        settings.REDIS_URL = f"redis://127.0.0.1:{listener.getsockname()[1]}/0"
        yield
    REDIS.recovered()


@pytest.fixture
def keyed(settings):
    settings.SEARCHOP_REQUIRE_API_KEY = True
    serve_current()


def rank(client, key: str):
    return post_json(client, RANK, {"query": "shoes", "products": []}, HTTP_AUTHORIZATION=f"Api-Key {key}")


@pytest.mark.usefixtures("keyed", "hung_redis")
def test_a_hung_redis_costs_one_timeout_not_one_per_request(client):
    _, key = ApiClient.objects.create_key(name="shop", requests_per_minute=1000)  # counted per request

    started = time.monotonic()
    statuses = [rank(client, key).status_code for _ in range(10)]
    elapsed = time.monotonic() - started

    assert statuses == [200] * 10
    assert elapsed < 2.0, f"10 requests took {elapsed:.1f} s: each waited for Redis"


@pytest.mark.usefixtures("keyed", "hung_redis")
def test_without_redis_a_key_is_still_held_to_its_limit_in_each_worker(client):
    _, key = ApiClient.objects.create_key(name="shop", requests_per_minute=3)

    statuses = [rank(client, key).status_code for _ in range(5)]

    assert statuses == [200, 200, 200, 429, 429]
