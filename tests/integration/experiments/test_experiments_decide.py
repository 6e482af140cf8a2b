"""The evaluation the beat task runs (``experiments_decide``) on searches and events written
straight into the tables: guardrails, the online gate's promotion and rejection, the
inconclusive rule, the watch after a promotion and its rollback, canary stages."""

from __future__ import annotations

import pytest

from ranking.experiments.decide import candidate_online_gate, experiments_decide
from ranking.experiments.services import experiment_stop
from ranking.models import (
    Experiment,
    ExperimentDecision,
    ExperimentPurpose,
    ExperimentStatus,
    ModelStatus,
    ModelVersionTransition,
    TransitionKind,
)
from ranking.services import model_version_promote
from tests.integration.experiments.support import ab_searches, interleaved_searches, launch, logged_search
from tests.registry_factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture(autouse=True)
def experiment_settings(settings):
    settings.SEARCHOP_EXPERIMENTS = {
        **settings.SEARCHOP_EXPERIMENTS,
        "min_searches": 100,
        "watch_searches": 300,
    }


@pytest.fixture
def production():
    return ModelVersionFactory(status=ModelStatus.PRODUCTION)


@pytest.fixture
def gate(production):
    """The online gate of a candidate against production, as the pipeline starts it."""
    candidate = ModelVersionFactory(decision={"action": "online", "reason": "offline gates passed"})
    return candidate_online_gate(version=candidate.version, actor="pipeline:test").experiment


def refreshed(experiment: Experiment) -> Experiment:
    experiment.refresh_from_db()
    return experiment


def test_a_preferred_candidate_is_promoted_with_its_numbers_everywhere_and_then_watched(gate, production):
    interleaved_searches(gate, wins=90, losses=30, ties=10)

    lines = experiments_decide(actor="beat")

    gate = refreshed(gate)
    candidate = gate.challenger_version
    candidate.refresh_from_db()
    assert candidate.status == ModelStatus.PRODUCTION
    assert (gate.status, gate.decision) == (ExperimentStatus.COMPLETED, ExperimentDecision.PROMOTED)
    assert "users prefer the challenger: preference +0.462" in gate.decision_reason
    assert gate.result["interleaving"]["click"]["wins"] == 90
    assert candidate.decision["online"]["decision"] == "promoted"
    assert candidate.decision["action"] == "online"  # the offline decision stays beside it
    promotion = ModelVersionTransition.objects.filter(
        model_version=candidate, kind=TransitionKind.PROMOTE
    ).get()
    assert promotion.actor == f"experiment:{gate.pk}"
    assert "90 wins, 30 losses, 10 ties" in promotion.reason
    # The same evaluation started the watch of the promotion it made.
    watch = Experiment.objects.get(status=ExperimentStatus.RUNNING)
    assert (watch.purpose, watch.control_version, watch.challenger_version) == (
        "watch",
        candidate,
        production,
    )
    assert (watch.traffic, watch.max_searches, watch.watched_transition) == (0.1, 300, promotion)
    assert len(lines) == 2


def test_a_dispreferred_candidate_is_rejected(gate, production):
    interleaved_searches(gate, wins=30, losses=90)

    experiments_decide()

    gate = refreshed(gate)
    assert gate.decision == ExperimentDecision.REJECTED
    assert gate.challenger_version.transitions.last().kind == TransitionKind.REJECT
    production.refresh_from_db()
    assert production.status == ModelStatus.PRODUCTION


def test_nothing_is_decided_before_the_minimum_searches(gate):
    interleaved_searches(gate, wins=60, losses=0)

    [line] = experiments_decide()

    assert "continue: 60 of at least 100 searches" in line
    assert refreshed(gate).status == ExperimentStatus.RUNNING


@pytest.mark.parametrize(
    ("inconclusive", "status"), [("offline", ModelStatus.PRODUCTION), ("reject", ModelStatus.REJECTED)]
)
def test_a_gate_without_a_result_at_its_end_applies_the_inconclusive_setting(
    settings, production, inconclusive, status
):
    settings.SEARCHOP_EXPERIMENTS = {
        **settings.SEARCHOP_EXPERIMENTS,
        "inconclusive": inconclusive,
        "max_searches": 200,
    }
    candidate = ModelVersionFactory(decision={"action": "online"})
    gate = candidate_online_gate(version=candidate.version, actor="test").experiment
    interleaved_searches(gate, wins=100, losses=100)

    experiments_decide()

    candidate.refresh_from_db()
    assert candidate.status == status
    assert "no significant preference (200 of 200 searches)" in refreshed(gate).decision_reason


def test_a_watch_that_finds_the_replaced_version_preferred_rolls_back_and_says_why():
    production, new = ModelVersionFactory(), ModelVersionFactory()
    model_version_promote(version=production.version, actor="test", reason="the first model")
    model_version_promote(version=new.version, actor="admin:alice", reason="looks better")
    experiments_decide()  # starts the watch of this promotion
    watch = Experiment.objects.get(status=ExperimentStatus.RUNNING, purpose=ExperimentPurpose.WATCH)
    interleaved_searches(watch, wins=100, losses=20)  # the challenger is the replaced version

    experiments_decide()

    production.refresh_from_db()
    new.refresh_from_db()
    assert (production.status, new.status) == (ModelStatus.PRODUCTION, ModelStatus.ARCHIVED)
    watch = refreshed(watch)
    assert watch.decision == ExperimentDecision.ROLLED_BACK
    rollback = new.transitions.get(kind=TransitionKind.ROLLBACK)
    assert rollback.actor == f"experiment:{watch.pk}"
    assert "the replaced version is preferred to production: preference +0.667" in rollback.reason
    assert new.decision["watch"]["decision"] == "rolled_back"
    assert not Experiment.objects.filter(
        status=ExperimentStatus.RUNNING
    ).exists()  # a rollback is not watched


