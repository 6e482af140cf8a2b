"""The pipeline in the admin: every run with its steps, windows, counts and outcome (and
every skipped trigger with the reason), and a "Run the pipeline now" page.

Runs are read-only: they are written by the pipeline's services alone. "Run now" queues a
run the way the weekly schedule does (``pipeline_run_enqueue``) and needs the
``training.add_pipelinerun`` permission. It looks for a queued or running run first only to
give a helpful answer; the real guard is the database constraint the queueing meets, so two
clicks, two admins or a click during the scheduled run still start one run, and the other
trigger is listed as skipped.
"""

from __future__ import annotations

from typing import Any

from django.contrib import admin, messages
from django.core.exceptions import PermissionDenied
from django.db.models import QuerySet
from django.http import HttpRequest, HttpResponse, HttpResponseRedirect
from django.template.loader import render_to_string
from django.template.response import TemplateResponse
from django.urls import path, reverse
from django.utils import timezone
from django.utils.html import format_html
from django.utils.safestring import SafeString, mark_safe
from django_celery_beat.models import PeriodicTask
from kombu.exceptions import OperationalError as BrokerUnreachable

from catalog.admin import ReadOnlyPermissions, TitledChangeList
from ranking.admin.version_page import WINDOW_ORDER
from ranking.errors import RegistryError
from training.errors import PipelineError
from training.models import PipelineRun
from training.selectors import active_run_get
from training.tasks import pipeline_run_enqueue, pipeline_run_task

STATUS_COLOURS: dict[str, str] = {
    PipelineRun.Status.QUEUED: "#6a1b9a",
    PipelineRun.Status.RUNNING: "#1565c0",
    PipelineRun.Status.SUCCEEDED: "#2e7d32",
    PipelineRun.Status.FAILED: "#c62828",
    PipelineRun.Status.SKIPPED: "#757575",
}
TEMPLATES = "admin/training/pipelinerun"
SCHEDULE_NAME = "weekly-pipeline"  # the PeriodicTask seeded by training/migrations/0002

SUMMARY_FIELDS = (
    "status_coloured",
    "trigger",
    "actor",
    "schedule_slot",
    "created_at",
    "started_at",
    "heartbeat_at",
    "finished_at",
    "duration",
    "model_version_link",
    "decision_display",
)
DATA_FIELDS = ("windows_table", "counts_table")


def duration_text(seconds: float | None) -> str:
    if seconds is None:
        return "–"
    if seconds < 60:
        return f"{seconds:.1f} s"
    minutes, seconds = divmod(round(seconds), 60)
    if minutes < 60:
        return f"{minutes} min {seconds:02d} s"
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes:02d} min"


def value_text(value: Any) -> str:
    if value is None:
        return "–"
    if isinstance(value, bool):
        return "yes" if value else "no"
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:,.4g}"
    return str(value)


