"""The control room: the model registry in the admin.

Everything here is read-only except through the registry services: the promote and rollback
pages and the promote/reject actions call the same functions as the pipeline and the
commands, so the audit trail records every change, whoever makes it. Operating the registry
needs the ``ranking.change_modelversion`` permission; viewing needs only the view permission.
"""

from __future__ import annotations

import csv
from typing import TYPE_CHECKING, cast

from django.contrib import admin, messages
from django.contrib.admin import helpers
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect, JsonResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe

from catalog.admin import ReadOnlyPermissions
from ranking.admin.compare import versions_compare_view
from ranking.admin.history_charts import history_charts_svg
from ranking.admin.operated import OperatedAdmin
from ranking.admin.tables import (
    HISTORY_GROUPS,
    ReasonForm,
    key_value_table,
    metric_cell,
    metric_csv_rows,
    metric_table,
    pretty_json,
    status_badge,
)
from ranking.admin.version_page import HOW_TO_READ, feature_importance_svg, report_sections_html
from ranking.errors import RegistryError
from ranking.models import ModelVersion, ModelVersionTransition
from ranking.reports import KeyMetrics, report_key_metrics
from ranking.selectors import (
    model_version_metric_history_get,
    model_version_production_get,
    model_version_production_periods_get,
    model_version_rollback_target_get,
)
from ranking.services import model_version_promote, model_version_reject, model_version_rollback

if TYPE_CHECKING:
    from django.contrib.auth.models import User

TEMPLATES = "admin/ranking/modelversion"

# The detail page; every field is read-only (the model text is shown as its sha and size).
SUMMARY_FIELDS = ("version", "status_coloured", "created_at", "decision_display", "notes")
PROVENANCE_FIELDS = (
    "hyperparameters_display",
    "feature_contract_display",
    "data_digest",
    "lightgbm_version",
    "code_version",
    "training_seconds",
)
MODEL_FIELDS = ("model_sha256", "num_trees", "model_size")


class ModelVersionTransitionInline(ReadOnlyPermissions, admin.TabularInline):
    model = ModelVersionTransition
    fk_name = "model_version"
    verbose_name = "audit record"
    verbose_name_plural = "audit trail"
    fields = ("created_at", "kind", "from_status", "to_status", "actor", "user", "reason", "replaced")
    readonly_fields = fields
    extra = 0
    can_delete = False

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelVersionTransition]:
        return super().get_queryset(request).select_related("user", "replaced")


