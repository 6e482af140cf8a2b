"""The audit trail and the API clients in the admin."""

from __future__ import annotations

from django.contrib import admin
from django.db.models import QuerySet
from django.http import HttpRequest
from rest_framework_api_key.admin import APIKeyModelAdmin
from rest_framework_api_key.models import APIKey

from catalog.admin import ReadOnlyPermissions, TitledChangeList
from ranking.models import ApiClient, ModelVersionTransition


@admin.register(ModelVersionTransition)
class ModelVersionTransitionAdmin(TitledChangeList, ReadOnlyPermissions, admin.ModelAdmin):
    """The whole audit trail, newest first; read-only."""

    list_display = (
        "created_at",
        "model_version",
        "kind",
        "from_status",
        "to_status",
        "actor",
        "reason",
        "replaced",
    )
    list_filter = ("kind", "to_status")
    search_fields = ("actor", "reason")
    ordering = ("-created_at", "-id")
    list_select_related = ("model_version", "replaced")

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelVersionTransition]:
        return super().get_queryset(request).defer("model_version__model_text", "replaced__model_text")


# The library registers its own APIKey model, whose keys the API does not accept (it checks
# ApiClient keys): one kind of key in the admin, the one that works.
if admin.site.is_registered(APIKey):
    admin.site.unregister(APIKey)


@admin.register(ApiClient)
class ApiClientAdmin(TitledChangeList, APIKeyModelAdmin):
    """API keys of machine clients, with djangorestframework-api-key's admin: the key is shown
    once, when it is created (only its hash is stored). Ticking "revoked" refuses the key
    within SEARCHOP_API_KEY_CACHE_SECONDS; a revoked key cannot be edited again."""

    list_display = (*APIKeyModelAdmin.list_display, "requests_per_minute")
    list_filter = ("revoked", "created")
