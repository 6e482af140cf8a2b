"""The acceptance of issue 11 on PostgreSQL, with live traffic: the synthetic shop's shoppers
(``simulate_traffic``, in-process) search through ``/api/rank`` while an experiment runs and
send what they did to ``/api/events``; the experiment's report, the decision service and the
beat task then do what they do in production.

The shop is the default one (``generate_synthetic_data``'s defaults, seed 42) with the model
``run_pipeline`` trains on it in production, and a weaker model (``model_train`` on the same
data with one tree of two leaves), built once for the module inside a transaction rolled back
at its end; each test runs in a savepoint of it. The weaker model is a stump, not the 3 trees
of 3 leaves of ``bench/experiment_power.py``: against that one interleaving needs about 6,300
searches for 80% power at a fixed horizon (README, "How many searches"), and its online gate
here was rejected only after 10,000 searches (preference -0.040, always-valid p 0.010;
measured 2026-11-30), minutes of traffic per test. The stump settles in 500 to 1,250.

The serving state is built in the test's own transaction (``serve_current``: the worker's
own ``state_build`` and experiment rankers) each time the experiment or production changes,
as a worker's check would pick the change up; its background loader could not see these rows.

Traffic is played in rounds of a few hundred searches, and the report (or the decision) is
read after each, as the beat task reads it every few minutes: each test stops at the first
round that settles it, within the issue's budget of searches.
"""

from __future__ import annotations

import io
import time
from collections.abc import Iterator
from dataclasses import dataclass

import pytest
from django.core.management import call_command
from django.db import transaction
from django.test import override_settings

from catalog.services import synthetic_data_generate
from catalog.synthetic import SyntheticConfig
from ranking.experiments.decide import candidate_online_gate
from ranking.experiments.reports import experiment_report_build
from ranking.experiments.selectors import experiment_get
from ranking.experiments.services import experiment_launch
from ranking.models import (
    Experiment,
    ExperimentDecision,
    ExperimentPurpose,
    ExperimentStatus,
    ModelStatus,
    ModelVersion,
    ModelVersionTransition,
)
from ranking.selectors import model_version_production_get
from ranking.services import model_version_promote
from ranking.tasks import experiments_decide_task
from tests.integration.api.support import serve_current, worker_state_reset
from training.services import model_train, pipeline_run

# Integration by its folder; model too: it trains on the default shop (about a minute), so
# `-m "not model"` leaves it out with the other trainings.
pytestmark = [pytest.mark.django_db, pytest.mark.model]

ROUND = 250  # searches between two looks at the report
WEAK = {"num_boost_round": 1, "num_leaves": 2}  # a stump: see the module's docstring
MEASURED: dict[str, str] = {}  # what each test measured, printed at the end of the module


@dataclass(frozen=True)
class Shop:
    production: int  # the version run_pipeline trained and promoted
    weaker: int  # a candidate of one tree of two leaves, trained on the same data


def serving_overrides(var_dir) -> dict:
    """A worker in this process: no key, the impression log written in the request, no
    background model check (``serve_current`` installs each change), no compilation."""
    return {
        "SEARCHOP_REQUIRE_API_KEY": False,
        "SEARCHOP_IMPRESSION_LOG": "sync",
        "SEARCHOP_MODEL_CHECK_SECONDS": 3600.0,
        "SEARCHOP_COMPILED_INFERENCE": False,
        "SEARCHOP_VAR_DIR": var_dir,
    }


def weaker_model_train() -> int:
    from django.conf import settings

    with override_settings(
        SEARCHOP_TRAINING={**settings.SEARCHOP_TRAINING, "num_boost_round": WEAK["num_boost_round"]},
        SEARCHOP_LIGHTGBM_PARAMS={**settings.SEARCHOP_LIGHTGBM_PARAMS, "num_leaves": WEAK["num_leaves"]},
    ):
        return model_train(actor="test", evaluate=False).version.version


@pytest.fixture(scope="module")
def shop(django_db_setup, django_db_blocker, tmp_path_factory) -> Iterator[Shop]:
    """The default shop, its production model and a weaker candidate (about a minute)."""
    started = time.perf_counter()
    var_dir = tmp_path_factory.mktemp("var")
    with (
        django_db_blocker.unblock(),
        override_settings(**serving_overrides(var_dir)),
        transaction.atomic(),
    ):
        synthetic_data_generate(config=SyntheticConfig(seed=42))
        run, report = pipeline_run()
        assert report["decision"]["action"] == "promoted", report["decision"]
        built = Shop(production=run.model_version.version, weaker=weaker_model_train())
        MEASURED["shop"] = (
            f"default shop, run_pipeline and the weaker model: {time.perf_counter() - started:.0f} s"
        )
        yield built
        transaction.set_rollback(True)
    print("\n" + "\n".join(f"  {key}: {value}" for key, value in MEASURED.items()))


