"""Seed a fault-suite database: a small catalog, two API keys (one limited to
``LIMITED_PER_MINUTE``), a production model, ``CANDIDATES`` candidates of the same model and
an admin login.

Run in a process of its own against the database named by DATABASE_URL (a throw-away
cluster): ``python -m tests.faults.seed``. Prints one JSON object: the key and the ids.
"""

from __future__ import annotations

import json
import os
from decimal import Decimal

PRODUCTS = 40
LIMITED_PER_MINUTE = 30
# The main key's limit, past any load the suite makes: 6,000 a minute (the default) is only
# 100 requests a second, which four load threads pass on a quiet machine, and a 429 there would
# read as a fault the suite did not cause.
UNLIMITED_PER_MINUTE = 1_000_000
CANDIDATES = 20
ADMIN = ("operator", "fault-suite-password")


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "searchop_site.settings")
    import django

    django.setup()
    from django.contrib.auth import get_user_model

    from catalog.models import Product
    from ranking.models import ApiClient
    from ranking.services import model_version_promote, model_version_register
    from tests.factories import contract_register_kwargs

    Product.objects.bulk_create(
        Product(
            external_id=f"F{i:03d}",
            title=f"Trail running shoe {i}",
            brand="Brand",
            category="Running Shoes",
            price=Decimal(40 + i),
            rating=Decimal("4.0"),
        )
        for i in range(PRODUCTS)
    )
    _, key = ApiClient.objects.create_key(name="fault-suite", requests_per_minute=UNLIMITED_PER_MINUTE)
    _, limited = ApiClient.objects.create_key(
        name="fault-suite-limited", requests_per_minute=LIMITED_PER_MINUTE
    )
    version = model_version_register(**contract_register_kwargs(seed=1), actor="fault-suite", reason="seed")
    model_version_promote(version=version.version, actor="fault-suite", reason="seed")
    candidates = [
        model_version_register(**contract_register_kwargs(seed=1), actor="fault-suite", reason="seed").pk
        for _ in range(CANDIDATES)
    ]
    get_user_model().objects.create_superuser(username=ADMIN[0], email="", password=ADMIN[1])
    products = [f"F{i:03d}" for i in range(PRODUCTS)]
    print(
        json.dumps({"api_key": key, "limited_key": limited, "products": products, "candidates": candidates})
    )


if __name__ == "__main__":
    main()
