"""The pipeline's tasks and the one way a run is queued for them (training.tasks), run
in-process (eager) on a small generated shop."""

from __future__ import annotations

import pytest
from django.db import OperationalError
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from catalog.services import synthetic_data_generate
from catalog.synthetic import SyntheticConfig
from searchop_site.celery import app as celery_app
from training.models import PipelineRun
from training.tasks import (
    NOT_QUEUED,
    pipeline_run_enqueue,
    pipeline_run_task,
    pipeline_schedule_task,
    pipeline_watchdog_task,
)

pytestmark = pytest.mark.django_db

SMALL_SHOP = SyntheticConfig(products=120, categories=4, users=60, events=6_000, days=56, seed=3)


@pytest.fixture
def eager_tasks(settings):
    """Tasks run in the calling process (the Celery app reads the Django settings live)."""
    settings.CELERY_TASK_ALWAYS_EAGER = True
    assert celery_app.conf.task_always_eager


@pytest.fixture
def small_pipeline(settings):
    """56 days of a small shop: 14 days of features, 28 of training lists, 14 of evaluation
    (the default windows, pinned so that SEARCHOP_*_DAYS in the environment cannot move
    them). Fewer resamples and trees keep it quick; the decision logic is unchanged."""
    settings.SEARCHOP_WINDOWS = {"eval_days": 14, "train_days": 28, "validation_days": 5, "history_days": 14}
    settings.SEARCHOP_EVALUATION = {**settings.SEARCHOP_EVALUATION, "bootstrap_resamples": 50}
    settings.SEARCHOP_TRAINING = {**settings.SEARCHOP_TRAINING, "num_boost_round": 20}
    synthetic_data_generate(config=SMALL_SHOP)


@pytest.mark.usefixtures("eager_tasks", "small_pipeline")
def test_a_queued_run_is_run_by_the_task_which_returns_its_status_version_and_decision(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks(execute=True):
        queued = pipeline_run_enqueue(trigger="admin", actor="admin:alice")

    run = PipelineRun.objects.get()
    assert run.pk == queued.pk
    assert (run.status, run.trigger, run.actor) == ("succeeded", "admin", "admin:alice")
    assert run.decision["action"] in {"promoted", "rejected"}
    assert [step["step"] for step in run.steps][-1] == "Deciding"
    assert pipeline_run_task.apply(kwargs={"run_id": run.pk}).result == {"run": run.pk, "status": NOT_QUEUED}


@pytest.mark.usefixtures("eager_tasks")
def test_a_second_delivery_of_a_runs_message_does_nothing():
    running = PipelineRun.objects.create(status=PipelineRun.Status.RUNNING, heartbeat_at=timezone.now())

    result = pipeline_run_task.apply(kwargs={"run_id": running.pk})

    assert result.result == {"run": running.pk, "status": NOT_QUEUED}
    running.refresh_from_db()
    assert running.status == PipelineRun.Status.RUNNING


def test_a_trigger_while_a_run_is_queued_sends_nothing_and_is_recorded_as_skipped(
    django_capture_on_commit_callbacks,
):
    with django_capture_on_commit_callbacks() as callbacks:
        first = pipeline_run_enqueue(trigger="schedule", actor="beat")
        second = pipeline_run_enqueue(trigger="cli", actor="cli:async")

    assert len(callbacks) == 1  # one message, sent once the transaction commits, for the first
    assert (first.status, second.status) == ("queued", "skipped")
    assert second.reason.startswith(f"run {first.pk} is queued")


@pytest.mark.usefixtures("weekly_schedule")
def test_beats_trigger_delivered_twice_queues_the_slots_run_once(django_capture_on_commit_callbacks):
    with django_capture_on_commit_callbacks():
        first = pipeline_schedule_task.apply().result
        second = pipeline_schedule_task.apply().result

    queued = PipelineRun.objects.get(status=PipelineRun.Status.QUEUED)
    assert queued.schedule_slot.startswith("weekly-pipeline@")
    assert (first["run"], first["status"]) == (queued.pk, "queued")
    assert second["status"] == "skipped"
    assert second["reason"].startswith(f"run {queued.pk} is queued")


def test_the_watchdog_closes_lost_runs_and_reports_what_it_did(settings, weekly_schedule):
    settings.SEARCHOP_PIPELINE_HEARTBEAT_SECONDS = 30
    lost = PipelineRun.objects.create(
        status=PipelineRun.Status.RUNNING, heartbeat_at=timezone.now() - timezone.timedelta(minutes=5)
    )
    PeriodicTask.objects.filter(pk=weekly_schedule.pk).update(enabled=False)  # nothing to catch up

    assert pipeline_watchdog_task.apply().result == {"closed": [lost.pk], "started": None}
    lost.refresh_from_db()
    assert lost.status == PipelineRun.Status.FAILED


def test_the_run_task_is_acknowledged_late_so_a_message_a_dead_worker_took_is_delivered_again():
    assert pipeline_run_task.acks_late is True


def test_only_transient_database_errors_are_retried_three_times_with_backoff():
    for task in (pipeline_run_task, pipeline_schedule_task, pipeline_watchdog_task):
        assert task.autoretry_for == (OperationalError,)
        assert task.max_retries == 3
        assert task.retry_backoff
