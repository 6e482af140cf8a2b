"""Pipeline runs: one row per run of features -> train -> evaluate -> decide.

At most one run is ``running`` at a time, enforced by the database (a conditional unique
constraint), so the weekly schedule, the admin's "run now" and a command line can never
train two models over each other.
"""

from __future__ import annotations

from django.db import models
from django.db.models import Q


class PipelineRun(models.Model):
    class Status(models.TextChoices):
        RUNNING = "running", "running"
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "weekly schedule"
        ADMIN = "admin", "admin: run now"
        CLI = "cli", "command line"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.RUNNING)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.CLI)
    actor = models.CharField(max_length=150, blank=True, default="")
    started_at = models.DateTimeField(auto_now_add=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    steps = models.JSONField(default=list, blank=True, help_text="[{step, seconds, info}] in order.")
    windows = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    model_version = models.ForeignKey(
        "ranking.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="pipeline_runs"
    )
    decision = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-started_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                fields=["status"],
                condition=Q(status="running"),
                name="pipelinerun_one_running",
                violation_error_message="A pipeline run is already running.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["running", "succeeded", "failed"]), name="pipelinerun_status_known"
            ),
        ]

    def __str__(self) -> str:
        return f"pipeline run {self.pk} ({self.status})"

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()
