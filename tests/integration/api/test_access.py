"""API keys and per-key throttling on the machine API, and the keys' admin
(ranking.serving.access, ranking.admin.audit.ApiClientAdmin)."""

from __future__ import annotations

import re
import time
from datetime import timedelta

import pytest
import redis
from django.utils import timezone

from ranking.models import ApiClient
from ranking.serving.access import KEY_CACHE
from tests.integration.api.support import EVENTS, RANK, assert_refused, post_json, serve_current

pytestmark = pytest.mark.django_db

EMPTY_RANKING = {"query": "shoes", "products": []}


@pytest.fixture(autouse=True)
def keys_required(settings):
    settings.SEARCHOP_REQUIRE_API_KEY = True
    settings.SEARCHOP_API_KEY_CACHE_SECONDS = 0.0
    serve_current()


@pytest.fixture
def throttle_counts(settings):
    """The Redis the throttle counts in; this test's keys' windows are cleared first."""
    store = redis.Redis.from_url(settings.REDIS_URL)

    def clear(client: ApiClient) -> None:
        for key in store.scan_iter(f"searchop:throttle:{client.pk}:*"):
            store.delete(key)

    yield store, clear
    store.close()


def api_client(name: str = "shop", **fields) -> tuple[ApiClient, str]:
    return ApiClient.objects.create_key(name=name, **fields)


def rank_with(client, key: str | None, header: str = "Api-Key"):
    extra = {"HTTP_AUTHORIZATION": f"{header} {key}"} if key is not None else {}
    return post_json(client, RANK, EMPTY_RANKING, **extra)


def assert_key_refused(response) -> None:
    assert response.status_code in (401, 403)
    assert_refused(response, response.status_code, "authorization", "API key")


def test_without_a_key_the_rank_and_events_endpoints_refuse_with_the_error_shape(client):
    assert_key_refused(rank_with(client, None))
    assert_key_refused(post_json(client, EVENTS, {"events": []}))


def test_a_wrong_key_is_refused(client):
    _, key = api_client()
    prefix, _, secret = key.partition(".")

    assert_key_refused(rank_with(client, f"{prefix}.{secret[::-1]}"))
    assert_key_refused(rank_with(client, "not-a-key"))
    assert_key_refused(rank_with(client, key, header="Bearer"))


def test_a_valid_key_is_served(client):
    _, key = api_client()

    response = rank_with(client, key)

    assert response.status_code == 200
    assert response.json()["ranked_products"] == []


def test_a_revoked_key_is_refused(client):
    record, key = api_client()
    assert rank_with(client, key).status_code == 200

    ApiClient.objects.filter(pk=record.pk).update(revoked=True)

    assert_key_refused(rank_with(client, key))


def test_a_revocation_takes_effect_once_the_key_cache_expires(client, settings):
    settings.SEARCHOP_API_KEY_CACHE_SECONDS = 0.3
    record, key = api_client()
    assert rank_with(client, key).status_code == 200
    ApiClient.objects.filter(pk=record.pk).update(revoked=True)

    served_from_cache = rank_with(client, key).status_code
    time.sleep(0.4)

    assert served_from_cache == 200
    assert_key_refused(rank_with(client, key))


def test_an_expired_key_is_refused(client):
    _, key = api_client(expiry_date=timezone.now() - timedelta(minutes=1))

    assert_key_refused(rank_with(client, key))


def test_probes_need_no_key(client):
    assert client.get("/health").status_code == 200
    assert client.get("/ready").status_code == 200
    assert client.get("/metrics").status_code == 200


def test_without_the_setting_no_key_is_needed(client, settings):
    settings.SEARCHOP_REQUIRE_API_KEY = False

    assert rank_with(client, None).status_code == 200


def wait_for_a_fresh_minute(margin: float = 3.0) -> None:
    """The window is the clock minute: do not start a count just before it turns."""
    left = 60 - time.time() % 60
    if left < margin:
        time.sleep(left + 0.05)