@pytest.fixture(autouse=True)
def worker(shop, settings, tmp_path) -> Iterator[None]:
    for name, value in serving_overrides(tmp_path / "var").items():
        setattr(settings, name, value)
    worker_state_reset()
    yield
    worker_state_reset()


def shoppers_search(searches: int, *, seed: int) -> str:
    """``simulate_traffic`` in this process: the default shop's shoppers (seed ``seed``)."""
    out, err = io.StringIO(), io.StringIO()
    call_command("simulate_traffic", searches=searches, seed=seed, stdout=out, stderr=err)
    return out.getvalue()


def report_of(experiment: Experiment) -> dict:
    return experiment_report_build(experiment_get(experiment_id=experiment.pk), bootstrap_resamples=200)


def rounds(budget: int, *, seed: int) -> Iterator[int]:
    """Play the traffic in rounds of ``ROUND`` searches up to ``budget``; yields the searches
    made so far after each round."""
    made = 0
    while made < budget:
        shoppers_search(ROUND, seed=seed + made)
        made += ROUND
        yield made


def interleaved_until_significant(challenger: str, *, budget: int, seed: int) -> tuple[int, dict]:
    """Production interleaved with ``challenger`` on every search (traffic 1.0): the searches
    made when the report first finds production better with p < 0.01 (or the budget), and
    the report's clicks then. Looked at after every round, so judged by the always-valid
    p-value (the mixture sign test the decisions use, valid at every look); the fixed-horizon
    sign test is then below 0.01 too."""
    experiment = experiment_launch(actor="test", kind="interleaving", challenger=challenger, traffic=1.0)
    serve_current()
    clicks: dict = {}
    for made in rounds(budget, seed=seed):
        report = report_of(experiment)
        assert report["searches"] == made  # traffic 1.0: every search is interleaved and counted
        clicks = report["interleaving"]["click"]
        if clicks["sequential_p"] < 0.01 and clicks["preference"] < 0:
            return made, clicks
    return budget, clicks


def interleaving_figures(clicks: dict, searches: int) -> str:
    return (
        f"{searches} searches: {clicks['wins']} challenger wins, {clicks['losses']} losses, "
        f"preference {clicks['preference']:+.3f}, sign test p {clicks['sign_test_p']:.2g}, "
        f"always-valid p {clicks['sequential_p']:.2g}"
    )


def decided_within(experiment: Experiment, *, budget: int, seed: int, decide) -> tuple[int, Experiment]:
    """Traffic in rounds, the evaluation after each (``decide``), until ``experiment`` ends."""
    for made in rounds(budget, seed=seed):
        decide()
        experiment.refresh_from_db()
        if experiment.status != ExperimentStatus.RUNNING:
            return made, experiment
    return budget, experiment


def experiment_decide_command() -> None:
    call_command("experiment_decide", stdout=io.StringIO())


# ---------------------------------------------------------------------------------------
# Interleaving finds production better than the baselines
# ---------------------------------------------------------------------------------------


def test_interleaving_finds_production_better_than_random_with_p_below_1_percent_within_2000_searches(shop):
    searches, clicks = interleaved_until_significant("random", budget=2_000, seed=1_000)

    MEASURED["production vs random"] = interleaving_figures(clicks, searches)
    assert clicks["sequential_p"] < 0.01, clicks
    assert clicks["sign_test_p"] < 0.01
    assert clicks["losses"] > clicks["wins"]  # the challenger (random) loses
    assert clicks["preference"] < 0


def test_interleaving_finds_production_better_than_bm25_with_p_below_1_percent_within_4000_searches(shop):
    searches, clicks = interleaved_until_significant("bm25", budget=4_000, seed=2_000)

    MEASURED["production vs bm25"] = interleaving_figures(clicks, searches)
    assert clicks["sequential_p"] < 0.01, clicks
    assert clicks["sign_test_p"] < 0.01
    assert clicks["losses"] > clicks["wins"]
    assert clicks["preference"] < 0


# ---------------------------------------------------------------------------------------
# Guardrails, online promotion and the watch
# ---------------------------------------------------------------------------------------


