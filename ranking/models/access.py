"""API keys for machine clients (a shop's search backend): hashed, revocable in the admin."""

from __future__ import annotations

from django.db import models
from rest_framework_api_key.models import AbstractAPIKey


class ApiClient(AbstractAPIKey):
    """An API key (stored hashed by djangorestframework-api-key) with its own rate limit."""

    requests_per_minute = models.PositiveIntegerField(
        null=True,
        blank=True,
        help_text="Throttle for this key; empty: SEARCHOP_DEFAULT_REQUESTS_PER_MINUTE.",
    )

    class Meta(AbstractAPIKey.Meta):
        verbose_name = "API client"
        verbose_name_plural = "API clients"
