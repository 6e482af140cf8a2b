"""A pipeline run's life held by the database (training.services.runs): claimed once, kept
alive by a heartbeat, and closed by whoever finds it lost, its undecided candidate rejected."""

from __future__ import annotations

import datetime as dt
import time

import pytest
from django.utils import timezone

from ranking.models import ModelStatus
from ranking.services import model_version_register
from tests.factories import contract_register_kwargs
from training.errors import PipelineRunLost
from training.models import PipelineRun
from training.services import (
    RunHeartbeat,
    pipeline_run_alive_check,
    pipeline_run_claim,
    pipeline_run_unsent_close,
    pipeline_runs_lost_close,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def beats(settings):
    settings.SEARCHOP_PIPELINE_HEARTBEAT_SECONDS = 30
    settings.SEARCHOP_PIPELINE_QUEUE_TIMEOUT_SECONDS = 1800


def ago(**delta) -> dt.datetime:
    return timezone.now() - dt.timedelta(**delta)


def test_a_queued_run_is_claimed_once_and_the_second_claim_gets_nothing():
    queued = PipelineRun.objects.create()

    first = pipeline_run_claim(run_id=queued.pk)
    second = pipeline_run_claim(run_id=queued.pk)

    assert first is not None
    assert (first.status, second) == (PipelineRun.Status.RUNNING, None)
    assert first.started_at == first.heartbeat_at


@pytest.mark.usefixtures("beats")
def test_a_run_silent_for_four_beats_is_closed_as_worker_lost_and_its_candidate_rejected():
    candidate = model_version_register(
        **contract_register_kwargs(seed=4), actor="pipeline:schedule", reason="t"
    )
    lost = PipelineRun.objects.create(
        status="running", heartbeat_at=ago(minutes=2, seconds=1), model_version=candidate
    )
    alive = PipelineRun.objects.create(status="succeeded", heartbeat_at=ago(hours=1))

    assert pipeline_runs_lost_close() == [lost.pk]

    lost.refresh_from_db()
    candidate.refresh_from_db()
    assert lost.status == PipelineRun.Status.FAILED
    assert lost.error.startswith("worker lost: no heartbeat since")
    assert candidate.status == ModelStatus.REJECTED
    rejection = candidate.transitions.order_by("-id").first()
    assert (rejection.actor, rejection.reason) == (
        "pipeline:watchdog",
        f"its pipeline run {lost.pk} lost its worker before deciding",
    )
    alive.refresh_from_db()
    assert alive.status == PipelineRun.Status.SUCCEEDED


@pytest.mark.usefixtures("beats")
def test_a_run_that_beat_within_four_beats_is_left_running():
    running = PipelineRun.objects.create(status="running", heartbeat_at=ago(minutes=1, seconds=50))

    assert pipeline_runs_lost_close() == []
    running.refresh_from_db()
    assert running.status == PipelineRun.Status.RUNNING


@pytest.mark.usefixtures("beats")
def test_a_run_queued_past_the_queue_timeout_is_closed_as_not_picked_up():
    stale = PipelineRun.objects.create(created_at=ago(minutes=31))
    waiting = PipelineRun.objects.create(status="succeeded", created_at=ago(minutes=5))

    assert pipeline_runs_lost_close() == [stale.pk]
    stale.refresh_from_db()
    assert (stale.status, stale.error.split(":")[0]) == ("failed", "not picked up")
    assert PipelineRun.objects.get(pk=waiting.pk).status == "succeeded"


def test_a_run_whose_message_could_not_be_sent_is_closed_and_blocks_nothing():
    queued = PipelineRun.objects.create()

    pipeline_run_unsent_close(run_id=queued.pk, error="the task queue is unreachable (refused)")

    queued.refresh_from_db()
    assert (queued.status, queued.error) == ("failed", "not sent: the task queue is unreachable (refused)")
    PipelineRun.objects.create()  # the next trigger is queued


def test_the_alive_check_beats_and_raises_once_the_run_was_closed():
    run = PipelineRun.objects.create(status="running", heartbeat_at=ago(minutes=1))

    pipeline_run_alive_check(run_id=run.pk)
    run.refresh_from_db()
    assert run.heartbeat_at > ago(seconds=5)

    PipelineRun.objects.filter(pk=run.pk).update(
        status="failed", error="worker lost: no heartbeat since 03:04"
    )
    with pytest.raises(PipelineRunLost, match="worker lost"):
        pipeline_run_alive_check(run_id=run.pk)


@pytest.mark.django_db(transaction=True)
def test_the_heartbeat_thread_keeps_a_busy_run_alive(settings):
    settings.SEARCHOP_PIPELINE_HEARTBEAT_SECONDS = 0.2
    run = PipelineRun.objects.create(status="running", heartbeat_at=ago(minutes=10))

    with RunHeartbeat(run.pk):
        time.sleep(0.7)  # one long step: the pipeline itself records nothing meanwhile

    run.refresh_from_db()
    assert run.heartbeat_at > ago(seconds=1)
    assert pipeline_runs_lost_close() == []
