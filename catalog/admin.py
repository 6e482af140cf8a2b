"""The catalog in the admin. Events, the impression log and the ground truth are written by
the importers, the API and the generator only, so their pages are read-only; and as those
tables grow to tens of millions of rows, no page of theirs counts the whole table."""

from __future__ import annotations

import uuid
from functools import cached_property

from django.contrib import admin
from django.core.paginator import Paginator
from django.db.models import Q, QuerySet
from django.http import HttpRequest, HttpResponse
from django.utils.text import capfirst

from catalog.models import Event, GroundTruth, Product, SearchRequest
from catalog.selectors import row_count_estimate

# A filtered page counts matching rows up to here and no further.
COUNT_CAP = 10_000


class EstimatedCountPaginator(Paginator):
    """The whole table: the planner's estimate. A filtered or searched list: an exact count
    capped at ``COUNT_CAP`` (``COUNT(*)`` over a ``LIMIT`` subquery), so a page never pays
    for more rows than that."""

    @cached_property
    def count(self) -> int:
        queryset = self.object_list
        if isinstance(queryset, QuerySet) and not queryset.query.where:
            return row_count_estimate(model=queryset.model)
        # Without the ordering: counting needs no sort.
        return queryset.order_by()[:COUNT_CAP].count()


class TitledChangeList:
    """A list page titled by what it lists ("Model versions"), not Django's "Select model
    version to view". A mixin for model admins, before ``admin.ModelAdmin``."""

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        title = capfirst(self.model._meta.verbose_name_plural)  # type: ignore[attr-defined]
        return super().changelist_view(request, extra_context={"title": title, **(extra_context or {})})  # type: ignore[misc]


class ReadOnlyPermissions:
    """For rows that only services write: the admin shows them and changes nothing. A mixin
    for model admins and inlines (whose ``has_add_permission`` also takes ``obj``)."""

    def has_add_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_change_permission(self, request: HttpRequest, obj=None) -> bool:
        return False

    def has_delete_permission(self, request: HttpRequest, obj=None) -> bool:
        return False


class ReadOnlyAdmin(TitledChangeList, ReadOnlyPermissions, admin.ModelAdmin):
    paginator = EstimatedCountPaginator
    show_full_result_count = False
    # Facet counts are one COUNT per filter choice over the table.
    show_facets = admin.ShowFacets.NEVER


@admin.register(Product)
class ProductAdmin(TitledChangeList, admin.ModelAdmin):
    list_display = ("external_id", "title", "brand", "category", "price", "rating", "active")
    list_filter = ("category", "active")
    search_fields = ("external_id", "title", "brand")
    readonly_fields = ("created_at", "updated_at")


@admin.register(Event)
class EventAdmin(ReadOnlyAdmin):
    list_display = (
        "timestamp",
        "event_type",
        "product_id",
        "position",
        "query",
        "user_id",
        "session_id",
        "request_id",
    )
    # No date_hierarchy: it lists the years with a DISTINCT over the whole table. The date
    # filter only builds links, and its ranges use the timestamp index.
    list_filter = ("event_type", ("timestamp", admin.DateFieldListFilter))
    search_fields = ("=request_id", "=product_id")
    search_help_text = "An event id, a request id or a product's external id (exact match)."
    ordering = ("-timestamp",)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        """Exact matches on indexed columns only; a substring search would scan every event."""
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            return queryset.filter(event_id=uuid.UUID(term)), False
        except ValueError:
            return queryset.filter(Q(request_id=term) | Q(product_id=term)), False


@admin.register(SearchRequest)
class SearchRequestAdmin(ReadOnlyAdmin):
    list_display = ("request_id", "timestamp", "query", "user_id", "source", "randomised", "model_version")
    list_filter = ("source", "randomised", ("timestamp", admin.DateFieldListFilter))
    search_fields = ("=request_id",)
    ordering = ("-timestamp",)


@admin.register(GroundTruth)
class GroundTruthAdmin(ReadOnlyAdmin):
    list_display = ("request_id", "product_external_id", "relevance")
    # Only the request id is indexed (first column of the unique constraint).
    search_fields = ("=request_id",)
