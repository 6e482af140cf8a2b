"""Corrupted models: a candidate whose text was damaged is refused at promotion, a damaged
production model is served by the BM25 fallback, and a retrain with it completes: the
evaluation reports production as unavailable, the decision says so, nothing aborts.

The damage is the kind that makes LightGBM abort the whole process (SIGABRT) when it loads
the text: half of it, with its sha256 updated to match, so only the trial load in a child
process can catch it. Commands run in processes of their own, as an operator runs them:
an abort shows as its exit status instead of taking pytest down with it.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from catalog.services import synthetic_data_generate
from ranking.models import ModelStatus, ModelVersion
from tests.factories import ContractModelVersionFactory
from tests.faults.conftest import SMALL_SHOP
from tests.faults.support import ROOT
from tests.integration.api.support import serving_state_load
from tests.registry_factories import sha256
from training.models import PipelineRun


def damage(model: ModelVersion) -> None:
    """Half the text, its sha256 recorded to match (a direct UPDATE, behind the registry)."""
    text = model.model_text[: len(model.model_text) // 2]
    ModelVersion.objects.filter(pk=model.pk).update(model_text=text, model_sha256=sha256(text))


def manage(env: dict, *args: str) -> subprocess.CompletedProcess:
    command = [sys.executable, "manage.py", *args]
    return subprocess.run(
        command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=600, check=False
    )


@pytest.mark.django_db(transaction=True)
def test_a_damaged_production_model_is_served_by_the_fallback_and_a_retrain_completes(test_db_env):
    synthetic_data_generate(config=SMALL_SHOP)
    production = ContractModelVersionFactory()
    damage(production)

    served = serving_state_load()
    assert served.fallback
    assert f"model v{production.version} failed to load" in served.fallback_reason

    result = manage(test_db_env(), "run_pipeline", "--json")

    assert result.returncode == 0, result.stderr[-3000:]  # not 134: nothing aborted
    report = json.loads(result.stdout)
    assert report["production_version"] == production.version
    assert report["production_note"].startswith("production model unavailable")
    assert report["decision"]["reason"].startswith("production model unavailable")
    assert "judged as with no production model" in report["decision"]["reason"]
    run = PipelineRun.objects.get()
    assert (run.status, run.decision) == ("succeeded", report["decision"])


@pytest.mark.django_db(transaction=True)
def test_a_damaged_candidate_is_refused_at_promotion_and_production_stays(test_db_env):
    production = ContractModelVersionFactory()
    candidate = ContractModelVersionFactory(status=ModelStatus.CANDIDATE)
    damage(candidate)

    result = manage(test_db_env(), "promote_model", str(candidate.version), "--reason", "looks better")

    assert result.returncode == 1
    assert f"v{candidate.version} failed verification" in result.stderr
    assert "LightGBM crashed loading it" in result.stderr
    statuses = dict(ModelVersion.objects.values_list("version", "status"))
    assert statuses == {production.version: ModelStatus.PRODUCTION, candidate.version: ModelStatus.CANDIDATE}
