"""Online experiments in the admin: every experiment, the running one with its live counts and
result so far, starting one (from a model version's page) and stopping it.

Read-only except through the experiment services, behind the same permission as promoting a
model (``ranking.change_modelversion``): an experiment can promote, reject and roll back.
"""

from __future__ import annotations

from typing import Any

from django import forms
from django.contrib import admin, messages
from django.contrib.admin.utils import unquote
from django.core.exceptions import PermissionDenied
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.urls import path, reverse
from django.utils.safestring import SafeString

from ranking.admin.experiment_tables import report_sections
from ranking.admin.operated import OperatedAdmin
from ranking.admin.tables import ReasonForm, pretty_json
from ranking.errors import ExperimentError
from ranking.experiments.reports import experiment_report_build
from ranking.experiments.selectors import experiment_queryset, experiment_running_get
from ranking.experiments.services import experiment_launch, experiment_stop
from ranking.models import Experiment, ExperimentKind, ExperimentStatus


class ExperimentStartForm(forms.Form):
    kind = forms.ChoiceField(choices=ExperimentKind.choices, initial=ExperimentKind.INTERLEAVING)
    challenger = forms.CharField(max_length=32, help_text="vN, or bm25, popularity, random, input.")
    control = forms.CharField(max_length=32, initial="production", help_text="production, vN or a baseline.")
    traffic = forms.FloatField(
        initial=0.1, help_text="Share of searches (A/B: the challenger's share), in (0, 1]."
    )
    stages = forms.CharField(required=False, help_text="A/B canary stages, e.g. 0.05,0.25,0.5 (optional).")
    min_searches = forms.IntegerField(required=False, min_value=0, help_text="Default from the settings.")
    max_searches = forms.IntegerField(required=False, min_value=1, help_text="Default from the settings.")
    max_days = forms.FloatField(required=False, help_text="Default from the settings.")

    def clean_stages(self) -> list[float]:
        text = self.cleaned_data["stages"].strip()
        try:
            return [float(part) for part in text.split(",")] if text else []
        except ValueError:
            raise forms.ValidationError("comma-separated shares, such as 0.05,0.25,0.5") from None


@admin.register(Experiment)
class ExperimentAdmin(OperatedAdmin):
    templates = "admin/ranking/experiment"
    list_display = (
        "id",
        "kind",
        "purpose",
        "status",
        "challenger_label",
        "control_label",
        "traffic_share",
        "started",
        "decision",
    )
    list_filter = ("status", "kind", "purpose", "decision")
    ordering = ("-id",)
    fields = (
        ("kind", "purpose", "status"),
        ("challenger_label", "control_label", "traffic_share"),
        ("started_at", "stopped_at", "stopped_by"),
        "stop_reason",
        "limits",
        "guardrails_display",
        "report_display",
    )
    readonly_fields = tuple(name for line in fields for name in ((line,) if isinstance(line, str) else line))

    def get_queryset(self, request: HttpRequest):
        return experiment_queryset()

    @admin.display(description="challenger")
    def challenger_label(self, obj: Experiment) -> str:
        return obj.challenger_label

    @admin.display(description="control")
    def control_label(self, obj: Experiment) -> str:
        return obj.control_label

    @admin.display(description="started", ordering="started_at")
    def started(self, obj: Experiment) -> str:
        return f"{obj.started_at:%Y-%m-%d %H:%M}" if obj.started_at else "–"

    @admin.display(description="traffic", ordering="traffic")
    def traffic_share(self, obj: Experiment) -> str:
        stages = f" (stages {', '.join(f'{s:.0%}' for s in obj.stages)})" if obj.stages else ""
        return f"{obj.traffic:.0%}{stages}"

    @admin.display(description="limits")
    def limits(self, obj: Experiment) -> str:
        return f"{obj.min_searches:,} to {obj.max_searches or 0:,} searches, at most {obj.max_days:g} days"

    @admin.display(description="rules")
    def guardrails_display(self, obj: Experiment) -> SafeString:
        return pretty_json(obj.guardrails)

    @admin.display(description="raw report")
    def report_display(self, obj: Experiment) -> SafeString:
        return pretty_json(obj.result)

    # -- pages ---------------------------------------------------------------------------------
    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [
            path("running/", view(self.running_view), name="ranking_experiment_running"),
            path("start/", view(self.start_view), name="ranking_experiment_start"),
            path("<path:object_id>/stop/", view(self.stop_view), name="ranking_experiment_stop"),
            *super().get_urls(),
        ]

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        obj = self.get_object(request, unquote(object_id))
        context = {**(self._report_context(obj) if obj is not None else {}), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context=context)

    def running_view(self, request: HttpRequest) -> HttpResponse:
        """The running experiment's live page, or a note that none runs."""
        if not self.has_view_permission(request):
            raise PermissionDenied
        running = experiment_running_get()
        if running is None:
            return self._render(request, "running.html", title="No experiment is running", experiment=None)
        return self._render(
            request,
            "running.html",
            title=f"Running: {running}",
            may_operate=self.has_operate_permission(request),
            **self._report_context(running),
        )

    def start_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_operate_permission(request):
            raise PermissionDenied
        initial = {"challenger": request.GET.get("challenger", "")}
        form = ExperimentStartForm(request.POST or None, initial=initial)
        if request.method == "POST" and form.is_valid():
            fields = {k: v for k, v in form.cleaned_data.items() if v is not None}
            try:
                experiment = experiment_launch(
                    actor=f"admin:{request.user.get_username()}", user=request.user, **fields
                )
            except ExperimentError as error:
                form.add_error(None, str(error))
            else:
                self.message_user(request, f"Started {experiment}.", messages.SUCCESS)
                return HttpResponseRedirect(reverse(f"{self.admin_site.name}:ranking_experiment_running"))
        return self._render(
            request,
            "start_form.html",
            title="Start an experiment",
            form=form,
            running=experiment_running_get(),
        )

    def stop_view(self, request: HttpRequest, object_id: str) -> HttpResponse:
        if not self.has_operate_permission(request):
            raise PermissionDenied
        obj = self.get_object(request, unquote(object_id))
        if obj is None or obj.status != ExperimentStatus.RUNNING:
            self.message_user(request, f"Experiment {object_id} is not running.", messages.WARNING)
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:ranking_experiment_changelist"))
        form = ReasonForm(request.POST or None)
        if request.method == "POST" and form.is_valid():
            try:
                experiment_stop(
                    experiment_id=obj.pk,
                    reason=form.cleaned_data["reason"],
                    actor=f"admin:{request.user.get_username()}",
                    user=request.user,
                )
            except ExperimentError as error:
                self.message_user(request, str(error), messages.ERROR)
            else:
                self.message_user(request, f"Stopped experiment {obj.pk}.", messages.SUCCESS)
            return HttpResponseRedirect(
                reverse(f"{self.admin_site.name}:ranking_experiment_change", args=[obj.pk])
            )
        return self._render(
            request, "stop_confirmation.html", title=f"Stop experiment {obj.pk}?", original=obj, form=form
        )

    # -- helpers -------------------------------------------------------------------------------
    def _report_context(self, experiment: Experiment) -> dict[str, Any]:
        """Running: the report now. Ended: the numbers it was decided on, if it was."""
        live = experiment.status == ExperimentStatus.RUNNING or not experiment.result
        report = experiment_report_build(experiment) if live else experiment.result
        return {"experiment": experiment, "sections": report_sections(report), "live": live}
