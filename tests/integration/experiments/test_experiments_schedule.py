"""The experiments' beat task runs the same evaluation as ``experiment_decide`` (its schedule,
ranking/migrations/0006, is tested with the other seeded tasks in
tests/integration/test_pipeline_schedule_migration.py)."""

from __future__ import annotations

import pytest

from ranking.models import Experiment, ExperimentDecision, ModelStatus
from ranking.tasks import experiments_decide_task
from tests.integration.experiments.support import launch, logged_search
from tests.registry_factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


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
