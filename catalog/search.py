"""Candidates for a typed query, from the catalog: what the control room's query playground
ranks (the shop's own search backend sends its candidates to ``/api/rank`` itself).

On PostgreSQL, full-text search over the product text (title, brand, category, description):
the stored ``search_document`` column and its GIN index (migration
``0006_product_text_search_index``), the query's terms joined by OR, ordered by ``ts_rank``. On the embedded default (SQLite), the in-memory BM25 of
``catalog.text`` over the same text, built once per catalog state and kept in the process.
"""

from __future__ import annotations

import threading
from collections.abc import Sequence

from django.contrib.postgres.search import SearchQuery, SearchRank, SearchVectorField
from django.db import connection
from django.db.models import Count, F, Max, QuerySet
from django.db.models.expressions import RawSQL

from catalog import text
from catalog.models import Product

CANDIDATES_LIMIT = 50
SEARCH_CONFIG = "english"
# The product text searched, in the order BM25's ``product_document`` joins it.
SEARCH_FIELDS = ("title", "brand", "category", "description")


def product_search_document() -> RawSQL:
    """The stored ``tsvector`` of a product's text (PostgreSQL only; not a model field)."""
    return RawSQL('"catalog_product"."search_document"', [], output_field=SearchVectorField())


def product_candidates_search(*, query: str, limit: int = CANDIDATES_LIMIT) -> list[str]:
    """The external ids of the active products that match ``query`` best, best first (at most
    ``limit``); empty when no term of the query occurs in any product text."""
    terms = sorted(set(text.normalise(query).split()))
    if not terms:
        return []
    if connection.vendor == "postgresql":
        return product_candidates_full_text(terms=terms, limit=limit)
    return product_candidates_bm25(tokens=text.tokenize(query), limit=limit)


def product_candidates_full_text(*, terms: Sequence[str], limit: int = CANDIDATES_LIMIT) -> list[str]:
    """PostgreSQL only: products whose text holds any of ``terms`` (normalised words), by ``ts_rank``."""
    return list(product_full_text_queryset(terms=terms).values_list("external_id", flat=True)[:limit])


def product_full_text_queryset(*, terms: Sequence[str]) -> QuerySet[Product]:
    """The active products matching any of ``terms``, best first (PostgreSQL only)."""
    # Terms are letters and digits only (``normalise``), so joining them with | is a valid
    # tsquery; each is stemmed by the configuration as the indexed text was.
    search = SearchQuery(" | ".join(terms), config=SEARCH_CONFIG, search_type="raw")
    return (
        Product.objects.filter(active=True)
        .annotate(document=product_search_document())
        .filter(document=search)
        .annotate(rank=SearchRank(F("document"), search))
        .order_by("-rank", "external_id")
    )


class _Bm25Index:
    """The catalog's BM25 index, rebuilt when the product count or the latest change moves."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._key: tuple | None = None
        self._index: text.TextIndex | None = None

    def get(self) -> text.TextIndex:
        key = tuple(
            Product.objects.filter(active=True).aggregate(n=Count("id"), at=Max("updated_at")).values()
        )
        with self._lock:
            if self._index is None or key != self._key:
                documents = {
                    external_id: text.product_document(
                        title=title, brand=brand, category=category, description=description
                    )
                    for external_id, title, brand, category, description in Product.objects.filter(
                        active=True
                    ).values_list("external_id", *SEARCH_FIELDS)
                }
                self._index, self._key = text.TextIndex(documents), key
            return self._index


_BM25 = _Bm25Index()


def product_candidates_bm25(*, tokens: Sequence[str], limit: int = CANDIDATES_LIMIT) -> list[str]:
    """Products by BM25 of ``tokens`` (``text.tokenize``) against their text, over 0 only."""
    index = _BM25.get()
    scores = {
        doc_id: score
        for doc_id, weights in index.weights.items()
        if (score := sum(weights.bm25.get(token, 0.0) for token in tokens)) > 0
    }
    return sorted(scores, key=lambda doc_id: (-scores[doc_id], doc_id))[:limit]


def product_candidates_get(*, external_ids: Sequence[str]) -> list[dict]:
    """The products of ``external_ids``, in that order, as ``/api/rank`` candidates (id, title,
    price, category, description, brand, rating); ids the catalog does not hold are left out."""
    rows = {
        row["external_id"]: row
        for row in Product.objects.filter(external_id__in=list(external_ids)).values(
            "external_id", "title", "price", "category", "description", "brand", "rating"
        )
    }
    return [
        {
            "id": external_id,
            "title": row["title"],
            "price": float(row["price"]),
            "category": row["category"],
            "description": row["description"],
            "brand": row["brand"],
            "rating": None if row["rating"] is None else float(row["rating"]),
        }
        for external_id in external_ids
        if (row := rows.get(external_id)) is not None
    ]
