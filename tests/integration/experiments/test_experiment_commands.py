"""The experiment commands, called as a person would call them."""

from __future__ import annotations

import io
import json

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError

from ranking.models import Experiment, ExperimentStatus, ModelStatus
from tests.integration.experiments.support import interleaved_searches
from tests.registry_factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


def run(*args: str) -> str:
    out = io.StringIO()
    call_command(*args, stdout=out)
    return out.getvalue()


@pytest.fixture
def production():
    return ModelVersionFactory(status=ModelStatus.PRODUCTION)


def test_experiment_start_starts_an_interleaving_of_a_candidate_against_production(production):
    candidate = ModelVersionFactory()

    out = run(
        "experiment_start",
        "--kind",
        "interleaving",
        "--challenger",
        f"v{candidate.version}",
        "--traffic",
        "0.3",
    )

    experiment = Experiment.objects.get()
    assert experiment.status == ExperimentStatus.RUNNING
    assert f"challenger v{candidate.version} vs control v{production.version} on 30% of searches" in out
    assert experiment.created_by.startswith("cli")


def test_experiment_start_with_canary_stages_and_limits(production):
    run(
        "experiment_start",
        "--kind",
        "ab",
        "--challenger",
        "bm25",
        "--stages",
        "0.05,0.25,0.5",
        "--min-searches",
        "10",
        "--max-searches",
        "500",
        "--max-days",
        "3",
    )

    experiment = Experiment.objects.get()
    assert (experiment.traffic, experiment.stages) == (0.05, [0.05, 0.25, 0.5])
    assert (experiment.min_searches, experiment.max_searches, experiment.max_days) == (10, 500, 3.0)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (("--challenger", "v42"), "There is no model version v42"),
        (("--challenger", "bm25", "--traffic", "2"), r"traffic: must be in \(0, 1\]"),
        (("--challenger", "bm25", "--stages", "a,b"), "stages: comma-separated"),
    ],
)
def test_experiment_start_refuses_bad_input_and_changes_nothing(production, args, message):
    with pytest.raises(CommandError, match=message):
        run("experiment_start", "--kind", "ab", *args)
    assert not Experiment.objects.exists()


def test_experiment_start_refuses_a_second_experiment(production):
    run("experiment_start", "--kind", "shadow", "--challenger", "bm25")
    with pytest.raises(CommandError, match="is running; stop it first"):
        run("experiment_start", "--kind", "ab", "--challenger", "random")
    assert Experiment.objects.count() == 1


def test_experiment_report_prints_the_numbers_and_json_has_them_all(production):
    run("experiment_start", "--kind", "interleaving", "--challenger", "random")
    interleaved_searches(Experiment.objects.get(), wins=40, losses=10)

    text = run("experiment_report")
    report = json.loads(run("experiment_report", "--json"))

    assert "Clicks: preference +0.600" in text
    assert "40 wins, 10 losses, 0 ties" in text
    assert "By query segment (clicks):" in text
    assert report["interleaving"]["click"]["wins"] == 40
    assert report["searches"] == 50


def test_experiment_report_of_an_unknown_or_missing_experiment_says_so(production):
    with pytest.raises(CommandError, match="There are no experiments yet"):
        run("experiment_report")
    with pytest.raises(CommandError, match="There is no experiment 9"):
        run("experiment_report", "--id", "9")


def test_list_experiments_and_experiment_stop(production):
    assert run("list_experiments").strip() == "No experiments yet."
    run("experiment_start", "--kind", "ab", "--challenger", "popularity", "--traffic", "0.5")

    stopped = run("experiment_stop", "--reason", "checked the arms")
    listing = run("list_experiments")

    assert "reason: checked the arms" in stopped
    assert "popularity" in listing
    assert "stopped" in listing
    with pytest.raises(CommandError, match="no experiment is running"):
        run("experiment_stop")


def test_experiment_decide_runs_the_evaluation_once_and_says_what_it_did(production):
    assert run("experiment_decide").strip() == "No experiment is running and none is due."
    run("experiment_start", "--kind", "shadow", "--challenger", "bm25")

    assert "continue: 0 of at least 200 searches" in run("experiment_decide")
