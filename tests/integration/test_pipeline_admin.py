"""The pipeline admin: the run list, a run's read-only page and "Run the pipeline now"."""

from __future__ import annotations

import datetime as dt

import pytest
from django.contrib.auth.models import Permission, User
from django.contrib.messages import get_messages
from django.test import Client
from django.urls import reverse
from django_celery_beat.models import CrontabSchedule, PeriodicTask

from catalog.services import synthetic_data_generate
from tests.registry_factories import ModelVersionFactory
from training.models import PipelineRun

pytestmark = pytest.mark.django_db

STARTED = dt.datetime(2026, 11, 2, 3, 0, tzinfo=dt.UTC)


def url(name: str, *args) -> str:
    return reverse(f"admin:training_pipelinerun_{name}", args=args)


def messages_of(response) -> list[str]:
    return [str(message) for message in get_messages(response.wsgi_request)]


def run_create(**fields) -> PipelineRun:
    """A run as the pipeline leaves it: triggered when it started, its heartbeat as fresh."""
    started_at = fields.pop("started_at", STARTED)
    return PipelineRun.objects.create(
        **{"created_at": started_at, "started_at": started_at, "heartbeat_at": started_at, **fields}
    )


def finished_run_create(**fields) -> PipelineRun:
    defaults = {
        "status": PipelineRun.Status.SUCCEEDED,
        "trigger": PipelineRun.Trigger.SCHEDULE,
        "actor": "celery:schedule",
        "finished_at": STARTED + dt.timedelta(minutes=4, seconds=7),
        "steps": [
            {
                "step": "Loading training lists and building their matrix",
                "seconds": 12.5,
                "info": {"lists": 4321},
            },
            {"step": "Deciding", "seconds": 0.25, "info": {"action": "promoted"}},
        ],
        "windows": {
            "features_until": "2026-09-21T00:00:00+00:00",
            "train": ["2026-09-21T00:00:00+00:00", "2026-10-19T00:00:00+00:00"],
        },
        "counts": {"train_lists": 4321, "eval_clicks": 987},
        "decision": {"action": "promoted", "reason": "beats production by 7%"},
    }
    return run_create(**{**defaults, **fields})


@pytest.fixture
def operator_without_run_permission(client):
    user = User.objects.create_user("viewer", password="x", is_staff=True)
    user.user_permissions.add(Permission.objects.get(codename="view_pipelinerun"))
    client.force_login(user)
    return client


def test_the_changelist_shows_runs_with_status_duration_version_and_decision(admin_client):
    model_version = ModelVersionFactory()
    succeeded = finished_run_create(model_version=model_version)
    failed = finished_run_create(
        status=PipelineRun.Status.FAILED, decision={}, error="PipelineError: no lists"
    )

    page = admin_client.get(url("changelist")).content.decode()

    assert f"run {succeeded.pk}" in page
    assert f"run {failed.pk}" in page
    assert "#2e7d32" in page  # succeeded in green
    assert "#c62828" in page  # failed in red
    assert "4 min 07 s" in page
    assert f'<a href="{reverse("admin:ranking_modelversion_change", args=[model_version.pk])}">v1</a>' in page
    assert 'title="beats production by 7%"' in page
    assert "weekly schedule" in page  # the trigger
    assert url("run") in page


def test_the_changelist_links_to_the_weekly_schedule(admin_client):
    if not PeriodicTask.objects.filter(name="weekly-pipeline").exists():  # flushed by a transactional test
        crontab = CrontabSchedule.objects.create(minute="0", hour="3", day_of_week="mon")
        PeriodicTask.objects.create(
            name="weekly-pipeline", task="training.tasks.pipeline_run_task", crontab=crontab
        )
    schedule = PeriodicTask.objects.get(name="weekly-pipeline")

    page = admin_client.get(url("changelist")).content.decode()

    assert reverse("admin:django_celery_beat_periodictask_change", args=[schedule.pk]) in page


def test_the_detail_page_shows_steps_with_timings_windows_counts_and_the_error_read_only(admin_client):
    run = finished_run_create(status=PipelineRun.Status.FAILED, error="PipelineError: No lists were shown")

    page = admin_client.get(url("change", run.pk)).content.decode()

    for text in (
        "Loading training lists and building their matrix",
        "12.50",  # seconds
        "98 %",  # its share of the steps' time
        "lists: <code>4,321</code>",
        "features until",
        "2026-10-19T00:00:00+00:00",
        "train lists",
        "4,321",
        "PipelineError: No lists were shown",
    ):
        assert text in page
    assert page.index("features until") < page.index("<td>train</td>")  # in time order
    assert 'name="_save"' not in page


