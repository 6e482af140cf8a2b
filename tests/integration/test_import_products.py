from __future__ import annotations

import io
import json
from decimal import Decimal
from pathlib import Path

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from catalog.models import Product
from catalog.services import products_import
from tests.factories import ProductFactory

pytestmark = pytest.mark.django_db

HEADER = "external_id,title,description,brand,category,price,rating,attributes,active"


def write(path: Path, *lines: str) -> Path:
    path.write_text("\n".join([HEADER, *lines]) + "\n")
    return path


def run(*args: str) -> str:
    out = io.StringIO()
    call_command("import_products", *args, stdout=out)
    return out.getvalue()


def test_it_inserts_new_products_and_updates_the_ones_it_knows(tmp_path):
    ProductFactory(external_id="P1", title="Old title", price=Decimal("10.00"), rating=Decimal("1.0"))
    path = write(
        tmp_path / "products.csv",
        'P1,New title,Light,Acme,Shoes,12.50,,"{""colour"": ""red""}",false',
        "P2,Trail shoe,,Acme,Shoes,59.9,4.5,,",
    )
    output = run(str(path))
    assert "rows read 2, inserted 1, updated 1, rejected 0" in output
    updated = Product.objects.get(external_id="P1")
    assert (updated.title, updated.price, updated.rating, updated.attributes, updated.active) == (
        "New title",
        Decimal("12.50"),
        None,
        {"colour": "red"},
        False,
    )
    new = Product.objects.get(external_id="P2")
    assert (new.price, new.rating, new.active) == (Decimal("59.90"), Decimal("4.50"), True)


@pytest.mark.parametrize("price", ["-0.01", "NaN", "inf", "-Infinity"])
def test_a_negative_nan_or_infinite_price_rejects_the_file(tmp_path, price):
    path = write(tmp_path / "products.csv", "P1,Shoe,,,,10,,,", f"P2,Shoe,,,,{price},,,")
    with pytest.raises(CommandError, match=f'line 3: price: must be a finite number >= 0, got "{price}"'):
        run(str(path))
    assert not Product.objects.exists()


def test_skip_invalid_upserts_the_good_products_only(tmp_path):
    path = write(tmp_path / "products.csv", "P1,Shoe,,,,10,,,", "P2,,,,,10,,,", "P1,Shoe again,,,,11,,,")
    output = run(str(path), "--skip-invalid")
    assert list(Product.objects.values_list("external_id", "title")) == [("P1", "Shoe")]
    assert "line 3: title: required" in output
    assert "line 4: external_id: appears again (first on line 2)" in output


def test_json_lines_products_carry_their_attributes_as_objects(tmp_path):
    path = tmp_path / "products.jsonl"
    rows = [
        {
            "external_id": "P1",
            "title": "Shoe",
            "price": 10,
            "rating": None,
            "attributes": {"tags": ["trail"]},
        },
        {"external_id": "P2", "title": "Boot", "price": "20.5", "active": False},
    ]
    path.write_text("".join(json.dumps(row) + "\n" for row in rows))
    result = products_import(path=path)
    assert (result.inserted, result.updated, result.rejected) == (2, 0, 0)
    assert Product.objects.get(external_id="P1").attributes == {"tags": ["trail"]}
    assert Product.objects.get(external_id="P2").active is False


def test_importing_the_same_products_twice_updates_instead_of_duplicating(tmp_path):
    path = write(tmp_path / "products.csv", "P1,Shoe,,,,10,,,")
    first = products_import(path=path)
    second = products_import(path=path)
    assert (first.inserted, second.inserted, second.updated) == (1, 0, 1)
    assert Product.objects.count() == 1
