"""The base of the control room's model admins: read-only rows, changed only through pages of
their own that call the services, open to people with the operate permission (the registry's
change permission: promote, roll back, and start or stop an experiment, which can do both)."""

from __future__ import annotations

from typing import Any

from django.contrib import admin
from django.http import HttpRequest, HttpResponse
from django.template.response import TemplateResponse

from catalog.admin import ReadOnlyPermissions, TitledChangeList

OPERATE_PERMISSION = "ranking.change_modelversion"


class OperatedAdmin(TitledChangeList, ReadOnlyPermissions, admin.ModelAdmin):
    templates = ""  # the folder of the admin's own page templates

    def has_operate_permission(self, request: HttpRequest) -> bool:
        """May promote, roll back, reject, start and stop experiments."""
        return request.user.has_perm(OPERATE_PERMISSION)

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        context = {"may_operate": self.has_operate_permission(request), **(extra_context or {})}
        return super().changelist_view(request, extra_context=context)

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        context = {"may_operate": self.has_operate_permission(request), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context=context)

    def _render(self, request: HttpRequest, template: str, **context: Any) -> TemplateResponse:
        return TemplateResponse(
            request,
            f"{self.templates}/{template}",
            {**self.admin_site.each_context(request), "opts": self.opts, **context},
        )
