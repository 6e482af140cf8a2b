from __future__ import annotations

import re

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from catalog.models import Event, GroundTruth, SearchRequest
from tests.factories import BASE_TIME, EventFactory, ProductFactory

pytestmark = pytest.mark.django_db

CHANGELIST = "admin:catalog_event_changelist"
COUNT = re.compile(r"COUNT\(\*\)", re.IGNORECASE)


@pytest.fixture(autouse=True)
def plain_static_files(settings):
    """Production settings hash static files at collectstatic; the tests never run it."""
    settings.STORAGES = {
        **settings.STORAGES,
        "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
    }


def counts_over_the_whole_table(queries: list[dict], table: str) -> list[str]:
    """COUNT(*) statements on ``table`` that a LIMIT does not bound."""
    return [
        query["sql"]
        for query in queries
        if COUNT.search(query["sql"]) and f'"{table}"' in query["sql"] and " LIMIT " not in query["sql"]
    ]


@pytest.mark.parametrize(
    "query_string",
    [
        "",
        "?event_type__exact=click",
        "?timestamp__gte=2026-09-01+00%3A00%3A00%2B00%3A00&timestamp__lt=2026-10-01+00%3A00%3A00%2B00%3A00",
        "?q=r1",
        "?p=2",
    ],
)
def test_the_event_changelist_never_counts_the_whole_events_table(admin_client, query_string):
    EventFactory.create_batch(5)
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(reverse(CHANGELIST) + query_string)
    assert response.status_code in (200, 302)
    assert [query["sql"] for query in captured.captured_queries if "catalog_event" in query["sql"]]
    assert counts_over_the_whole_table(captured.captured_queries, "catalog_event") == []


def test_the_unfiltered_event_changelist_shows_events_without_counting_them(admin_client):
    EventFactory.create_batch(3, request_id="req-7")
    with CaptureQueriesContext(connection) as captured:
        response = admin_client.get(reverse(CHANGELIST))
    assert response.status_code == 200
    assert response.content.count(b">req-7</a>") == 3  # each linked to its request
    assert not [query for query in captured.captured_queries if COUNT.search(query["sql"])]


def test_events_are_found_by_event_id_request_id_or_product(admin_client):
    wanted = EventFactory(request_id="wanted", product=ProductFactory(external_id="SHOE-1"))
    EventFactory.create_batch(2, request_id="other")
    for term in (str(wanted.event_id), "wanted", "SHOE-1"):
        response = admin_client.get(reverse(CHANGELIST), {"q": term})
        assert list(response.context["cl"].result_list) == [wanted], term


def test_events_can_be_viewed_but_not_added_changed_or_deleted(admin_client):
    event = EventFactory()
    change_url = reverse("admin:catalog_event_change", args=[event.pk])
    assert admin_client.get(change_url).status_code == 200
    assert admin_client.get(reverse("admin:catalog_event_add")).status_code == 403
    assert admin_client.post(change_url, {"event_type": "click"}).status_code == 403
    assert (
        admin_client.post(reverse("admin:catalog_event_delete", args=[event.pk]), {"post": "yes"}).status_code
        == 403
    )
    event.refresh_from_db()
    assert event.event_type == "impression"


def test_the_impression_log_and_the_ground_truth_are_read_only_and_not_counted(admin_client):
    SearchRequest.objects.create(request_id="r1", timestamp=BASE_TIME, query="shoes")
    GroundTruth.objects.create(request_id="r1", product_external_id="P1", relevance=2)
    for name in ("searchrequest", "groundtruth"):
        with CaptureQueriesContext(connection) as captured:
            response = admin_client.get(reverse(f"admin:catalog_{name}_changelist"))
        assert response.status_code == 200
        assert b"r1" in response.content
        assert counts_over_the_whole_table(captured.captured_queries, f"catalog_{name}") == []
        assert admin_client.get(reverse(f"admin:catalog_{name}_add")).status_code == 403


def test_products_are_listed_filtered_and_searched(admin_client):
    ProductFactory(external_id="TRAIL-1", title="Trail runner", category="Shoes", brand="Acme")
    ProductFactory(external_id="MUG-1", title="Coffee mug", category="Kitchen", brand="Brewco", active=False)
    url = reverse("admin:catalog_product_changelist")
    listed = admin_client.get(url)
    assert b"TRAIL-1" in listed.content
    assert b"MUG-1" in listed.content
    for params, expected in (
        ({"q": "brewco"}, ["MUG-1"]),
        ({"category": "Shoes"}, ["TRAIL-1"]),
        ({"active__exact": "0"}, ["MUG-1"]),
    ):
        response = admin_client.get(url, params)
        assert [product.external_id for product in response.context["cl"].result_list] == expected


def test_the_event_count_estimate_comes_from_the_planner_after_analyze(admin_client):
    EventFactory.create_batch(4)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE catalog_event")
    response = admin_client.get(reverse(CHANGELIST))
    assert response.context["cl"].result_count == Event.objects.count() == 4
