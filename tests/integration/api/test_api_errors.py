"""Every error on an /api/ path is JSON in the one shape, even the ones no view chose
(ranking.serving.http.ApiErrorsAsJson): an unknown endpoint, an exception nothing handled."""

from __future__ import annotations

import logging

import pytest
from django.urls import path

pytestmark = pytest.mark.django_db


def broken_view(request):
    raise RuntimeError("a bug nothing handled")


urlpatterns = [
    path("api/broken", broken_view),
    path("admin/broken", broken_view),
]


@pytest.fixture
def lenient_client(client):
    """A client that returns the 500 instead of raising the view's exception."""
    client.raise_request_exception = False
    return client


@pytest.mark.urls(__name__)
def test_an_uncaught_exception_on_the_api_is_a_json_500_whose_request_id_names_the_logged_traceback(
    lenient_client, caplog
):
    caplog.set_level(logging.ERROR, logger="ranking.serving.http")

    response = lenient_client.get("/api/broken")

    assert response.status_code == 500
    assert response["Content-Type"] == "application/json"
    body = response.json()
    assert body["error"] == "internal_error"
    assert body["errors"] == [
        {"field": "request", "problem": f"an internal error (request {body['request_id']})"}
    ]
    logged = [record for record in caplog.records if body["request_id"] in record.getMessage()]
    assert logged
    assert logged[0].exc_info[0] is RuntimeError


@pytest.mark.urls(__name__)
def test_an_uncaught_exception_elsewhere_keeps_djangos_own_error_page(lenient_client):
    response = lenient_client.get("/admin/broken")

    assert response.status_code == 500
    assert response["Content-Type"].startswith("text/html")


def test_an_unknown_api_endpoint_is_a_json_404_not_an_html_page(client):
    response = client.post("/api/no-such-thing", data={}, content_type="application/json")

    assert response.status_code == 404
    assert response["Content-Type"] == "application/json"
    assert response.json()["error"] == "not_found"
    assert response.json()["errors"] == [{"field": "request", "problem": "no such endpoint"}]
