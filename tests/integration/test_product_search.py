"""The playground's candidates (``catalog.search``): PostgreSQL full-text search over the
product text through the GIN index of migration 0006, and the embedded default's BM25."""

from __future__ import annotations

import pytest
from django.db import connection

from catalog import text
from catalog.models import Product
from catalog.search import (
    product_candidates_bm25,
    product_candidates_full_text,
    product_candidates_search,
    product_full_text_queryset,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def products():
    rows = [
        ("P1", "Trail running shoes", "Stride", "shoes", "Light shoes for muddy trails."),
        ("P2", "Road running shoe", "Stride", "shoes", "Cushioned for tarmac."),
        ("P3", "Hiking backpack", "Summit", "bags", "A 30 litre pack for day hikes."),
        ("P4", "Running socks", "Stride", "apparel", "Socks that keep feet dry."),
        ("P5", "Old running shoes", "Stride", "shoes", "Discontinued."),
    ]
    for external_id, title, brand, category, description in rows:
        Product.objects.create(
            external_id=external_id,
            title=title,
            brand=brand,
            category=category,
            description=description,
            price=10,
            active=external_id != "P5",
        )


def test_full_text_search_finds_active_products_with_any_term_stemmed_best_match_first(products):
    found = product_candidates_search(query="Running Shoes!")

    assert found[:2] in (["P1", "P2"], ["P2", "P1"])  # both terms, in title and category
    assert set(found) == {"P1", "P2", "P4"}  # P4 has "running" only; P5 is inactive


def test_a_query_with_no_word_in_the_catalog_has_no_candidates(products):
    assert product_candidates_search(query="umbrella") == []
    assert product_candidates_search(query="   ?! ") == []


def test_the_candidates_are_capped(products):
    assert len(product_candidates_search(query="running", limit=2)) == 2


def test_the_search_uses_the_gin_index_of_the_product_text(products):
    query = product_full_text_queryset(terms=["running", "shoes"]).values("external_id")
    with connection.cursor() as cursor:
        cursor.execute("SET LOCAL enable_seqscan = off")
        sql, params = query.query.sql_with_params()
        cursor.execute(f"EXPLAIN {sql}", params)
        plan = "\n".join(row[0] for row in cursor.fetchall())

    assert "catalog_product_text_search" in plan, plan


def test_the_embedded_defaults_bm25_finds_the_same_products_as_full_text_search(products):
    query = "running shoes"

    bm25 = product_candidates_bm25(tokens=text.tokenize(query))
    full_text = product_candidates_full_text(terms=text.normalise(query).split())

    assert set(bm25) == set(full_text)
    assert bm25[0] in {"P1", "P2"}
