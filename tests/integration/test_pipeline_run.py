"""The training pipeline's services and commands on small generated data: ``pipeline_run``
and its claim, ``run_pipeline --json``, ``train_model``, ``evaluate_model``.

These check the plumbing (records, shapes, guards), not the metrics: the model layer
(tests/model) gates those on the default data with the default settings. Here training
runs 20 rounds and the bootstrap 100 resamples, so each run costs seconds.
"""

from __future__ import annotations

import datetime as dt
import io
import json
import threading
import time

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from catalog.selectors import event_latest_timestamp_get
from catalog.services import synthetic_data_generate
from ranking.models import FeatureSet, ModelStatus, ModelVersion, TransitionKind
from ranking.rankers import RANKER_NAMES as RANKERS
from ranking.services import model_version_promote, model_version_register
from training.models import PipelineRun
from training.services import (
    PipelineAlreadyRunning,
    PipelineError,
    model_train,
    pipeline_run,
    pipeline_run_request,
)

pytestmark = pytest.mark.django_db

ISSUE_KEYS = {
    "version",
    "decision",
    "windows",
    "counts",
    "metrics",
    "debiased",
    "truth",
    "intervals",
    "segments",
}
COUNT_KEYS = {"train_lists", "eval_lists", "eval_lists_with_click", "randomised_lists"}


@pytest.fixture
def quick(settings):
    settings.SEARCHOP_TRAINING = {**settings.SEARCHOP_TRAINING, "num_boost_round": 20}
    settings.SEARCHOP_EVALUATION = {**settings.SEARCHOP_EVALUATION, "bootstrap_resamples": 100}


@pytest.fixture
def shop(small_config, quick):
    return synthetic_data_generate(config=small_config)


def command_json(name: str, *args: str) -> dict:
    out = io.StringIO()
    call_command(name, *args, "--json", stdout=out)
    return json.loads(out.getvalue())  # fails unless the output is exactly one JSON value


# --- run_pipeline --------------------------------------------------------------------------


def test_run_pipeline_json_prints_one_object_shaped_like_the_issues_example(shop):
    report = command_json("run_pipeline")

    assert set(report) >= ISSUE_KEYS
    assert report["version"] == 1
    assert report["decision"]["action"] in ("promoted", "rejected")
    assert report["decision"]["reason"]
    assert set(report["windows"]) >= {"features_until", "train", "eval"}
    assert len(report["windows"]["train"]) == len(report["windows"]["eval"]) == 2
    assert report["windows"]["train"][0] == report["windows"]["features_until"]
    assert report["windows"]["train"][1] == report["windows"]["eval"][0]
    assert set(report["counts"]) >= COUNT_KEYS
    assert all(report["counts"][key] > 0 for key in COUNT_KEYS)
    # The shop's 56 days hold the 14-day history before T1 (56 = 14 + 28 + 14), less the hours
    # of its first night before its first event.
    assert 13.0 < report["counts"]["features_train_history_days"] <= 14.0
    assert set(report["metrics"]) == set(RANKERS)
    for section in ("metrics", "debiased", "truth"):
        assert report[section]["production"] is None, section  # the first model has no production
    for name in RANKERS:
        if name != "production":
            assert set(report["metrics"][name]) == {"ndcg@10", "mrr", "ctr@10"}, name
            assert report["debiased"][name]["ndcg@10"] is not None, name
            assert report["truth"][name]["ndcg@10"] is not None, name
    assert set(report["intervals"]) == {
        "model-bm25",
        "model-popularity",
        "model-logging",
        "model-random",
        "model-oracle",
    }
    assert len(report["intervals"]["model-bm25"]["ndcg@10"]) == 2
    assert set(report["segments"]) == {"head", "torso", "tail"}


