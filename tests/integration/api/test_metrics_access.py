"""Who may read GET /metrics (ranking.serving.metrics_access): Prometheus with the token, or a
direct connection from an allowed network; never a request that came through a proxy without
the token, and never anyone else. A refusal is a 403 in the API's error shape."""

from __future__ import annotations

import pytest

from tests.integration.api.support import assert_refused

# An answered scrape also reads beat's and the pipeline's state (searchop_site.metrics).
pytestmark = pytest.mark.django_db

TOKEN = "metrics-token-for-the-test"


@pytest.fixture
def with_token(settings):
    settings.SEARCHOP_METRICS_TOKEN = TOKEN


def test_a_direct_scrape_from_loopback_is_answered(client):
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")

    assert response.status_code == 200
    assert b"# TYPE django_http_requests" in response.content


def test_a_scrape_from_another_address_is_refused_and_told_how(client):
    response = client.get("/metrics", REMOTE_ADDR="10.1.2.3")

    assert_refused(response, 403, "authorization", "Bearer")


def test_an_allowed_network_is_answered(client, settings):
    settings.SEARCHOP_METRICS_ALLOWED_NETWORKS = ["10.0.0.0/8"]

    assert client.get("/metrics", REMOTE_ADDR="10.1.2.3").status_code == 200
    assert client.get("/metrics", REMOTE_ADDR="192.168.1.1").status_code == 403


def test_the_token_opens_it_from_anywhere(client, with_token):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION=f"Bearer {TOKEN}")

    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/plain")


def test_a_wrong_token_is_refused(client, with_token):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer not-the-token")

    assert_refused(response, 403, "authorization")


def test_no_token_is_configured_so_no_token_opens_it(client):
    response = client.get("/metrics", REMOTE_ADDR="203.0.113.9", HTTP_AUTHORIZATION="Bearer ")

    assert_refused(response, 403, "authorization")


def test_a_request_through_a_proxy_needs_the_token_even_from_an_allowed_address(client, with_token):
    proxied = {"REMOTE_ADDR": "127.0.0.1", "HTTP_X_FORWARDED_FOR": "198.51.100.7"}

    assert_refused(client.get("/metrics", **proxied), 403, "authorization")
    assert client.get("/metrics", **proxied, HTTP_AUTHORIZATION=f"Bearer {TOKEN}").status_code == 200
