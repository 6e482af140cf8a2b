"""Writes to the catalog and the clickstream."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from decimal import Decimal
from typing import Any

import pandas as pd
from django.db import transaction

from catalog import loading
from catalog.models import Event, GroundTruth, Product, SearchRequest
from catalog.progress import Reporter
from catalog.synthetic import Generator, Summary, SyntheticConfig

PRODUCT_UPDATE_FIELDS = [
    "title",
    "description",
    "brand",
    "category",
    "price",
    "rating",
    "attributes",
    "active",
]


def products_upsert(*, rows: Iterable[Mapping[str, Any]], batch_size: int = 2_000) -> int:
    """Insert or update products by ``external_id`` (rows already validated). Transactional:
    all rows or none. Returns the number of rows written."""
    written = 0
    batch: list[Product] = []
    with transaction.atomic():
        for row in rows:
            batch.append(
                Product(
                    external_id=str(row["external_id"]),
                    title=row["title"],
                    description=row.get("description") or "",
                    brand=row.get("brand") or "",
                    category=row.get("category") or "",
                    price=Decimal(str(row["price"])),
                    rating=None if row.get("rating") is None else Decimal(str(row["rating"])),
                    attributes=row.get("attributes") or {},
                    active=bool(row.get("active", True)),
                )
            )
            if len(batch) >= batch_size:
                written += _products_write(batch)
                batch = []
        written += _products_write(batch)
    return written


def _products_write(batch: list[Product]) -> int:
    if not batch:
        return 0
    Product.objects.bulk_create(
        batch,
        update_conflicts=True,
        unique_fields=["external_id"],
        update_fields=[*PRODUCT_UPDATE_FIELDS, "updated_at"],
    )
    return len(batch)


def synthetic_data_flush() -> None:
    """Delete the synthetic lists, their events and truth, and every product (a clean slate)."""
    with transaction.atomic():
        GroundTruth.objects.all().delete()
        SearchRequest.objects.filter(source=SearchRequest.Source.SYNTHETIC).delete()
        Event.objects.all().delete()
        Product.objects.all().delete()


def synthetic_data_generate(*, config: SyntheticConfig, reporter: Reporter | None = None) -> Summary:
    """Generate the synthetic shop and load it: products (upserted), events, the impression
    log of its lists and the ground truth. Deterministic for ``config.seed`` and idempotent:
    a second run with the same seed adds no event. Each chunk commits on its own, so ten
    million events stream through bounded memory; a chunk that fails leaves nothing of itself."""
    reporter = reporter or Reporter.silent()
    generator = Generator(config)
    products = generator.catalog.frame()
    with reporter.step("Writing the catalog") as info:
        info["products"] = products_upsert(
            rows=(
                {**row, "rating": None if pd.isna(row["rating"]) else row["rating"]}
                for row in products.to_dict("records")
            )
        )
        info["categories"] = config.categories
    with reporter.step("Generating and loading lists, events and ground truth") as info:
        bar = reporter.bar(total=config.events, unit="ev", desc="events")
        inserted = 0
        with bar:
            for chunk in generator.chunks():
                with transaction.atomic():
                    inserted += loading.events_load(chunk.events)
                    loading.search_requests_load(chunk.requests)
                    loading.ground_truth_load(chunk.truth)
                bar.update(len(chunk.events))
        info["events"] = generator.summary.events
        info["new_events"] = inserted
        info["lists"] = generator.summary.lists
    return generator.summary
