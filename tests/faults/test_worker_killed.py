"""A worker killed (SIGKILL to its whole process group, as when a pod is evicted) right after
its pipeline run registered the new model: the run does not stay "running" for hours and the
model does not stay an undecided candidate. Beat's watchdog closes the run as failed
("worker lost") once its heartbeat is four beats old, rejects the candidate, and starts the
scheduled run again; the next worker runs it to the end, within minutes.

Heartbeat 1 s and watchdog every 2 s here (30 s and 60 s in production), so that the test
takes a minute or two and not ten.
"""

from __future__ import annotations

import datetime as dt
import time

import pytest
from celery.schedules import crontab
from django.conf import settings
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from catalog.services import synthetic_data_generate
from ranking.models import ModelStatus
from searchop_site.celery import app
from tests.faults.conftest import SMALL_SHOP
from tests.faults.support import CeleryProcess, until
from training.models import PipelineRun

RECOVERY_SECONDS = 240


def cron_day(moment: dt.datetime) -> str:
    return ("sun", "mon", "tue", "wed", "thu", "fri", "sat")[moment.isoweekday() % 7]


def schedule_env(due: dt.datetime) -> dict[str, str]:
    """The settings that make the weekly schedule fire at ``due``."""
    return {"SEARCHOP_PIPELINE_DAY": cron_day(due), "SEARCHOP_PIPELINE_TIME": f"{due:%H:%M}"}


def schedule_missed(due: dt.datetime) -> None:
    """The weekly schedule's row as beat keeps it, last run a week before ``due``: beat
    fires the missed firing as soon as it starts."""
    weekly = settings.CELERY_BEAT_SCHEDULE["weekly-pipeline"]
    schedule = crontab(minute=due.minute, hour=due.hour, day_of_week=cron_day(due))
    ModelEntry.from_entry("weekly-pipeline", app=app, task=weekly["task"], schedule=schedule)
    PeriodicTask.objects.filter(name="weekly-pipeline").update(
        last_run_at=due - dt.timedelta(days=7, minutes=1)
    )


@pytest.mark.django_db(transaction=True)
def test_a_worker_killed_after_registering_leaves_its_run_closed_its_candidate_rejected_and_a_retry_done(
    test_db_env, broker, celery_processes, tmp_path
):
    synthetic_data_generate(config=SMALL_SHOP)
    due = (timezone.now() - dt.timedelta(hours=1)).replace(second=0, microsecond=0)
    schedule_missed(due)
    env = test_db_env(
        broker,
        **schedule_env(due),
        SEARCHOP_PIPELINE_HEARTBEAT_SECONDS="1",
        SEARCHOP_PIPELINE_WATCHDOG_SECONDS="2",
    )
    first = CeleryProcess.worker(env, tmp_path / "worker-1.log")
    celery_processes.append(first)
    celery_processes.append(CeleryProcess.beat(env, tmp_path / "beat.log"))

    # 1. Beat fires the schedule; the worker claims the run and registers its model: kill it.
    registered = until(
        lambda: PipelineRun.objects.filter(status="running", model_version__isnull=False).first(),
        what=f"the scheduled run registers its model; worker said:\n{first.tail()}",
        timeout=180,
        every=0.02,
    )
    first.kill()
    killed_at = time.monotonic()
    assert registered.schedule_slot.startswith("weekly-pipeline@")

    # 2. The next worker: the watchdog closes the lost run and the retry runs to the end.
    second = CeleryProcess.worker(env, tmp_path / "worker-2.log")
    celery_processes.append(second)
    retry = until(
        lambda: PipelineRun.objects.filter(
            schedule_slot=f"{registered.schedule_slot}#2", status="succeeded"
        ).first(),
        what=f"the retry of the scheduled run succeeds; worker said:\n{second.tail()}",
        timeout=RECOVERY_SECONDS,
        every=0.5,
    )
    assert time.monotonic() - killed_at < RECOVERY_SECONDS

    lost = PipelineRun.objects.get(pk=registered.pk)
    assert lost.status == PipelineRun.Status.FAILED
    assert lost.error.startswith("worker lost: no heartbeat since")
    orphan = lost.model_version
    assert orphan.status == ModelStatus.REJECTED
    assert orphan.transitions.order_by("-id").first().reason == (
        f"its pipeline run {lost.pk} lost its worker before deciding"
    )
    assert retry.model_version.status in (ModelStatus.PRODUCTION, ModelStatus.REJECTED)  # decided
    assert not PipelineRun.objects.filter(status__in=PipelineRun.ACTIVE).exists()