@admin.register(PipelineRun)
class PipelineRunAdmin(TitledChangeList, ReadOnlyPermissions, admin.ModelAdmin):
    list_display = (
        "run_label",
        "created_at",
        "trigger",
        "actor",
        "status_coloured",
        "duration",
        "model_version_link",
        "decision_action",
    )
    list_display_links = ("run_label",)
    list_filter = ("status", "trigger")
    list_select_related = ("model_version",)
    ordering = ("-created_at", "-id")

    # -- permissions: runs are written by the pipeline only -------------------------------------
    def has_run_permission(self, request: HttpRequest) -> bool:
        """May start a run now (the model's add permission: a run is a new row)."""
        opts = self.opts
        return request.user.has_perm(f"{opts.app_label}.add_{opts.model_name}")

    def get_queryset(self, request: HttpRequest) -> QuerySet[PipelineRun]:
        return (
            super()
            .get_queryset(request)
            .defer("model_version__model_text", "model_version__report", "model_version__feature_importance")
        )

    def get_fieldsets(self, request: HttpRequest, obj: PipelineRun | None = None) -> list:
        fieldsets: list = [
            (None, {"fields": SUMMARY_FIELDS}),
            ("Steps", {"fields": ("steps_table",)}),
            ("Windows and counts", {"fields": DATA_FIELDS}),
        ]
        if obj is not None and obj.error:
            fieldsets.insert(1, ("Error", {"fields": ("error_display",)}))
        if obj is not None and obj.reason:
            fieldsets.insert(1, ("Skipped", {"fields": ("reason",)}))
        return fieldsets

    def get_readonly_fields(self, request: HttpRequest, obj: PipelineRun | None = None) -> tuple:
        return (*SUMMARY_FIELDS, "steps_table", *DATA_FIELDS, "error_display", "reason")

    # -- list and detail columns -------------------------------------------------------------------
    @admin.display(description="run", ordering="id")
    def run_label(self, obj: PipelineRun) -> str:
        return f"run {obj.pk}"

    @admin.display(description="status", ordering="status")
    def status_coloured(self, obj: PipelineRun) -> SafeString:
        return format_html(
            '<strong style="color: {}">{}</strong>', STATUS_COLOURS.get(obj.status), obj.status
        )

    @admin.display(description="duration")
    def duration(self, obj: PipelineRun) -> str:
        if obj.status == PipelineRun.Status.RUNNING and obj.started_at is not None:
            return f"running for {duration_text((timezone.now() - obj.started_at).total_seconds())}"
        if obj.status == PipelineRun.Status.QUEUED:
            return f"queued for {duration_text((timezone.now() - obj.created_at).total_seconds())}"
        return duration_text(obj.seconds)

    @admin.display(description="model version", ordering="model_version__version")
    def model_version_link(self, obj: PipelineRun) -> SafeString | str:
        if obj.model_version is None:
            return "–"
        url = reverse(f"{self.admin_site.name}:ranking_modelversion_change", args=[obj.model_version.pk])
        return format_html(
            '<a href="{}">v{}</a> ({})', url, obj.model_version.version, obj.model_version.status
        )

    @admin.display(description="decision")
    def decision_action(self, obj: PipelineRun) -> SafeString | str:
        if obj.status == PipelineRun.Status.SKIPPED:
            return format_html('<span title="{}">skipped: {}</span>', obj.reason, obj.reason[:60])
        if not obj.decision.get("action"):
            return "–"
        return format_html(
            '<span title="{}">{}</span>', obj.decision.get("reason", ""), obj.decision["action"]
        )

    @admin.display(description="decision")
    def decision_display(self, obj: PipelineRun) -> str:
        if not obj.decision.get("action"):
            return "–"
        return f"{obj.decision['action']}: {obj.decision.get('reason', '')}".rstrip(": ")

    @admin.display(description="steps")
    def steps_table(self, obj: PipelineRun) -> SafeString:
        rows = [
            {
                "number": number,
                "step": step.get("step", ""),
                "seconds": step.get("seconds"),
                "info": [(key, value_text(value)) for key, value in (step.get("info") or {}).items()],
            }
            for number, step in enumerate(obj.steps, start=1)
        ]
        total = sum(row["seconds"] or 0 for row in rows)
        context = {"rows": rows, "total": total, "run": obj}
        # The template engine escaped every value; mark_safe keeps the admin from escaping twice.
        return mark_safe(render_to_string(f"{TEMPLATES}/includes/steps_table.html", context))

    @admin.display(description="time windows")
    def windows_table(self, obj: PipelineRun) -> SafeString:
        rows = []
        order = {name: index for index, name in enumerate(WINDOW_ORDER)}
        for name, value in sorted(obj.windows.items(), key=lambda item: order.get(item[0], len(order))):
            start, end = value if isinstance(value, list) else ("", value)
            rows.append({"name": name.replace("_", " "), "start": start, "end": end})
        return mark_safe(render_to_string(f"{TEMPLATES}/includes/windows_table.html", {"rows": rows}))

    @admin.display(description="counts")
    def counts_table(self, obj: PipelineRun) -> SafeString:
        rows = [
            {"name": name.replace("_", " "), "value": value_text(v)} for name, v in sorted(obj.counts.items())
        ]
        return mark_safe(render_to_string(f"{TEMPLATES}/includes/counts_table.html", {"rows": rows}))

    @admin.display(description="error")
    def error_display(self, obj: PipelineRun) -> SafeString:
        return format_html("<pre style='margin: 0; white-space: pre-wrap'>{}</pre>", obj.error or "–")

    # -- pages -------------------------------------------------------------------------------------
    def get_urls(self) -> list:
        view = self.admin_site.admin_view
        return [path("run/", view(self.run_view), name="training_pipelinerun_run"), *super().get_urls()]

    def changelist_view(self, request: HttpRequest, extra_context: dict | None = None) -> HttpResponse:
        return super().changelist_view(
            request, extra_context={**self._tools(request), **(extra_context or {})}
        )

    def change_view(
        self, request: HttpRequest, object_id: str, form_url: str = "", extra_context: dict | None = None
    ) -> HttpResponse:
        context = {**self._tools(request), **(extra_context or {})}
        return super().change_view(request, object_id, form_url, extra_context=context)

    def run_view(self, request: HttpRequest) -> HttpResponse:
        if not self.has_run_permission(request):
            raise PermissionDenied
        running = active_run_get()
        if request.method == "POST":
            self._run_now(request)
            return HttpResponseRedirect(reverse(f"{self.admin_site.name}:training_pipelinerun_changelist"))
        return TemplateResponse(
            request,
            f"{TEMPLATES}/run_confirmation.html",
            {
                **self.admin_site.each_context(request),
                "opts": self.opts,
                "title": "Run the pipeline now?",
                "running": running,
                "last": PipelineRun.objects.filter(
                    status__in=[PipelineRun.Status.SUCCEEDED, PipelineRun.Status.FAILED]
                ).first(),
                "in_process": self._in_process(),
                **self._tools(request),
            },
        )

    # -- helpers -----------------------------------------------------------------------------------
    def _run_now(self, request: HttpRequest) -> None:
        in_process = self._in_process()
        try:
            run = pipeline_run_enqueue(
                trigger=PipelineRun.Trigger.ADMIN, actor=f"admin:{request.user.get_username()}"
            )
        except BrokerUnreachable as error:
            self.message_user(
                request, f"Could not queue the run: the task queue is unreachable ({error}).", messages.ERROR
            )
        except (PipelineError, RegistryError) as error:
            # Only in-process: a worker's failure is recorded on its run, not raised here.
            self.message_user(request, f"The pipeline run failed: {error}", messages.ERROR)
        else:
            if run.status == PipelineRun.Status.SKIPPED:
                self.message_user(
                    request,
                    f"Nothing was queued: {run.reason}. The trigger is listed as skipped.",
                    messages.WARNING,
                )
            elif in_process:
                self.message_user(
                    request,
                    "The pipeline ran in this web process (no task queue is configured); its run is listed below.",
                    messages.SUCCESS,
                )
            else:
                self.message_user(
                    request,
                    f"Run {run.pk} was queued. It shows as running when a worker takes it.",
                    messages.SUCCESS,
                )

    def _tools(self, request: HttpRequest) -> dict[str, Any]:
        schedule = PeriodicTask.objects.filter(name=SCHEDULE_NAME).only("pk", "enabled").first()
        return {
            "may_run": self.has_run_permission(request),
            "schedule": schedule,
            "schedule_url": (
                reverse(f"{self.admin_site.name}:django_celery_beat_periodictask_change", args=[schedule.pk])
                if schedule and request.user.has_perm("django_celery_beat.view_periodictask")
                else ""
            ),
        }

    @staticmethod
    def _in_process() -> bool:
        return bool(pipeline_run_task.app.conf.task_always_eager)
