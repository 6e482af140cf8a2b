"""The pipeline task, run in-process (eager) on a small generated shop."""

from __future__ import annotations

import logging

import pytest
from django.db import OperationalError

from catalog.services import synthetic_data_generate
from catalog.synthetic import SyntheticConfig
from ranking.models import FeatureSet
from searchop_site.celery import app as celery_app
from training.enqueue import pipeline_run_enqueue
from training.models import PipelineRun
from training.tasks import ALREADY_RUNNING, features_build_task, pipeline_run_task

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
    settings.SEARCHOP_WINDOWS = {"eval_days": 14, "train_days": 28, "validation_days": 5}
    settings.SEARCHOP_EVALUATION = {**settings.SEARCHOP_EVALUATION, "bootstrap_resamples": 50}
    settings.SEARCHOP_TRAINING = {**settings.SEARCHOP_TRAINING, "num_boost_round": 20}
    synthetic_data_generate(config=SMALL_SHOP)


@pytest.mark.usefixtures("eager_tasks", "small_pipeline")
def test_the_task_runs_the_pipeline_and_returns_the_runs_status_version_and_decision():
    result = pipeline_run_task.delay(trigger="schedule").get()

    run = PipelineRun.objects.get()
    assert result == {
        "run": run.pk,
        "status": "succeeded",
        "version": run.model_version.version,
        "decision": run.decision["action"],
    }
    assert (run.trigger, run.actor) == ("schedule", "celery:schedule")
    assert run.decision["action"] in {"promoted", "rejected"}
    assert [step["step"] for step in run.steps][-1] == "Deciding"


@pytest.mark.usefixtures("eager_tasks")
def test_a_second_run_while_one_is_running_returns_already_running_without_retrying():
    running = PipelineRun.objects.create(status=PipelineRun.Status.RUNNING, trigger="admin", actor="admin:a")

    result = pipeline_run_task.apply(kwargs={"trigger": "schedule"})

    assert result.state == "SUCCESS"
    assert result.result["status"] == ALREADY_RUNNING
    assert f"run {running.pk}" in result.result["detail"]
    assert list(PipelineRun.objects.values_list("pk", "status")) == [(running.pk, "running")]


def test_only_transient_database_errors_are_retried_three_times_with_backoff():
    assert pipeline_run_task.autoretry_for == (OperationalError,)
    assert pipeline_run_task.max_retries == 3
    assert pipeline_run_task.retry_backoff


def test_the_pipeline_task_is_acknowledged_on_receipt_so_redis_never_delivers_a_long_run_twice():
    assert pipeline_run_task.acks_late is False


@pytest.mark.usefixtures("eager_tasks")
def test_enqueueing_waits_for_the_transaction_to_commit(django_capture_on_commit_callbacks, caplog):
    PipelineRun.objects.create(status=PipelineRun.Status.RUNNING, trigger="cli", actor="cli")
    caplog.set_level(logging.INFO, logger="training.tasks")

    with django_capture_on_commit_callbacks(execute=True) as callbacks:
        pipeline_run_enqueue(trigger="admin", actor="admin:a")
        assert "not started" not in caplog.text  # nothing ran inside the transaction

    assert len(callbacks) == 1
    assert "Pipeline run not started (trigger admin)" in caplog.text
    assert PipelineRun.objects.count() == 1


@pytest.mark.usefixtures("eager_tasks")
def test_the_features_task_builds_a_feature_set_before_the_given_time(small_config):
    synthetic_data_generate(config=small_config)

    result = features_build_task.delay("2026-10-01T00:00:00+00:00", FeatureSet.Purpose.ADHOC).get()

    feature_set = FeatureSet.objects.get(pk=result["feature_set"])
    assert result["status"] == feature_set.status == FeatureSet.Status.READY
    assert feature_set.until.isoformat() == "2026-10-01T00:00:00+00:00"
