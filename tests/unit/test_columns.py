"""The one declaration of the event and product columns (catalog.columns), and the importers,
loaders, selectors and services that derive their column lists from it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from catalog import loading, selectors, services
from catalog.columns import EVENTS, PRODUCTS, Columns, Kind
from catalog.importers.validation import events_check, products_check
from catalog.management.commands import import_events, import_products
from catalog.models import Event, Product

# The model field types each kind may be stored in (a foreign key counts as its target's).
STORED_AS = {
    Kind.UUID: {"UUIDField"},
    Kind.CHOICE: {"CharField"},
    Kind.TIMESTAMP: {"DateTimeField"},
    Kind.TEXT: {"CharField", "TextField"},
    Kind.POSITION: {"PositiveSmallIntegerField"},
    Kind.MONEY: {"DecimalField"},
    Kind.RATING: {"DecimalField"},
    Kind.JSON: {"JSONField"},
    Kind.FLAG: {"BooleanField"},
}


@pytest.mark.parametrize("columns", [EVENTS, PRODUCTS], ids=["events", "products"])
def test_every_column_is_a_field_of_its_model_stored_as_its_kind_says(columns: Columns):
    for column in columns:
        field = columns.model_field(column.name)
        stored = field.target_field if field.is_relation else field
        assert stored.get_internal_type() in STORED_AS[column.kind], column.name
        assert (column.kind == Kind.CHOICE) == bool(field.choices), column.name


def test_every_event_field_but_the_id_and_the_ingestion_time_is_declared():
    fields = [field.name for field in Event._meta.concrete_fields]
    assert [column.field_name for column in EVENTS] == [
        name for name in fields if name not in ("id", "ingested_at")
    ]


def test_every_product_field_but_the_id_and_the_timestamps_is_declared():
    fields = [field.name for field in Product._meta.concrete_fields]
    assert [column.field_name for column in PRODUCTS] == [
        name for name in fields if name not in ("id", "created_at", "updated_at")
    ]


def test_a_file_has_every_column_but_the_ones_the_importer_derives():
    assert EVENTS.file_names == (
        "event_id",
        "event_type",
        "timestamp",
        "user_id",
        "session_id",
        "query",
        "product_id",
        "position",
        "request_id",
    )
    assert EVENTS.required == ("event_id", "event_type", "timestamp", "product_id")
    assert PRODUCTS.file_names == PRODUCTS.names
    assert PRODUCTS.required == ("external_id", "title", "price")


def test_text_limits_are_the_models_max_length_and_a_product_id_its_targets():
    assert EVENTS.text_limits == {
        "user_id": Event._meta.get_field("user_id").max_length,
        "session_id": Event._meta.get_field("session_id").max_length,
        "query": Event._meta.get_field("query").max_length,
        "product_id": Product._meta.get_field("external_id").max_length,
        "request_id": Event._meta.get_field("request_id").max_length,
    }
    assert EVENTS.text_limits == {
        "user_id": 128,
        "session_id": 128,
        "query": 512,
        "product_id": 128,
        "request_id": 64,
    }
    # A description has no limit (a TextField), so none is checked.
    assert PRODUCTS.text_limits == {"external_id": 128, "title": 512, "brand": 128, "category": 128}


def test_an_events_product_id_is_stored_in_the_product_external_id_column():
    assert EVENTS.db_column("product_id") == "product_external_id"
    assert EVENTS.db_column("query") == "query"


def test_the_validated_frames_have_the_declared_columns_in_order():
    events = pd.DataFrame({name: [""] for name in EVENTS.file_names})
    products = pd.DataFrame({name: [""] for name in PRODUCTS.file_names})
    assert tuple(events_check(events, np.array([2])).valid.columns) == EVENTS.names
    assert tuple(products_check(products, np.array([2]), seen={}).valid.columns) == PRODUCTS.names


def test_the_event_loaders_write_the_declared_columns_with_their_table_types():
    assert [name for name, _ in loading.EventsLoader.STAGED.columns] == list(EVENTS.db_columns)
    assert [name for name, _ in loading.EVENT_TABLE.columns] == [*EVENTS.db_columns, "ingested_at"]
    assert [name for name, _ in loading.EVENT_TABLE.columns] == [
        field.column for field in Event._meta.concrete_fields if not field.primary_key
    ]
    types = dict(loading.EVENT_TABLE.columns)
    assert (types["event_id"], types["timestamp"], types["position"], types["product_external_id"]) == (
        "uuid",
        "timestamptz",
        "smallint",
        "text",
    )
    assert set(loading.EVENT_TABLE.text_columns) >= {EVENTS.db_column(name) for name in EVENTS.text}


def test_the_events_selector_reads_declared_columns():
    assert set(selectors.EVENT_FRAME_COLUMNS) <= set(EVENTS.names)


def test_an_import_overwrites_every_product_column_but_the_key():
    assert services.PRODUCT_UPDATE_FIELDS == [
        "title",
        "description",
        "brand",
        "category",
        "price",
        "rating",
        "attributes",
        "active",
    ]


def test_the_import_commands_name_the_declared_columns_in_their_help():
    assert "Columns: " + ", ".join(EVENTS.file_names) in import_events.Command.help
    assert "Columns: " + ", ".join(PRODUCTS.file_names) in import_products.Command.help