@admin.register(ModelVersion)
class ModelVersionAdmin(OperatedAdmin):
    templates = TEMPLATES
    # Fits a 1,400 px window beside the navigation and the filter: the metric the decision
    # uses first; MRR, CTR@10, the trees and the sha are on the version page and the history.
    list_display = (
        "version_label",
        "status_coloured",
        "created_short",
        "debiased_ndcg",
        "ndcg",
        "ndcg_minus_bm25",
        "true_ndcg",
        "decision_action",
    )
    list_display_links = ("version_label",)
    list_filter = ("status",)
    ordering = ("-version",)
    actions = ("promote_selected", "reject_selected")
    inlines = (ModelVersionTransitionInline,)
    fieldsets = (
        (None, {"fields": SUMMARY_FIELDS}),
        ("Provenance", {"fields": PROVENANCE_FIELDS, "classes": ("collapse",)}),
        ("Model", {"fields": MODEL_FIELDS}),
    )
    readonly_fields = SUMMARY_FIELDS + PROVENANCE_FIELDS + MODEL_FIELDS

    def get_queryset(self, request: HttpRequest) -> QuerySet[ModelVersion]:
        # The model text can be megabytes; the contract and hyperparameters are read on the
        # version page only (one more query there, none per row of the list).
        return super().get_queryset(request).defer("model_text", "feature_contract", "hyperparameters")

    # -- list and detail columns ---------------------------------------------------------------
    @admin.display(description="version", ordering="version")
    def version_label(self, obj: ModelVersion) -> str:
        return f"v{obj.version}"

    @admin.display(description="status", ordering="status")
    def status_coloured(self, obj: ModelVersion) -> SafeString:
        return status_badge(obj.status)

    def _metrics(self, obj: ModelVersion) -> KeyMetrics:
        """Read once per row: the list's columns each ask for them."""
        metrics = obj.__dict__.get("_key_metrics")
        if metrics is None:
            metrics = obj.__dict__["_key_metrics"] = report_key_metrics(obj.report, obj.decision)
        return metrics

    @admin.display(description="created", ordering="created_at")
    def created_short(self, obj: ModelVersion) -> str:
        return f"{obj.created_at:%Y-%m-%d %H:%M}"

    @admin.display(description="debiased")
    def debiased_ndcg(self, obj: ModelVersion) -> str:
        return metric_cell(self._metrics(obj).debiased_model)

    @admin.display(description="true")
    def true_ndcg(self, obj: ModelVersion) -> str:
        return metric_cell(self._metrics(obj).truth_model)

    @admin.display(description="click")
    def ndcg(self, obj: ModelVersion) -> str:
        return metric_cell(self._metrics(obj).model.get("ndcg@10"))

    @admin.display(description="MRR")
    def mrr(self, obj: ModelVersion) -> str:
        return metric_cell(self._metrics(obj).model.get("mrr"))

    @admin.display(description="CTR@10")
    def ctr(self, obj: ModelVersion) -> str:
        return metric_cell(self._metrics(obj).model.get("ctr@10"))

    @admin.display(description="click − bm25")
    def ndcg_minus_bm25(self, obj: ModelVersion) -> str:
        metrics = self._metrics(obj)
        model, bm25 = metrics.model.get("ndcg@10"), metrics.baselines.get("bm25")
        return "–" if model is None or bm25 is None else f"{model - bm25:+.4f}"

    @admin.display(description="decision")
    def decision_action(self, obj: ModelVersion) -> SafeString | str:
        metrics = self._metrics(obj)
        if not metrics.decision_action:
            return "–"
        return format_html('<span title="{}">{}</span>', metrics.decision_reason, metrics.decision_action)

    @admin.display(description="decision")
    def decision_display(self, obj: ModelVersion) -> str:
        metrics = self._metrics(obj)
        if not metrics.decision_action:
            return "–"
        return f"{metrics.decision_action}: {metrics.decision_reason}".rstrip(": ")

    @admin.display(description="feature contract")
    def feature_contract_display(self, obj: ModelVersion) -> SafeString:
        return pretty_json(obj.feature_contract)

    @admin.display(description="hyperparameters")
    def hyperparameters_display(self, obj: ModelVersion) -> SafeString:
        return key_value_table(obj.hyperparameters)

    @admin.display(description="model text size")
    def model_size(self, obj: ModelVersion) -> str:
        return f"{len(obj.model_text.encode()):,} bytes"

    # -- pages ---------------------------------------------------------------------------------
    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path(
                "metric-history/", view(self.metric_history_view), name="ranking_modelversion_metric_history"
            ),
            path("rollback/", view(self.rollback_view), name="ranking_modelversion_rollback"),
            path("compare/", view(self.compare_view), name="ranking_modelversion_compare"),
            path("<path:object_id>/promote/", view(self.promote_view), name="ranking_modelversion_promote"),
            path(
                "<path:object_id>/report.json",
                view(self.report_json_view),
                name="ranking_modelversion_report_json",
            ),
            *super().get_urls(),
        ]

    def metric_history_view(self, request: HttpRequest) -> HttpResponse:
        """The charts and the table; ``?format=csv`` downloads every column as CSV."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        history = model_version_metric_history_get()
        if request.GET.get("format") == "csv":
            response = HttpResponse(content_type="text/csv; charset=utf-8")
            response["Content-Disposition"] = 'attachment; filename="searchop-metric-history.csv"'
            csv.writer(response).writerows(metric_csv_rows(history))
            return response
        charts = history_charts_svg(history, model_version_production_periods_get(), now=timezone.now())
        return self._render(
            request,
            "metric_history.html",
            title="Metric history",
            # Built from numbers by ranking.charts, every text escaped there.
            charts=[mark_safe(chart) for chart in charts],
            table=metric_table(history, admin_site_name=self.admin_site.name, groups=HISTORY_GROUPS),
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        """The fields, then the report as sections and the feature importance at full width."""
        obj = self.get_object(request, unquote(object_id))
        context = dict(extra_context or {})
        if obj is not None:
            raw_url = reverse(f"{self.admin_site.name}:ranking_modelversion_report_json", args=[obj.pk])
            context.update(
                how_to_read=HOW_TO_READ,
                report_sections=report_sections_html(obj, raw_url=raw_url),
                feature_importance_chart=feature_importance_svg(obj),
            )
        return super().change_view(request, object_id, form_url, extra_context=context)

    def report_json_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        """The full report as stored, as JSON the browser shows (``?download=1`` saves it)."""
        obj = self.get_object(request, unquote(object_id))
        if obj is None or not self.has_view_permission(request, obj):
            raise PermissionDenied
        response = JsonResponse(obj.report, json_dumps_params={"indent": 2, "sort_keys": True})
        if request.GET.get("download"):
            response["Content-Disposition"] = f'attachment; filename="searchop-v{obj.version}-report.json"'
        return response

    def compare_view(self, request: HttpRequest) -> HttpResponse:
        return versions_compare_view(self, request)

    def promote_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_operate_permission(request):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None:
            self.message_user(request, f"There is no model version with id {object_id}.", messages.WARNING)
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:ranking_modelversion_changelist"))
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                model_version_promote(
                    version=obj.version,
                    user=self._operator(request),
                    actor=self._actor(request),
                    reason=form.cleaned_data["reason"],
                )
            except RegistryError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, self._promotion_message(obj.version), messages.SUCCESS)
            return self._redirect_to(obj)
        production = model_version_production_get()
        compared = [obj] if production is None or production.pk == obj.pk else [obj, production]
        return self._render(
            request,
            "promote_confirmation.html",
            title=f"Promote v{obj.version} to production?",
            original=obj,
            production=production,
            form=form,
            table=metric_table(compared, admin_site_name=self.admin_site.name),
        )

    def rollback_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_operate_permission(request):
            raise PermissionDenied
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                restored = model_version_rollback(
                    user=self._operator(request),
                    actor=self._actor(request),
                    reason=form.cleaned_data["reason"],
                )
            except RegistryError as error:
                self.message_user(request, str(error), messages.ERROR)
                return HttpResponseRedirect(
                    reverse(f"{self.admin_site.name}:ranking_modelversion_changelist")
                )
            self.message_user(request, self._promotion_message(restored.version), messages.SUCCESS)
            return self._redirect_to(restored)
        production = model_version_production_get()
        target = model_version_rollback_target_get()
        compared = [item for item in (production, target) if item is not None]
        return self._render(
            request,
            "rollback_confirmation.html",
            title="Roll back the production model?",
            production=production,
            target=target,
            form=form,
            table=metric_table(compared, admin_site_name=self.admin_site.name),
        )

    # -- actions -------------------------------------------------------------------------------
    @admin.action(description="Promote the selected version to production…", permissions=["operate"])
    def promote_selected(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> HttpResponse | None:
        selected = list(queryset[:2])
        if len(selected) != 1:
            self.message_user(request, "Select exactly one version to promote.", messages.WARNING)
            return None
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:ranking_modelversion_promote", args=[selected[0].pk])
        )

    @admin.action(description="Reject the selected versions…", permissions=["operate"])
    def reject_selected(self, request: HttpRequest, queryset: QuerySet[ModelVersion]) -> HttpResponse | None:
        form = ReasonForm(request.POST if "confirm" in request.POST else None)
        if form.is_valid():
            rejected, failures = [], []
            for model_version in queryset.order_by("version"):
                try:
                    model_version_reject(
                        version=model_version.version,
                        user=self._operator(request),
                        actor=self._actor(request),
                        reason=form.cleaned_data["reason"],
                    )
                    rejected.append(f"v{model_version.version}")
                except RegistryError as error:
                    failures.append(str(error))
            if rejected:
                self.message_user(
                    request, f"Rejected {len(rejected)} version(s): {', '.join(rejected)}.", messages.SUCCESS
                )
            for failure in failures:
                self.message_user(request, failure, messages.ERROR)
            return None
        return self._render(
            request,
            "reject_confirmation.html",
            title="Reject the selected versions?",
            queryset=queryset.order_by("version"),
            form=form,
            action_checkbox_name=helpers.ACTION_CHECKBOX_NAME,
        )

    # -- helpers -------------------------------------------------------------------------------
    def _redirect_to(self, obj: ModelVersion) -> HttpResponseRedirect:
        return HttpResponseRedirect(
            reverse(f"{self.admin_site.name}:ranking_modelversion_change", args=[obj.pk])
        )

    @staticmethod
    def _operator(request: HttpRequest) -> User:
        # admin_view() lets only authenticated staff through, so this is never AnonymousUser.
        return cast("User", request.user)

    @staticmethod
    def _actor(request: HttpRequest) -> str:
        return f"admin:{request.user.get_username()}"

    @staticmethod
    def _promotion_message(version: int) -> str:
        promotion = ModelVersionTransition.objects.filter(
            model_version__version=version, kind="promote"
        ).last()
        replaced = f" v{promotion.replaced.version} is archived." if promotion and promotion.replaced else ""
        return f"v{version} is now in production.{replaced}"
