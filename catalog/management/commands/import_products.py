from __future__ import annotations

from catalog.columns import PRODUCTS
from catalog.management.importing import POLICY, ImportCommand
from catalog.services import products_import


class Command(ImportCommand):
    help = (
        "Import products from a CSV or JSON Lines file (.csv, .jsonl, .ndjson, optionally .gz). "
        f"Columns: {', '.join(PRODUCTS.file_names)}. external_id is the key: a known product is "
        "updated, a new one inserted. title and price (a number >= 0, rounded to cents) are "
        "required; rating is 0 to 5 or empty; attributes a JSON object (in CSV, as JSON "
        "text); active true/false, default true. " + POLICY
    )
    what = "products"
    service = staticmethod(products_import)
