"""Promotion decided online (``SEARCHOP_PROMOTION``): a candidate that passes the offline
gates over an existing production model starts an interleaving experiment against it instead
of being promoted; with ``offline`` it is promoted as before."""

from __future__ import annotations

import pytest

from catalog.services import synthetic_data_generate
from catalog.synthetic import SyntheticConfig
from ranking.models import Experiment, ExperimentPurpose, ModelStatus
from ranking.services import model_version_promote
from tests.factories import ContractModelVersionFactory, contract_model_text
from tests.registry_factories import sha256
from training.services import pipeline_run

pytestmark = pytest.mark.django_db

SHOP = SyntheticConfig(seed=3)  # the demo's shop: a 120-product one is too small for the gates to be sure


@pytest.fixture
def weak_production(settings):
    """The demo's shop and, in production, a model that ranks backwards: the weekly candidate
    beats it offline with room to spare."""
    settings.SEARCHOP_EVALUATION = {**settings.SEARCHOP_EVALUATION, "bootstrap_resamples": 50}
    settings.SEARCHOP_TRAINING = {**settings.SEARCHOP_TRAINING, "num_boost_round": 20}
    synthetic_data_generate(config=SHOP)
    text = contract_model_text(seed=1, backwards=True)
    weak = ContractModelVersionFactory(
        status=ModelStatus.CANDIDATE, model_text=text, model_sha256=sha256(text)
    )
    model_version_promote(version=weak.version, actor="test", reason="a weak production model")
    return weak


def test_online_the_candidate_goes_to_an_interleaving_gate_against_production(settings, weak_production):
    settings.SEARCHOP_EXPERIMENTS = {**settings.SEARCHOP_EXPERIMENTS, "promotion": "online"}

    run, report = pipeline_run()

    candidate = run.model_version
    assert report["decision"]["action"] == "online", report["decision"]["reason"]
    assert "online gate: experiment" in report["decision"]["reason"]
    assert candidate.status == ModelStatus.CANDIDATE
    assert candidate.decision["action"] == "online"
    gate = Experiment.objects.get()
    assert (gate.kind, gate.purpose, gate.status) == ("interleaving", ExperimentPurpose.PROMOTION, "running")
    assert (gate.challenger_version, gate.control_version) == (candidate, weak_production)
    assert gate.traffic == 0.5


def test_offline_the_candidate_is_promoted_as_before(settings, weak_production):
    settings.SEARCHOP_EXPERIMENTS = {**settings.SEARCHOP_EXPERIMENTS, "promotion": "offline"}

    run, report = pipeline_run()

    assert report["decision"]["action"] == "promoted", report["decision"]["reason"]
    run.model_version.refresh_from_db()
    assert run.model_version.status == ModelStatus.PRODUCTION
    assert not Experiment.objects.exists()
