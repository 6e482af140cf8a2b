"""``simulate_traffic`` in-process on PostgreSQL: the shoppers' searches go through the real
``/api/rank`` view, their events through ``/api/events``, and each event is tied to the
request it came from.

Committed rows (``transaction=True``): the serving state loads in a background thread with a
connection of its own, as in a web worker."""

from __future__ import annotations

import io

import pytest
from django.core.management import CommandError, call_command

from catalog.models import Event, SearchRequest
from catalog.services import synthetic_data_generate
from ranking.models import ApiClient
from tests.integration.api.support import worker_state_reset

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shop(small_config, settings, tmp_path):
    settings.SEARCHOP_VAR_DIR = tmp_path / "var"
    settings.SEARCHOP_COMPILED_INFERENCE = False
    synthetic_data_generate(config=small_config)
    worker_state_reset()
    yield small_config
    worker_state_reset()


def simulate(config, searches: int, **options) -> str:
    out, err = io.StringIO(), io.StringIO()
    call_command(
        "simulate_traffic",
        searches=searches,
        shop_seed=config.seed,
        products=config.products,
        categories=config.categories,
        users=config.users,
        stdout=out,
        stderr=err,
        **options,
    )
    return out.getvalue() + err.getvalue()


def test_simulated_searches_are_logged_and_their_events_stored_with_their_request_ids(shop):
    output = simulate(shop, 150, seed=7)

    served = SearchRequest.objects.filter(source=SearchRequest.Source.API)
    assert served.count() == 150
    shown = dict(served.values_list("request_id", "product_ids"))
    events = list(
        Event.objects.filter(request_id__in=shown).values(
            "request_id", "event_type", "product_id", "position"
        )
    )
    assert events, output
    assert {event["event_type"] for event in events} <= {"click", "add_to_cart", "purchase"}
    for event in events:
        assert shown[event["request_id"]][event["position"] - 1] == event["product_id"]
    clicks = sum(event["event_type"] == "click" for event in events)
    assert "searches             150" in output
    assert f"clicks        {clicks:>10,}" in output
    assert "no experiment: 150" in output
    assert "[1] Building the synthetic shop's shoppers" in output  # numbered steps with counts


def simulated_events() -> list[tuple]:
    served = SearchRequest.objects.filter(source=SearchRequest.Source.API).values("request_id")
    return sorted(
        Event.objects.filter(request_id__in=served).values_list("product_id", "position", "event_type")
    )


def test_the_same_seed_sends_the_same_clicks(shop):
    simulate(shop, 60, seed=11)
    first = simulated_events()
    SearchRequest.objects.filter(source=SearchRequest.Source.API).delete()
    simulate(shop, 60, seed=11)
    assert first
    assert simulated_events() == first


def test_a_catalog_of_another_shop_is_refused_before_any_search(shop):
    with pytest.raises(CommandError, match="not the synthetic shop of seed 99"):
        simulate(shop.__class__(**{**shop.__dict__, "seed": 99}), 10)
    assert not SearchRequest.objects.filter(source=SearchRequest.Source.API).exists()


def test_in_process_a_key_given_is_checked_as_over_http(shop, settings):
    settings.SEARCHOP_REQUIRE_API_KEY = True
    with pytest.raises(CommandError, match="401"):
        simulate(shop, 5, api_key="not-a-key")
    _, key = ApiClient.objects.create_key(name="simulator")
    simulate(shop, 5, api_key=key)
    assert SearchRequest.objects.filter(source=SearchRequest.Source.API).count() == 5


def test_in_process_without_a_key_the_key_check_is_off_for_the_run_only(shop, settings):
    settings.SEARCHOP_REQUIRE_API_KEY = True
    simulate(shop, 5)
    assert SearchRequest.objects.filter(source=SearchRequest.Source.API).count() == 5
    from django.conf import settings as live

    assert live.SEARCHOP_REQUIRE_API_KEY is True
