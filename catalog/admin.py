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
from django.template.loader import render_to_string
from django.urls import reverse
from django.utils.html import format_html
from django.utils.http import urlencode
from django.utils.safestring import SafeString, mark_safe
from django.utils.text import capfirst

from catalog.models import Event, GroundTruth, Product, SearchRequest
from catalog.selectors import row_count_estimate, search_request_events_get, search_request_shown_get

# A filtered page counts matching rows up to here and no further.
COUNT_CAP = 10_000
# A request's page lists this many of its events at most.
EVENTS_SHOWN = 200
TEMPLATES = "admin/catalog/searchrequest"


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
        "request_link",
    )
    # No date_hierarchy: it lists the years with a DISTINCT over the whole table. The date
    # filter only builds links, and its ranges use the timestamp index.
    list_filter = ("event_type", ("timestamp", admin.DateFieldListFilter))
    search_fields = ("=request_id", "=product_id")
    search_help_text = "An event id, a request id or a product's external id (exact match)."
    ordering = ("-timestamp",)

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        """Exact matches on indexed columns only; a substring search would scan every event.
        A UUID is an event id or a request id (``/api/rank`` writes them as 32 hex digits;
        the dashed form finds them too): the database ORs the two indexes in each partition."""
        return queryset.filter(event_search_q(search_term)), False

    @admin.display(description="request id", ordering="request_id")
    def request_link(self, obj: Event) -> str:
        if not obj.request_id:
            return "–"
        url = reverse("admin:catalog_searchrequest_changelist") + "?" + urlencode({"q": obj.request_id})
        # The first 8 characters (the whole id in the tooltip): the list fits the window.
        short = obj.request_id if len(obj.request_id) <= 12 else f"{obj.request_id[:8]}…"
        return format_html('<a href="{}" title="{}">{}</a>', url, obj.request_id, short)


def event_search_q(search_term: str) -> Q:
    """What the event list's search box finds: an event id, a request id or a product's
    external id, each an exact match on an indexed column."""
    term = search_term.strip()
    if not term:
        return Q()
    found = Q(request_id=term) | Q(product_id=term)
    try:
        as_uuid = uuid.UUID(term)
    except ValueError:
        return found
    return found | Q(event_id=as_uuid) | Q(request_id__in={as_uuid.hex, str(as_uuid)} - {term})


@admin.register(SearchRequest)
class SearchRequestAdmin(ReadOnlyAdmin):
    """A request's page is for debugging it: the list as it was shown (with the experiment's
    team or the challenger's rank of each product), and the events the shop sent for it."""

    list_display = (
        "request_id",
        "timestamp",
        "query",
        "user_id",
        "source",
        "model_version",
        "fallback",
        "arm",
        "latency_ms",
    )
    # Not "arm": a filter on a field without choices lists its values with a DISTINCT over the table.
    list_filter = ("fallback", "source", "randomised", ("timestamp", admin.DateFieldListFilter))
    search_fields = ("=request_id",)
    search_help_text = "A request id (exact match)."
    ordering = ("-timestamp",)
    fieldsets = (
        (
            None,
            {
                "fields": (
                    "request_id",
                    "timestamp",
                    "query",
                    "user_id",
                    "model_version",
                    "fallback",
                    "latency_ms",
                )
            },
        ),
        ("The list as shown", {"fields": ("shown_list",)}),
        ("Events received", {"fields": ("events_received",)}),
        ("Experiment", {"fields": ("experiment_id", "arm", "challenger_seconds", "challenger_error")}),
        ("More", {"fields": ("query_norm", "session_id", "source", "randomised"), "classes": ("collapse",)}),
    )
    readonly_fields = (
        "latency_ms",
        "shown_list",
        "events_received",
    )

    def get_search_results(self, request: HttpRequest, queryset: QuerySet, search_term: str):
        """The request id as typed, or a UUID's other spelling (32 hex digits or dashed)."""
        term = search_term.strip()
        if not term:
            return queryset, False
        try:
            spellings = {term, uuid.UUID(term).hex, str(uuid.UUID(term))}
        except ValueError:
            spellings = {term}
        return queryset.filter(request_id__in=spellings), False

    @admin.display(description="latency (ms)", ordering="latency_seconds")
    def latency_ms(self, obj: SearchRequest) -> str:
        return "–" if obj.latency_seconds is None else f"{obj.latency_seconds * 1000:.2f}"

    @admin.display(description="list")
    def shown_list(self, obj: SearchRequest) -> SafeString:
        items = search_request_shown_get(search_request=obj)
        return mark_safe(  # a template, autoescaped
            render_to_string(
                f"{TEMPLATES}/includes/shown_list.html",
                {
                    "items": items,
                    "request": obj,
                    "show_teams": bool(obj.teams),
                    "show_shadow": bool(obj.shadow_ids),
                },
            )
        )

    @admin.display(description="events")
    def events_received(self, obj: SearchRequest) -> SafeString:
        events = list(search_request_events_get(search_request=obj)[:EVENTS_SHOWN])
        products = dict(
            Product.objects.filter(external_id__in={event.product_id for event in events}).values_list(
                "external_id", "pk"
            )
        )
        search_url = reverse("admin:catalog_event_changelist") + "?" + urlencode({"q": obj.request_id})
        return mark_safe(  # a template, autoescaped
            render_to_string(
                f"{TEMPLATES}/includes/events_table.html",
                {
                    "rows": [(event, products.get(event.product_id)) for event in events],
                    "limit": EVENTS_SHOWN,
                    "search_url": search_url,
                },
            )
        )


@admin.register(GroundTruth)
class GroundTruthAdmin(ReadOnlyAdmin):
    list_display = ("request_id", "product_external_id", "relevance")
    # Only the request id is indexed (first column of the unique constraint).
    search_fields = ("=request_id",)