def test_a_pipeline_run_records_its_steps_timings_version_decision_and_serving_features(shop):
    run, report = pipeline_run(trigger="admin", actor="admin:alice")

    assert run.status == PipelineRun.Status.SUCCEEDED
    assert run.trigger == "admin"
    assert run.actor == "admin:alice"
    assert run.error == ""
    assert run.seconds > 0
    steps = [step["step"] for step in run.steps]
    assert any(step.startswith("Training LambdaMART with position-bias") for step in steps)
    assert steps[-2:] == ["Building serving features from all events", "Deciding"]
    assert all(step["seconds"] >= 0 for step in run.steps)
    assert run.windows == report["windows"]
    assert run.counts["train_lists"] == report["counts"]["train_lists"]

    version = run.model_version
    assert version.version == report["version"]
    assert version.report["decision"] == version.decision == run.decision == report["decision"]
    assert version.report["metrics"] == report["metrics"]
    assert version.data_digest
    expected = ModelStatus.PRODUCTION if run.decision["action"] == "promoted" else ModelStatus.REJECTED
    assert version.status == expected
    kinds = list(version.transitions.order_by("id").values_list("kind", "reason"))
    assert kinds[0][0] == TransitionKind.REGISTER
    assert kinds[-1] == (
        TransitionKind.PROMOTE if expected == ModelStatus.PRODUCTION else TransitionKind.REJECT,
        run.decision["reason"],
    )

    serving = FeatureSet.objects.get(pk=report["feature_sets"]["serving"])
    assert serving.purpose == FeatureSet.Purpose.SERVING
    assert serving.status == FeatureSet.Status.READY
    assert serving.until > event_latest_timestamp_get()
    used = FeatureSet.objects.filter(pk__in=[report["feature_sets"]["train"], report["feature_sets"]["eval"]])
    assert sorted(used.values_list("purpose", flat=True)) == ["eval", "train"]


def test_a_run_that_fails_is_marked_failed_with_its_error(quick):
    with pytest.raises(PipelineError, match="no events"):
        pipeline_run()
    run = PipelineRun.objects.get()
    assert run.status == PipelineRun.Status.FAILED
    assert "There are no events yet" in run.error
    assert run.finished_at is not None
    assert not ModelVersion.objects.exists()


def test_run_pipeline_refuses_to_start_while_another_run_is_running(quick):
    running = PipelineRun.objects.create(
        status=PipelineRun.Status.RUNNING, trigger="schedule", heartbeat_at=timezone.now()
    )
    with pytest.raises(CommandError, match=rf"Not started: run {running.pk} is running"):
        call_command("run_pipeline", "--json", stdout=io.StringIO())
    assert PipelineRun.objects.filter(status=PipelineRun.Status.SKIPPED, trigger="cli").count() == 1