def test_a_key_over_its_requests_per_minute_gets_a_429_with_when_to_retry(client, throttle_counts):
    store, clear = throttle_counts
    limited, limited_key = api_client("limited", requests_per_minute=3)
    other, other_key = api_client("other", requests_per_minute=3)
    clear(limited)
    clear(other)
    wait_for_a_fresh_minute()

    statuses = [rank_with(client, limited_key).status_code for _ in range(3)]
    refused = rank_with(client, limited_key)
    other_statuses = [rank_with(client, other_key).status_code for _ in range(3)]

    assert statuses == [200, 200, 200]
    assert refused.status_code == 429
    body = assert_refused(refused, 429, "request", "throttled")
    assert body["error"] == "throttled"
    assert 1 <= body["retry_after_seconds"] <= 60
    assert 1 <= int(refused["Retry-After"]) <= 60
    assert other_statuses == [200, 200, 200]
    window = int(time.time() // 60)
    assert int(store.get(f"searchop:throttle:{limited.pk}:{window}")) == 4
    assert int(store.get(f"searchop:throttle:{other.pk}:{window}")) == 3
    assert 0 < store.ttl(f"searchop:throttle:{limited.pk}:{window}") <= 61


def test_the_count_is_shared_by_every_worker_through_redis(client, throttle_counts):
    """Another worker's requests are in the same Redis counter: stand in for them there."""
    store, clear = throttle_counts
    limited, key = api_client("limited", requests_per_minute=3)
    clear(limited)
    wait_for_a_fresh_minute()
    store.incrby(f"searchop:throttle:{limited.pk}:{int(time.time() // 60)}", 3)

    assert rank_with(client, key).status_code == 429


def test_a_key_with_a_high_limit_reaches_redis_in_batches_of_20_requests(client, throttle_counts):
    """40,000 a minute: one INCRBY per 20 requests; the worker still counts every request."""
    store, clear = throttle_counts
    busy, key = api_client("busy", requests_per_minute=40_000)
    clear(busy)
    wait_for_a_fresh_minute()

    statuses = [rank_with(client, key).status_code for _ in range(45)]

    assert statuses == [200] * 45
    shared = store.get(f"searchop:throttle:{busy.pk}:{int(time.time() // 60)}")
    assert int(shared) == 40  # two batches sent, five requests still pending in this worker


# ---------------------------------------------------------------------------------------
# The admin
# ---------------------------------------------------------------------------------------

ADD = "/admin/ranking/apiclient/add/"
CHANGELIST = "/admin/ranking/apiclient/"


def test_creating_a_key_in_the_admin_shows_the_key_once_and_stores_only_its_hash(admin_client, client):
    response = admin_client.post(
        ADD,
        {"name": "shop-backend", "expiry_date_0": "", "expiry_date_1": "", "requests_per_minute": "120"},
        follow=True,
    )

    assert response.status_code == 200
    shown = re.search(r"The API key for shop-backend is: (\S+)\. ", response.content.decode())
    assert shown, "the new key is not shown"
    key = shown.group(1)
    record = ApiClient.objects.get(name="shop-backend")
    assert record.requests_per_minute == 120
    assert key.startswith(record.prefix + ".")
    assert key not in record.hashed_key
    assert ApiClient.objects.is_valid(key)
    assert rank_with(client, key).status_code == 200
    for page in (CHANGELIST, f"/admin/ranking/apiclient/{record.pk}/change/"):
        assert key not in admin_client.get(page).content.decode(), f"{page} shows the key again"


def test_the_key_list_shows_prefix_name_and_revoked(admin_client):
    record, _ = api_client("shop-backend")
    api_client("old-backend", revoked=True)

    page = admin_client.get(CHANGELIST).content.decode()

    assert record.prefix in page
    assert "shop-backend" in page
    assert "old-backend" in page
    assert "Revoked" in page


def test_revoking_a_key_in_the_admin_refuses_it(admin_client, client):
    record, key = api_client("shop-backend")

    response = admin_client.post(
        f"/admin/ranking/apiclient/{record.pk}/change/",
        {"name": "shop-backend", "revoked": "on", "expiry_date_0": "", "expiry_date_1": ""},
    )

    assert response.status_code == 302
    record.refresh_from_db()
    assert record.revoked
    KEY_CACHE.clear()
    assert_key_refused(rank_with(client, key))


def test_a_request_without_a_key_gets_a_401_with_an_api_key_challenge(client, settings):
    settings.SEARCHOP_REQUIRE_API_KEY = True
    response = client.post("/api/rank", data={"query": "x", "products": []}, content_type="application/json")
    assert response.status_code == 401
    assert response["WWW-Authenticate"] == "Api-Key"
    assert response.json()["errors"][0]["field"] == "authorization"
