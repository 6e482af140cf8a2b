"""The landing page's status for staff: what serves, the pipeline's last and next run, the
running experiment. Reads only; a handful of indexed rows, never a model text."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from ranking.experiments.selectors import experiment_running_get
from ranking.models import Experiment, ModelStatus, ModelVersion
from ranking.serving.state import SERVING
from training.models import PipelineRun
from training.services.schedule import SCHEDULE_NAME


@dataclass(frozen=True)
class SiteStatus:
    production: ModelVersion | None  # without its model text
    serving: str  # what this web process serves, in words
    fallback: bool | None  # None: this process has not loaded a model yet
    last_run: PipelineRun | None  # the newest run that is not a skipped trigger
    next_run_at: datetime | None  # None: no enabled schedule
    schedule_note: str
    experiment: Experiment | None  # the running one


def site_status_get(*, now: datetime | None = None) -> SiteStatus:
    """The production version, this process's serving state (peeked: never loads a model),
    the last run, the schedule's next firing and the running experiment."""
    now = now or timezone.now()
    next_run_at, schedule_note = _schedule_next(now)
    serving, fallback = _serving()
    return SiteStatus(
        production=ModelVersion.objects.defer("model_text").filter(status=ModelStatus.PRODUCTION).first(),
        serving=serving,
        fallback=fallback,
        last_run=PipelineRun.objects.exclude(status=PipelineRun.Status.SKIPPED)
        .select_related("model_version")
        .defer("model_version__model_text", "model_version__report", "model_version__feature_importance")
        .order_by("-created_at", "-id")
        .first(),
        next_run_at=next_run_at,
        schedule_note=schedule_note,
        experiment=experiment_running_get(),
    )


def _serving() -> tuple[str, bool | None]:
    state = SERVING.peek()
    if state is None:
        return "this web process has not loaded a model yet (it does at its first ranking request)", None
    if state.fallback:
        return f"the BM25 fallback: {state.fallback_reason}", True
    return f"v{state.model_version}{' (compiled)' if state.compiled else ''}", False


def _schedule_next(now: datetime) -> tuple[datetime | None, str]:
    """The weekly schedule's next firing, read from the row beat uses (the admin may edit it)."""
    task = PeriodicTask.objects.select_related("crontab").filter(name=SCHEDULE_NAME).first()
    if task is None or task.crontab is None:
        return None, "no weekly schedule is set up"
    if not task.enabled:
        return None, "the weekly schedule is disabled"
    schedule = task.crontab.schedule
    due = now + schedule.remaining_estimate(now.astimezone(schedule.tz))
    # celery measures from its own clock a moment later: a crontab fires on the minute.
    return (due + timedelta(seconds=30)).replace(second=0, microsecond=0), f"crontab “{task.crontab}”"