def test_the_detail_page_of_a_running_run_says_how_long_it_has_been_running(admin_client):
    run = run_create(status=PipelineRun.Status.RUNNING, trigger="admin", started_at=dt.datetime.now(dt.UTC))

    page = admin_client.get(url("change", run.pk)).content.decode()

    assert "running for" in page
    assert "The steps are recorded when the run ends." in page


def test_run_now_asks_for_confirmation_with_a_csrf_protected_form(admin_client, admin_user):
    page = admin_client.get(url("run")).content.decode()

    assert "csrfmiddlewaretoken" in page
    assert 'value="Run the pipeline now"' in page

    strict = Client(enforce_csrf_checks=True)
    strict.force_login(admin_user)
    assert strict.post(url("run")).status_code == 403
    assert not PipelineRun.objects.exists()


def test_run_now_queues_the_run_after_the_commit(admin_client, settings, django_capture_on_commit_callbacks):
    settings.CELERY_TASK_ALWAYS_EAGER = False

    # The callback is captured, not run: nothing reaches the shared Redis.
    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(url("run"))

    assert response.status_code == 302
    assert len(callbacks) == 1
    run = PipelineRun.objects.get()
    assert (run.status, run.trigger, run.actor) == ("queued", "admin", "admin:admin")
    assert messages_of(response) == [f"Run {run.pk} was queued. It shows as running when a worker takes it."]


def test_run_now_runs_the_pipeline_in_process_without_a_task_queue(
    admin_client, settings, small_config, django_capture_on_commit_callbacks
):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    settings.SEARCHOP_EVALUATION = {**settings.SEARCHOP_EVALUATION, "bootstrap_resamples": 50}
    settings.SEARCHOP_TRAINING = {**settings.SEARCHOP_TRAINING, "num_boost_round": 20}
    synthetic_data_generate(config=small_config)

    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client.post(url("run"))

    run = PipelineRun.objects.get()
    assert (run.status, run.trigger, run.actor) == ("succeeded", "admin", "admin:admin")
    assert "ran in this web process" in messages_of(response)[0]


def test_run_now_during_a_run_queues_nothing_and_lists_the_trigger_as_skipped(
    admin_client, django_capture_on_commit_callbacks
):
    running = run_create(status=PipelineRun.Status.RUNNING, actor="beat", started_at=dt.datetime.now(dt.UTC))

    confirmation = admin_client.get(url("run")).content.decode()
    assert f"Run {running.pk}</a> has been running" in confirmation
    assert 'value="Run the pipeline now"' not in confirmation

    with django_capture_on_commit_callbacks() as callbacks:
        response = admin_client.post(url("run"))

    assert callbacks == []
    assert messages_of(response)[0].startswith(f"Nothing was queued: run {running.pk} is running")
    skipped = PipelineRun.objects.get(status=PipelineRun.Status.SKIPPED)
    assert (skipped.trigger, skipped.actor) == ("admin", "admin:admin")
    page = admin_client.get(url("changelist")).content.decode()
    assert f"skipped: run {running.pk} is running" in page


def test_a_run_whose_worker_is_lost_does_not_block_run_now(admin_client, settings):
    settings.SEARCHOP_PIPELINE_HEARTBEAT_SECONDS = 30
    run_create(
        status=PipelineRun.Status.RUNNING, started_at=dt.datetime.now(dt.UTC) - dt.timedelta(minutes=3)
    )

    page = admin_client.get(url("run")).content.decode()

    assert 'value="Run the pipeline now"' in page


def test_a_viewer_sees_the_runs_but_cannot_start_one(operator_without_run_permission):
    client = operator_without_run_permission
    run = finished_run_create()

    assert client.get(url("changelist")).status_code == 200
    assert url("run") not in client.get(url("change", run.pk)).content.decode()
    assert client.get(url("run")).status_code == 403
    assert client.post(url("run")).status_code == 403
    assert PipelineRun.objects.count() == 1


@pytest.mark.django_db(transaction=True)
def test_a_run_that_fails_in_process_is_reported_and_recorded(admin_client, settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True  # and no events: the pipeline has nothing to train on

    response = admin_client.post(url("run"))

    assert messages_of(response) == [
        "The pipeline run failed: There are no events yet: generate or import some first."
    ]
    run = PipelineRun.objects.get()
    assert run.status == "failed"
    assert "no events yet" in run.error
