"""The Swagger example names products of the demo catalog as the synthetic shop makes them."""

from __future__ import annotations

from catalog.synthetic.config import SyntheticConfig
from catalog.synthetic.generator import Generator
from ranking.api_schema import RANK_EXAMPLE


def test_the_rank_example_uses_demo_products_with_their_titles_and_one_cold_start_product():
    catalog = Generator(SyntheticConfig()).shop.catalog.frame().set_index("external_id")
    products = RANK_EXAMPLE.value["products"]
    known = [product for product in products if product["id"] in catalog.index]
    unknown = [product["id"] for product in products if product["id"] not in catalog.index]

    assert len(known) == 2
    for product in known:
        row = catalog.loc[product["id"]]
        assert (product["title"], product["category"]) == (row["title"], row["category"])
        assert product["price"] == float(row["price"])
    assert unknown == ["new-1"]
    assert "cold-start" in RANK_EXAMPLE.description
