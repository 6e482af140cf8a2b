import io

import pytest
from django.core.management import call_command

from catalog.models import Event, GroundTruth, Product, SearchRequest

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("generate_synthetic_data", *args, stdout=out)
    return out.getvalue()


SMALL = ["--products", "120", "--categories", "4", "--users", "60", "--events", "6000", "--seed", "3"]


def test_it_loads_products_events_lists_and_truth_and_prints_a_summary():
    output = run(*SMALL)
    assert Product.objects.count() == 120
    assert Product.objects.values("category").distinct().count() == 4
    events = Event.objects.count()
    assert 6_000 <= events <= 6_040
    assert SearchRequest.objects.filter(source="synthetic").exists()
    assert GroundTruth.objects.count() == Event.objects.filter(event_type="impression").count()
    for needle in ("CTR", "conversion", "CTR at position 1 / 5 / 10", "products", "ground truth"):
        assert needle in output


def test_running_it_twice_with_the_same_seed_stores_each_event_once():
    run(*SMALL)
    before = Event.objects.count()
    output = run(*SMALL)
    assert Event.objects.count() == before
    assert "new_events=0" in output


def test_flush_replaces_the_data_with_another_seed():
    run(*SMALL)
    first_ids = set(Event.objects.values_list("event_id", flat=True)[:50])
    run(*SMALL[:-1], "4", "--flush")
    assert not Event.objects.filter(event_id__in=first_ids).exists()


def test_events_join_their_products_by_external_id():
    run(*SMALL)
    event = Event.objects.select_related("product").first()
    assert event.product.external_id == event.product_id


def test_it_refuses_too_many_categories():
    from django.core.management.base import CommandError

    with pytest.raises(CommandError, match="categories"):
        run("--categories", "99")