def test_run_pipeline_async_queues_a_run_for_a_worker_through_the_same_path(
    settings, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    out = io.StringIO()

    # The message is captured, not sent: nothing reaches the shared Redis.
    with django_capture_on_commit_callbacks() as callbacks:
        call_command("run_pipeline", "--async", stdout=out)

    run = PipelineRun.objects.get()
    assert (run.status, run.trigger, run.actor) == ("queued", "cli", "cli:async")
    assert len(callbacks) == 1
    assert out.getvalue().strip() == f"Pipeline run {run.pk} queued."


def test_run_pipeline_async_during_a_run_queues_nothing_and_says_why(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = False
    running = PipelineRun.objects.create(status=PipelineRun.Status.RUNNING, heartbeat_at=timezone.now())

    with pytest.raises(CommandError, match=rf"Not queued: run {running.pk} is running"):
        call_command("run_pipeline", "--async", stdout=io.StringIO())

    assert PipelineRun.objects.filter(status=PipelineRun.Status.SKIPPED, actor="cli:async").count() == 1


# --- the run's claim -------------------------------------------------------------------------


def test_the_database_refuses_a_second_queued_or_running_run():
    PipelineRun.objects.create(status=PipelineRun.Status.RUNNING)
    for status in (PipelineRun.Status.RUNNING, PipelineRun.Status.QUEUED):
        with pytest.raises(IntegrityError), transaction.atomic():
            PipelineRun.objects.create(status=status)
    PipelineRun.objects.create(status=PipelineRun.Status.SUCCEEDED)  # finished runs are not limited
    PipelineRun.objects.create(status=PipelineRun.Status.SKIPPED)


def test_a_run_requested_while_one_is_running_is_refused_naming_it_and_recorded_as_skipped(quick):
    running = pipeline_run_request(trigger="schedule", actor="beat")
    with pytest.raises(PipelineAlreadyRunning, match=rf"run {running.pk} is queued"):
        pipeline_run(trigger="cli", actor="cli")
    assert list(PipelineRun.objects.order_by("id").values_list("status", "trigger")) == [
        ("queued", "schedule"),
        ("skipped", "cli"),
    ]


@pytest.mark.django_db(transaction=True)
def test_of_two_overlapping_requests_one_is_queued_and_the_other_skipped():
    # The first request's transaction stays open until the second is waiting on the unique
    # index: the database, not a check in Python, decides between them.
    claimed, release = threading.Event(), threading.Event()
    outcomes: dict[str, PipelineRun] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                outcomes["first"] = pipeline_run_request(trigger="schedule", actor="beat")
                claimed.set()
                release.wait(30)
        finally:
            connection.close()

    def second() -> None:
        try:
            outcomes["second"] = pipeline_run_request(trigger="admin", actor="admin:bob")
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert claimed.wait(30)
    threads[1].start()
    deadline = time.monotonic() + 30
    while not _waiting_on_a_lock() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _waiting_on_a_lock(), "the second request never waited for the first"
    release.set()
    for thread in threads:
        thread.join(30)

    assert (outcomes["first"].status, outcomes["second"].status) == ("queued", "skipped")
    assert outcomes["second"].reason.startswith(f"run {outcomes['first'].pk} is queued")


def _waiting_on_a_lock() -> bool:
    """Whether a session of this test database waits for a lock (other databases' tests too
    run on this server)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE NOT l.granted AND a.datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


def test_a_run_whose_worker_was_lost_is_closed_by_the_next_request(settings):
    settings.SEARCHOP_PIPELINE_HEARTBEAT_SECONDS = 30
    lost = PipelineRun.objects.create(
        status=PipelineRun.Status.RUNNING, heartbeat_at=timezone.now() - dt.timedelta(minutes=3)
    )

    fresh = pipeline_run_request(trigger="cli", actor="cli")

    lost.refresh_from_db()
    assert lost.status == PipelineRun.Status.FAILED
    assert lost.error.startswith("worker lost: no heartbeat since")
    assert lost.finished_at is not None
    assert fresh.status == PipelineRun.Status.QUEUED


# --- train_model and evaluate_model --------------------------------------------------------


def test_train_model_registers_a_candidate_and_promotes_nothing(shop):
    report = command_json("train_model")

    version = ModelVersion.objects.get()
    assert report["version"] == version.version == 1
    assert version.status == ModelStatus.CANDIDATE
    assert not ModelVersion.objects.filter(status=ModelStatus.PRODUCTION).exists()
    assert list(version.transitions.values_list("kind", flat=True)) == [TransitionKind.REGISTER]
    assert version.report["metrics"]["model"] == report["metrics"]["model"]
    assert version.report["training"]["num_trees"] == version.num_trees == 20
    assert set(version.report["variants"]) == {"position_bias", "no_position_bias", "chosen"}
    assert "decision" not in report
    assert not PipelineRun.objects.exists()


def test_evaluate_model_json_reports_a_version_beside_production_and_production_alone_by_default(shop):
    first = model_train().version
    model_version_promote(version=first.version, actor="test", reason="a production model to compare with")
    # A second version with the same model: its metrics must equal production's, row for row.
    second = model_version_register(
        model_text=first.model_text,
        feature_contract=first.feature_contract,
        hyperparameters=first.hyperparameters,
        windows=first.windows,
        counts=first.counts,
        data_digest=first.data_digest,
        training_seconds=first.training_seconds,
        actor="test",
        reason="the same model again",
    )

    report = command_json("evaluate_model", "--version", str(second.version))

    assert report["version"] == second.version
    assert report["production_version"] == first.version
    assert report["metrics"]["production"] == report["metrics"]["model"]
    assert set(report["metrics"]) == set(RANKERS)
    assert "model-production" in report["intervals"]
    assert set(report["windows"]) >= {"features_until", "train", "eval"}
    first.refresh_from_db()
    second.refresh_from_db()
    assert (first.status, second.status) == (ModelStatus.PRODUCTION, ModelStatus.CANDIDATE)

    # Without --version it evaluates production, and does not compare it with itself.
    production = command_json("evaluate_model")
    assert production["version"] == first.version
    assert production["metrics"]["production"] is None
    assert "model-production" not in production["intervals"]
    assert production["metrics"]["model"] == report["metrics"]["model"]


def test_evaluate_model_without_a_production_model_asks_for_a_version(quick):
    with pytest.raises(CommandError, match="--version"):
        call_command("evaluate_model", "--json", stdout=io.StringIO())
