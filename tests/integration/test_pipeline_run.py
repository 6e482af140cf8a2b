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
    pipeline_run_claim,
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
    PipelineRun.objects.create(status=PipelineRun.Status.RUNNING, trigger="schedule")
    with pytest.raises(CommandError, match="already running"):
        call_command("run_pipeline", "--json", stdout=io.StringIO())
    assert PipelineRun.objects.count() == 1


# --- the claim -----------------------------------------------------------------------------


def test_the_database_refuses_a_second_running_run():
    PipelineRun.objects.create(status=PipelineRun.Status.RUNNING)
    with pytest.raises(IntegrityError), transaction.atomic():
        PipelineRun.objects.create(status=PipelineRun.Status.RUNNING)
    PipelineRun.objects.create(status=PipelineRun.Status.SUCCEEDED)  # finished runs are not limited


def test_a_claim_while_a_run_is_running_raises_pipeline_already_running_naming_it():
    running = pipeline_run_claim(trigger="schedule", actor="beat")
    with pytest.raises(PipelineAlreadyRunning, match=rf"\(run {running.pk}\)"):
        pipeline_run_claim(trigger="cli", actor="cli")
    assert PipelineRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_of_two_overlapping_claims_one_starts_and_the_other_raises_pipeline_already_running():
    # The first claim's transaction stays open until the second is waiting on the unique
    # index: the database, not a check in Python, decides between them.
    claimed, release = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                outcomes["first"] = pipeline_run_claim(trigger="schedule", actor="beat")
                claimed.set()
                release.wait(30)
        finally:
            connection.close()

    def second() -> None:
        try:
            outcomes["second"] = pipeline_run_claim(trigger="admin", actor="admin:bob")
        except PipelineAlreadyRunning as error:
            outcomes["second"] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert claimed.wait(30)
    threads[1].start()
    deadline = time.monotonic() + 30
    while not _waiting_on_a_lock() and time.monotonic() < deadline:
        time.sleep(0.02)
    assert _waiting_on_a_lock(), "the second claim never waited for the first"
    release.set()
    for thread in threads:
        thread.join(30)

    assert isinstance(outcomes["first"], PipelineRun)
    assert isinstance(outcomes["second"], PipelineAlreadyRunning)
    assert list(PipelineRun.objects.values_list("status", "trigger")) == [("running", "schedule")]


def _waiting_on_a_lock() -> bool:
    """Whether a session of this test database waits for a lock (other databases' tests too
    run on this server)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT count(*) FROM pg_locks l JOIN pg_stat_activity a ON a.pid = l.pid"
            " WHERE NOT l.granted AND a.datname = current_database()"
        )
        return cursor.fetchone()[0] > 0


def test_a_run_still_running_after_the_timeout_is_closed_as_abandoned_by_the_next_claim(settings):
    settings.SEARCHOP_PIPELINE_TIMEOUT_HOURS = 6.0
    stale = PipelineRun.objects.create(status=PipelineRun.Status.RUNNING)
    PipelineRun.objects.filter(pk=stale.pk).update(started_at=timezone.now() - dt.timedelta(hours=7))

    fresh = pipeline_run_claim(trigger="cli", actor="cli")

    stale.refresh_from_db()
    assert stale.status == PipelineRun.Status.FAILED
    assert "abandoned" in stale.error
    assert stale.finished_at is not None
    assert fresh.status == PipelineRun.Status.RUNNING


def test_a_run_within_the_timeout_is_not_taken_for_dead(settings):
    settings.SEARCHOP_PIPELINE_TIMEOUT_HOURS = 6.0
    recent = PipelineRun.objects.create(status=PipelineRun.Status.RUNNING)
    PipelineRun.objects.filter(pk=recent.pk).update(started_at=timezone.now() - dt.timedelta(hours=5))
    with pytest.raises(PipelineAlreadyRunning):
        pipeline_run_claim(trigger="cli", actor="cli")
    recent.refresh_from_db()
    assert recent.status == PipelineRun.Status.RUNNING


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
