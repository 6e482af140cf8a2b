"""Debugging a search request in the admin: its page shows the list as it was shown (with
the experiment's team or the challenger's rank), the events it received, each product
linked; its events are found by its request id however it is spelled, through the indexes of
the partitioned events table; fallback requests can be filtered."""

from __future__ import annotations

import datetime as dt
import uuid

import pytest
from django.db import connection
from django.urls import reverse

from catalog.admin import event_search_q
from catalog.models import Event
from tests.factories import ProductFactory
from tests.integration.dashboard.support import event, logged_search

pytestmark = pytest.mark.django_db

AT = dt.datetime(2026, 11, 30, 10, 0, tzinfo=dt.UTC)


def request_page(admin_client, search_request) -> str:
    response = admin_client.get(reverse("admin:catalog_searchrequest_change", args=[search_request.pk]))
    assert response.status_code == 200
    return response.content.decode()


def test_the_request_page_shows_the_list_in_order_with_teams_and_linked_products(admin_client):
    shoe, bag = ProductFactory(external_id="SHOE-1"), ProductFactory(external_id="BAG-2")
    search = logged_search(
        at=AT, product_ids=["BAG-2", "SHOE-1", "GONE-9"], experiment_id=4, arm="interleaved", teams="AB="
    )
    page = request_page(admin_client, search)
    shown = page[page.index('id="shown-list"') : page.index("</table>", page.index('id="shown-list"'))]
    bag_url = reverse("admin:catalog_product_change", args=[bag.pk])
    shoe_url = reverse("admin:catalog_product_change", args=[shoe.pk])
    assert shown.index(bag_url) < shown.index(shoe_url) < shown.index("GONE-9")
    assert "not in the catalog" in shown  # GONE-9 is shown, unlinked
    assert [team for team in ("control", "challenger", "both") if team in shown] == [
        "control",
        "challenger",
        "both",
    ]


def test_a_shadow_request_shows_the_challengers_rank_of_each_product(admin_client):
    search = logged_search(
        at=AT, product_ids=["A", "B"], arm="shadow", experiment_id=1, shadow_ids=["B", "A"]
    )
    page = request_page(admin_client, search)
    assert "challenger&#x27;s rank" in page or "challenger's rank" in page


def test_the_request_page_lists_the_events_it_received_and_only_those(admin_client):
    product = ProductFactory(external_id="SHOE-1")
    search = logged_search(at=AT, product_ids=["SHOE-1"])
    click = event(
        at=AT + dt.timedelta(seconds=30), event_type="click", request_id=search.request_id, product=product
    )
    event(at=AT + dt.timedelta(seconds=31), event_type="click", request_id="another", product=product)
    page = request_page(admin_client, search)
    received = page[page.index('id="events-received"') :]
    assert received.count(reverse("admin:catalog_event_change", args=[click.pk])) == 1
    assert received.count("<tr>") == 2  # the header and the one click
    assert reverse("admin:catalog_product_change", args=[product.pk]) in received


def test_events_are_found_by_the_request_id_rank_wrote(admin_client):
    request_id = uuid.uuid4().hex  # as /api/rank writes it: 32 hex digits, a valid UUID
    wanted = event(at=AT, event_type="click", request_id=request_id)
    event(at=AT, event_type="click", request_id=uuid.uuid4().hex)
    for term in (request_id, str(uuid.UUID(request_id)), f"  {request_id} "):
        response = admin_client.get(reverse("admin:catalog_event_changelist"), {"q": term})
        assert list(response.context["cl"].result_list) == [wanted], term


def test_an_event_id_is_still_found_by_the_same_box(admin_client):
    wanted = event(at=AT, event_type="click", request_id="r-1")
    response = admin_client.get(reverse("admin:catalog_event_changelist"), {"q": str(wanted.event_id)})
    assert list(response.context["cl"].result_list) == [wanted]


def test_the_event_search_reads_indexes_in_every_partition_not_the_rows():
    event(at=AT, event_type="click", request_id=uuid.uuid4().hex)
    query = Event.objects.filter(event_search_q(uuid.uuid4().hex))
    sql, params = query.query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")  # what the planner does on a big table
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())
    assert "Seq Scan" not in plan, plan
    # Each partition's copy of the request id index and of the (event_id, timestamp) key.
    assert "request_id_idx" in plan, plan
    assert "event_id_timestamp_key" in plan, plan


def test_fallback_requests_can_be_filtered(admin_client):
    served = logged_search(at=AT, fallback=False)
    fell_back = logged_search(at=AT + dt.timedelta(seconds=1), fallback=True)
    changelist = reverse("admin:catalog_searchrequest_changelist")
    response = admin_client.get(changelist, {"fallback__exact": "1"})
    assert list(response.context["cl"].result_list) == [fell_back]
    response = admin_client.get(changelist, {"fallback__exact": "0"})
    assert list(response.context["cl"].result_list) == [served]


def test_a_request_is_found_by_its_id_in_either_spelling(admin_client):
    search = logged_search(at=AT)
    changelist = reverse("admin:catalog_searchrequest_changelist")
    for term in (search.request_id, str(uuid.UUID(search.request_id))):
        assert list(admin_client.get(changelist, {"q": term}).context["cl"].result_list) == [search]
