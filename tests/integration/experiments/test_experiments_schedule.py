"""ranking/migrations/0006: the experiments' evaluation is scheduled before beat ever starts,
and the beat task runs the same evaluation as ``experiment_decide``."""

from __future__ import annotations

import importlib

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import call_command
from django_celery_beat.models import IntervalSchedule, PeriodicTask
from django_celery_beat.schedulers import ModelEntry

from ranking.models import Experiment, ExperimentDecision, ModelStatus
from ranking.tasks import experiments_decide_task
from searchop_site.celery import app as celery_app
from tests.integration.experiments.support import launch, logged_search
from tests.registry_factories import ModelVersionFactory

pytestmark = pytest.mark.django_db

migration = importlib.import_module("ranking.migrations.0006_experiments_schedule")
NAME = "experiments-decide"


@pytest.fixture
def migrated():
    """Unapply and reapply: with --reuse-db, a transactional test may have flushed the row."""
    call_command("migrate", "ranking", "0005", verbosity=0)
    assert not PeriodicTask.objects.filter(name=NAME).exists()
    call_command("migrate", "ranking", "0006", verbosity=0)
    return PeriodicTask.objects.select_related("interval").get(name=NAME)


def test_the_evaluation_runs_every_five_minutes_after_migrate(migrated):
    assert migrated.task == "ranking.tasks.experiments_decide_task"
    assert migrated.enabled
    assert (migrated.interval.every, migrated.interval.period) == (300, IntervalSchedule.SECONDS)


def test_beat_starting_finds_the_migrated_schedule_and_adds_nothing(migrated):
    intervals = IntervalSchedule.objects.count()

    # What DatabaseScheduler.setup_schedule does with each CELERY_BEAT_SCHEDULE entry.
    ModelEntry.from_entry(NAME, app=celery_app, **settings.CELERY_BEAT_SCHEDULE[NAME])

    installed = PeriodicTask.objects.get(name=NAME)
    assert installed.interval_id == migrated.interval_id
    assert IntervalSchedule.objects.count() == intervals


def test_running_it_again_leaves_a_task_disabled_in_the_admin_alone(migrated):
    PeriodicTask.objects.filter(name=NAME).update(enabled=False)

    migration.schedule_create(apps, schema_editor=None)

    assert list(PeriodicTask.objects.filter(name=NAME).values_list("enabled", flat=True)) == [False]


def test_the_beat_task_applies_the_guardrails(settings):
    settings.CELERY_TASK_ALWAYS_EAGER = True
    ModelVersionFactory(status=ModelStatus.PRODUCTION)
    shadow = launch(kind="shadow", challenger="bm25")
    for _ in range(20):
        logged_search(shadow, products=["a"], arm="shadow", error="raised")

    lines = experiments_decide_task.delay().get()

    shadow = Experiment.objects.get(pk=shadow.pk)
    assert shadow.decision == ExperimentDecision.GUARDRAIL
    assert lines == [f"experiment {shadow.pk}: guardrail: {shadow.stop_reason}"]