def test_a_watch_that_holds_keeps_production(production):
    new = ModelVersionFactory()
    model_version_promote(version=new.version, actor="test", reason="better")
    experiments_decide()
    watch = Experiment.objects.get(status=ExperimentStatus.RUNNING)
    interleaved_searches(watch, wins=150, losses=150)

    experiments_decide()

    assert refreshed(watch).decision == ExperimentDecision.KEPT
    new.refresh_from_db()
    assert new.status == ModelStatus.PRODUCTION


def test_no_watch_when_it_is_turned_off(settings, production):
    settings.SEARCHOP_EXPERIMENTS = {**settings.SEARCHOP_EXPERIMENTS, "watch_searches": 0}
    model_version_promote(version=ModelVersionFactory().version, actor="test", reason="better")

    assert experiments_decide() == []
    assert not Experiment.objects.exists()


def test_an_ab_challenger_worse_on_ctr_is_stopped_by_its_guardrail(production):
    ab = launch(kind="ab", challenger="random", traffic=0.5)
    ab_searches(ab, arm="control", users=150, searches_each=4, click_every=2)  # CTR 0.5
    ab_searches(ab, arm="challenger", users=150, searches_each=4, click_every=5)  # CTR 0.2

    experiments_decide()

    ab = refreshed(ab)
    assert (ab.status, ab.decision) == (ExperimentStatus.STOPPED, ExperimentDecision.GUARDRAIL)
    assert "the challenger's ctr is significantly lower: 0.2000 vs 0.5000" in ab.stop_reason
    assert ab.result["ab"]["arms"]["challenger"]["users"] == 150


def test_a_challenger_that_keeps_failing_is_stopped_by_its_error_budget(production):
    shadow = launch(kind="shadow", challenger="bm25", traffic=1.0)
    for _ in range(25):
        logged_search(shadow, products=["a", "b"], arm="shadow", error="not loaded")

    experiments_decide()

    shadow = refreshed(shadow)
    assert shadow.decision == ExperimentDecision.GUARDRAIL
    assert "failed in 25 of 25 searches" in shadow.stop_reason


def test_a_canary_moves_to_its_next_stage_after_holding_its_guardrails(settings, production):
    settings.SEARCHOP_EXPERIMENTS = {**settings.SEARCHOP_EXPERIMENTS, "stage_searches": 200}
    ab = launch(kind="ab", challenger="bm25", stages=[0.05, 0.25, 0.5])
    ab_searches(ab, arm="control", users=50, searches_each=3, click_every=2)
    ab_searches(ab, arm="challenger", users=50, searches_each=3, click_every=2)

    [line] = experiments_decide()

    assert "advance" in line
    assert (refreshed(ab).stage, refreshed(ab).traffic) == (1, 0.25)


def test_an_experiment_against_production_stops_when_production_changes(gate, production):
    model_version_promote(version=ModelVersionFactory().version, actor="admin:bob", reason="urgent fix")

    experiments_decide()

    gate = refreshed(gate)
    assert gate.status == ExperimentStatus.STOPPED
    assert f"production changed (control v{production.version}" in gate.stop_reason


def test_a_waiting_candidate_gets_its_gate_when_the_way_is_clear_and_older_ones_are_archived(production):
    blocker = launch(kind="shadow", challenger="bm25")
    older, newer = (ModelVersionFactory(decision={"action": "online"}) for _ in range(2))
    waiting = candidate_online_gate(version=newer.version, actor="pipeline:test")
    assert waiting.experiment is None
    assert f"waits for experiment {blocker.pk}" in waiting.reason

    experiment_stop(reason="done", actor="test")
    experiments_decide()

    gate = Experiment.objects.get(status=ExperimentStatus.RUNNING)
    assert (gate.purpose, gate.challenger_version) == (ExperimentPurpose.PROMOTION, newer)
    older.refresh_from_db()
    assert older.status == ModelStatus.ARCHIVED


def test_a_candidate_whose_gate_cannot_start_is_rejected(production):
    broken = ModelVersionFactory(model_sha256="f" * 64)

    gate = candidate_online_gate(version=broken.version, actor="pipeline:test", offline_reason="gates passed")

    broken.refresh_from_db()
    assert (gate.action, broken.status) == ("rejected", ModelStatus.REJECTED)
    assert gate.reason.startswith("gates passed; its online gate could not start: v")
    assert "failed verification" in gate.reason


def test_a_candidate_whose_gate_cannot_start_for_now_waits_for_the_next_evaluation():
    candidate = ModelVersionFactory(decision={"action": "online"})  # no production to compare with

    gate = candidate_online_gate(version=candidate.version, actor="pipeline:test")

    candidate.refresh_from_db()
    assert (gate.action, candidate.status) == ("online", ModelStatus.CANDIDATE)
    assert "waits for a retry (control: there is no production model" in gate.reason
