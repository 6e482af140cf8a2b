"""Pipeline runs: one row per trigger of features -> train -> evaluate -> decide.

A trigger (the weekly schedule, the admin's "run now", ``run_pipeline``, the watchdog) adds
a ``queued`` run, or a ``skipped`` one that says why not; a worker claims the queued run
(``queued -> running`` in one conditional update), keeps its heartbeat fresh while it runs,
and closes it ``succeeded`` or ``failed``. The database holds the invariants:

* at most one run is queued or running (a conditional unique constraint), so two triggers,
  two beats or a click during the scheduled run never train two models over each other;
* each firing of the schedule (its slot: the schedule's name and the time it was due) has at
  most one run, so a second beat process, or beat's message delivered twice, adds nothing.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.conf import settings
from django.db import models
from django.db.models import Q, Value
from django.utils import timezone

# A running run whose heartbeat is older than this many beats lost its worker.
LOST_AFTER_BEATS = 4


class PipelineRun(models.Model):
    class Status(models.TextChoices):
        QUEUED = "queued", "queued"
        RUNNING = "running", "running"
        SUCCEEDED = "succeeded", "succeeded"
        FAILED = "failed", "failed"
        SKIPPED = "skipped", "skipped"

    ACTIVE = (Status.QUEUED, Status.RUNNING)

    class Trigger(models.TextChoices):
        SCHEDULE = "schedule", "weekly schedule"
        ADMIN = "admin", "admin: run now"
        CLI = "cli", "command line"

    status = models.CharField(max_length=16, choices=Status.choices, default=Status.QUEUED)
    trigger = models.CharField(max_length=16, choices=Trigger.choices, default=Trigger.CLI)
    actor = models.CharField(max_length=150, blank=True, default="")
    created_at = models.DateTimeField(default=timezone.now, help_text="When it was triggered.")
    started_at = models.DateTimeField(null=True, blank=True, help_text="When a worker claimed it.")
    heartbeat_at = models.DateTimeField(
        null=True, blank=True, help_text="The running worker's last sign of life; a stale one means it died."
    )
    finished_at = models.DateTimeField(null=True, blank=True)
    schedule_slot = models.CharField(
        max_length=80,
        null=True,
        blank=True,
        unique=True,
        help_text="For a scheduled run: the schedule and the time it was due (a retry adds #2, #3).",
    )
    reason = models.TextField(blank=True, default="", help_text="Why a trigger was skipped.")
    steps = models.JSONField(default=list, blank=True, help_text="[{step, seconds, info}] in order.")
    windows = models.JSONField(default=dict, blank=True)
    counts = models.JSONField(default=dict, blank=True)
    model_version = models.ForeignKey(
        "ranking.ModelVersion", null=True, blank=True, on_delete=models.SET_NULL, related_name="pipeline_runs"
    )
    decision = models.JSONField(default=dict, blank=True)
    error = models.TextField(blank=True, default="")

    class Meta:
        ordering = ["-created_at", "-id"]
        constraints = [
            models.UniqueConstraint(
                Value(True),
                condition=Q(status__in=["queued", "running"]),
                name="pipelinerun_one_active",
                violation_error_message="A pipeline run is already queued or running.",
            ),
            models.CheckConstraint(
                condition=Q(status__in=["queued", "running", "succeeded", "failed", "skipped"]),
                name="pipelinerun_status_known",
            ),
        ]

    def __str__(self) -> str:
        return f"pipeline run {self.pk} ({self.status})"

    @staticmethod
    def silent_since(now: datetime) -> datetime:
        """A running run whose last heartbeat is older than this has lost its worker."""
        return now - timedelta(seconds=LOST_AFTER_BEATS * settings.SEARCHOP_PIPELINE_HEARTBEAT_SECONDS)

    @property
    def seconds(self) -> float | None:
        if self.finished_at is None or self.started_at is None:
            return None
        return (self.finished_at - self.started_at).total_seconds()


class TrafficHour(models.Model):
    """One complete hour of traffic, rolled up by ``traffic_hours_roll_up`` so the dashboard's
    day and week read about 170 of these rows instead of scanning a week of searches and
    events (``training.dashboard``). Counts are exact; latency is a histogram on the fixed
    bins of ``training.dashboard.histogram``, so the percentiles of any hours come from the
    sum of theirs."""

    hour = models.DateTimeField(unique=True, help_text="The hour's start (UTC, on the hour).")
    searches = models.PositiveIntegerField(default=0)
    fallbacks = models.PositiveIntegerField(default=0)
    events = models.PositiveIntegerField(default=0)
    events_by_slot = models.JSONField(
        default=dict,
        blank=True,
        help_text='{"<position slot>": {"<event type>": count}}; slot 0: no position or past CTR_POSITIONS.',
    )
    latency_histogram = models.JSONField(
        default=dict,
        blank=True,
        help_text='{"<bin>": count} of the logged latencies (training.dashboard.histogram).',
    )
    computed_at = models.DateTimeField(help_text="When the hour was last counted.")

    class Meta:
        ordering = ["hour"]
        constraints = [
            models.CheckConstraint(
                condition=Q(fallbacks__lte=models.F("searches")), name="traffichour_fallbacks_le_searches"
            ),
        ]

    def __str__(self) -> str:
        return f"traffic of {self.hour:%Y-%m-%d %H}:00"