def test_an_ab_experiment_of_random_at_half_the_traffic_is_stopped_by_its_guardrail(shop):
    experiment = experiment_launch(actor="test", kind="ab", challenger="random", traffic=0.5)
    serve_current()

    searches, experiment = decided_within(
        experiment, budget=4_000, seed=3_000, decide=experiment_decide_command
    )

    MEASURED["A/B of random at 50%"] = f"stopped after {searches} searches: {experiment.stop_reason}"
    assert experiment.status == ExperimentStatus.STOPPED
    assert experiment.decision == ExperimentDecision.GUARDRAIL
    assert "significantly lower" in experiment.stop_reason
    assert "always-valid p" in experiment.stop_reason
    assert experiment.result["ab"]["arms"]["challenger"]["searches"] > 0
    assert model_version_production_get().version == shop.production  # A/B guards; it promotes nothing


@pytest.fixture
def online(settings):
    """``SEARCHOP_PROMOTION=online``; the gate and the watch interleave every search (traffic
    1.0), so that they settle in fewer searches; the watch is off unless a test turns it on."""
    settings.SEARCHOP_EXPERIMENTS = {
        **settings.SEARCHOP_EXPERIMENTS,
        "promotion": "online",
        "online_traffic": 1.0,
        "watch_traffic": 1.0,
        "watch_searches": 0,
    }
    return settings


def production_version() -> int:
    production = model_version_production_get()
    assert production is not None
    return production.version


def test_online_a_stronger_candidate_over_a_weaker_production_is_promoted_by_the_beat_task(shop, online):
    model_version_promote(version=shop.weaker, actor="test", reason="a weaker production model")
    run, report = pipeline_run()  # the weekly pipeline: its candidate goes to the online gate
    candidate = run.model_version.version
    assert report["decision"]["action"] == "online", report["decision"]
    gate = Experiment.objects.get(status=ExperimentStatus.RUNNING)
    assert (gate.purpose, gate.challenger_version.version) == (ExperimentPurpose.PROMOTION, candidate)
    serve_current()

    searches, gate = decided_within(gate, budget=3_000, seed=4_000, decide=experiments_decide_task)

    MEASURED["stronger candidate's gate"] = f"promoted after {searches} searches: {gate.decision_reason}"
    assert gate.decision == ExperimentDecision.PROMOTED, gate.decision_reason
    assert "users prefer the challenger" in gate.decision_reason
    assert production_version() == candidate
    promotion = ModelVersionTransition.objects.filter(model_version__version=candidate).latest("id")
    assert (promotion.to_status, promotion.actor) == (ModelStatus.PRODUCTION, f"experiment:{gate.pk}")
    assert "always-valid p" in promotion.reason
    assert ModelVersion.objects.get(version=candidate).decision["online"]["decision"] == "promoted"


def test_online_a_weaker_candidate_is_rejected_by_the_beat_task(shop, online):
    gate = candidate_online_gate(version=shop.weaker, actor="pipeline").experiment  # the pipeline's gate
    assert gate is not None
    serve_current()

    searches, gate = decided_within(gate, budget=3_000, seed=5_000, decide=experiments_decide_task)

    MEASURED["weaker candidate's gate"] = f"rejected after {searches} searches: {gate.decision_reason}"
    assert gate.decision == ExperimentDecision.REJECTED, gate.decision_reason
    assert "users prefer production" in gate.decision_reason
    assert ModelVersion.objects.get(version=shop.weaker).status == ModelStatus.REJECTED
    assert production_version() == shop.production


def test_the_watch_after_a_promotion_rolls_a_weaker_model_back(shop, online):
    online.SEARCHOP_EXPERIMENTS = {**online.SEARCHOP_EXPERIMENTS, "watch_searches": 3_000}
    model_version_promote(version=shop.weaker, actor="test", reason="promoted by hand")
    experiments_decide_task()  # the beat task starts the watch
    watch = Experiment.objects.get(status=ExperimentStatus.RUNNING)
    assert watch.purpose == ExperimentPurpose.WATCH
    assert (watch.control_version.version, watch.challenger_version.version) == (shop.weaker, shop.production)
    serve_current()

    searches, watch = decided_within(watch, budget=3_000, seed=6_000, decide=experiments_decide_task)

    MEASURED["watch of the weaker model"] = f"rolled back after {searches} searches: {watch.decision_reason}"
    assert watch.decision == ExperimentDecision.ROLLED_BACK, watch.decision_reason
    assert production_version() == shop.production
    rollback = ModelVersionTransition.objects.filter(kind="rollback").latest("id")
    assert rollback.actor == f"experiment:{watch.pk}"
    assert "the replaced version is preferred to production" in rollback.reason
    assert "wins" in rollback.reason
    assert "always-valid p" in rollback.reason
