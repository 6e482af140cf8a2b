"""factory_boy factories shared by the tests."""

from __future__ import annotations

import datetime as dt
import uuid
from decimal import Decimal

import factory

from catalog.models import Event, Product

BASE_TIME = dt.datetime(2026, 9, 7, tzinfo=dt.UTC)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    external_id = factory.Sequence(lambda n: f"P{n:05d}")
    title = factory.Sequence(lambda n: f"Brand Model {n} Running Shoes")
    description = "Lightweight running shoes."
    brand = "Brand"
    category = "Running Shoes"
    price = Decimal("99.99")
    rating = Decimal("4.2")
    attributes = factory.LazyFunction(dict)


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    event_id = factory.LazyFunction(uuid.uuid4)
    event_type = "impression"
    timestamp = factory.Sequence(lambda n: BASE_TIME + dt.timedelta(minutes=n))
    user_id = "U0001"
    session_id = "s1"
    query = "running shoes"
    query_norm = "running shoes"
    product = factory.SubFactory(ProductFactory)
    position = 1
    request_id = "r1"
    ingested_at = factory.LazyFunction(lambda: dt.datetime.now(dt.UTC))
