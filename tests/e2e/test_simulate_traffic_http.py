"""``simulate_traffic --url`` against a real gunicorn (the repository's config, two workers):
the shoppers' searches over HTTP are logged by the workers' impression logs and their events
arrive through ``/api/events`` tied to those searches."""

from __future__ import annotations

import io

import pytest
from django.core.management import call_command

from catalog.models import Event, SearchRequest
from catalog.services import synthetic_data_generate
from tests.e2e.test_gunicorn import server, until  # noqa: F401 - the gunicorn fixture

SEARCHES = 40


@pytest.mark.django_db(transaction=True)
def test_the_shoppers_search_over_http_and_their_events_are_tied_to_the_logged_searches(
    server,  # noqa: F811
    small_config,
):
    synthetic_data_generate(config=small_config)
    until(lambda: server.get("/ready")[0] == 200, what="/ready answers 200", server=server)
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "simulate_traffic",
        searches=SEARCHES,
        url=server.url,
        seed=5,
        rate=200,
        shop_seed=small_config.seed,
        products=small_config.products,
        categories=small_config.categories,
        users=small_config.users,
        stdout=out,
        stderr=err,
    )

    served = SearchRequest.objects.filter(source=SearchRequest.Source.API)
    until(lambda: served.count() == SEARCHES, what="every search in the impression log", server=server)
    shown = dict(served.values_list("request_id", "product_ids"))
    events = Event.objects.filter(request_id__in=shown).values_list("request_id", "product_id", "position")
    assert events.exists(), out.getvalue()
    assert all(shown[request_id][position - 1] == product_id for request_id, product_id, position in events)
    summary = out.getvalue()
    assert f"({server.url}, seed 5)" in summary
    assert f"searches      {SEARCHES:>10,}" in summary
    assert "searches" in err.getvalue()  # the progress bar, on stderr
