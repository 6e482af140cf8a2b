"""Creating, starting, stopping and advancing experiments (``ranking.experiments.services``),
and the invariants the database holds whatever the code does."""

from __future__ import annotations

import threading
import time

import pytest
from django.db import IntegrityError, connection, transaction
from django.utils import timezone

from ranking.errors import ExperimentError
from ranking.experiments.rules import Rules
from ranking.experiments.services import (
    experiment_create,
    experiment_stage_advance,
    experiment_start,
    experiment_stop,
)
from ranking.models import Experiment, ExperimentStatus, ModelStatus
from tests.integration.experiments.support import launch
from tests.registry_factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def production():
    return ModelVersionFactory(status=ModelStatus.PRODUCTION)


@pytest.fixture
def candidate():
    return ModelVersionFactory()


def test_launching_verifies_the_challenger_and_starts_it_against_production(production, candidate):
    experiment = launch(kind="interleaving", challenger=f"v{candidate.version}", traffic=0.2)

    assert experiment.status == ExperimentStatus.RUNNING
    assert (experiment.control_version, experiment.challenger_version) == (production, candidate)
    assert experiment.control_was_production
    assert experiment.traffic == 0.2
    assert experiment.started_at is not None
    assert experiment.created_by == "test"
    assert Rules.from_dict(experiment.guardrails) == Rules()  # the settings' rules, copied
    assert (experiment.min_searches, experiment.max_searches, experiment.max_days) == (200, 20_000, 14.0)


def test_a_baseline_can_be_either_side(production):
    experiment = launch(kind="ab", control="bm25", challenger="random", traffic=1.0)
    assert (experiment.control_label, experiment.challenger_label) == ("bm25", "random")
    assert not experiment.control_was_production


def test_a_second_experiment_is_refused_naming_the_running_one_and_nothing_is_created(production, candidate):
    running = launch(kind="interleaving", challenger=f"v{candidate.version}")

    expected = (
        rf"experiment {running.pk} \(interleaving of v{candidate.version} against v{production.version}\)"
    )
    with pytest.raises(ExperimentError, match=expected):
        launch(kind="ab", challenger="random")

    assert list(Experiment.objects.values_list("pk", flat=True)) == [running.pk]


@pytest.mark.parametrize(
    ("fields", "message"),
    [
        ({"kind": "interleaving", "challenger": "v99"}, "challenger: There is no model version v99"),
        ({"kind": "interleaving", "challenger": "lightgbm"}, "challenger: unknown ranker 'lightgbm'"),
        (
            {"kind": "interleaving", "challenger": "bm25", "traffic": 0.0},
            r"traffic: must be in \(0, 1\], got 0",
        ),
        (
            {"kind": "interleaving", "challenger": "bm25", "traffic": 1.5},
            r"traffic: must be in \(0, 1\], got 1.5",
        ),
        ({"kind": "split", "challenger": "bm25"}, "kind: must be one of shadow, interleaving, ab"),
        ({"kind": "ab", "challenger": "bm25", "control": "bm25"}, "bm25 is the control too"),
        ({"kind": "ab", "challenger": "production"}, "challenger: production is the control"),
        (
            {"kind": "interleaving", "challenger": "bm25", "stages": [0.1, 0.5]},
            "stages: canary stages are for A/B",
        ),
        ({"kind": "ab", "challenger": "bm25", "stages": [0.5, 0.1]}, "stages: must rise strictly"),
        (
            {"kind": "ab", "challenger": "bm25", "max_searches": 10, "min_searches": 50},
            "max_searches: must be at least",
        ),
        ({"kind": "ab", "challenger": "bm25", "max_days": 0}, "max_days: must be > 0"),
    ],
)
def test_bad_input_is_refused_naming_the_field_and_nothing_is_created(production, fields, message):
    with pytest.raises(ExperimentError, match=message):
        launch(**fields)
    assert not Experiment.objects.exists()


def test_the_production_version_cannot_be_the_challenger(production):
    with pytest.raises(ExperimentError, match=f"challenger: v{production.version} is in production"):
        launch(kind="interleaving", challenger=f"v{production.version}")


def test_production_as_control_needs_a_production_model(candidate):
    with pytest.raises(ExperimentError, match="control: there is no production model"):
        launch(kind="interleaving", challenger=f"v{candidate.version}")
    assert not Experiment.objects.exists()


def test_a_challenger_that_fails_verification_is_refused_and_nothing_is_created(production):
    corrupted = ModelVersionFactory(model_sha256="0" * 64)

    with pytest.raises(ExperimentError, match=f"challenger: v{corrupted.version} failed verification"):
        launch(kind="interleaving", challenger=f"v{corrupted.version}")
    assert not Experiment.objects.exists()


def test_canary_stages_start_the_traffic_at_the_first_and_advance_one_at_a_time(production):
    experiment = launch(kind="ab", challenger="bm25", stages=[0.05, 0.25, 0.5])
    assert (experiment.traffic, experiment.stage) == (0.05, 0)

    advanced = experiment_stage_advance(experiment_id=experiment.pk, actor="test")
    assert (advanced.traffic, advanced.stage) == (0.25, 1)
    assert advanced.stage_started_at > experiment.stage_started_at

    experiment_stage_advance(experiment_id=experiment.pk, actor="test")
    with pytest.raises(ExperimentError, match="no further stage"):
        experiment_stage_advance(experiment_id=experiment.pk, actor="test")


def test_stopping_records_who_and_why_and_frees_the_way_for_the_next(production):
    experiment = launch(kind="shadow", challenger="bm25")

    stopped = experiment_stop(reason="enough seen", actor="cli:alice")

    assert stopped.pk == experiment.pk
    assert (stopped.status, stopped.stop_reason, stopped.stopped_by) == (
        "stopped",
        "enough seen",
        "cli:alice",
    )
    assert stopped.stopped_at is not None
    assert launch(kind="shadow", challenger="random").status == ExperimentStatus.RUNNING


def test_stopping_without_a_running_experiment_or_a_reason_is_refused(production):
    with pytest.raises(ExperimentError, match="no experiment is running"):
        experiment_stop(reason="why not", actor="test")
    launch(kind="shadow", challenger="bm25")
    with pytest.raises(ExperimentError, match="reason: required"):
        experiment_stop(reason=" ", actor="test")


def test_only_a_draft_starts(production):
    draft = experiment_create(kind="shadow", challenger="bm25", actor="test")
    experiment_start(experiment_id=draft.pk, actor="test")
    with pytest.raises(ExperimentError, match="only a draft can start"):
        experiment_start(experiment_id=draft.pk, actor="test")


@pytest.mark.django_db(transaction=True)
def test_of_two_drafts_started_at_once_exactly_one_runs_and_the_database_decides():
    # The first start's transaction stays open until the second is waiting on the unique
    # index, so both passed the check in Python: only the constraint can tell them apart.
    drafts = [
        experiment_create(kind="shadow", control=name, challenger="random", actor="test")
        for name in ("bm25", "input")
    ]
    started, release = threading.Event(), threading.Event()
    outcomes: dict[str, object] = {}

    def first() -> None:
        try:
            with transaction.atomic():
                outcomes["first"] = experiment_start(experiment_id=drafts[0].pk, actor="test")
                started.set()
                release.wait(30)
        finally:
            connection.close()

    def second() -> None:
        try:
            outcomes["second"] = experiment_start(experiment_id=drafts[1].pk, actor="test")
        except ExperimentError as error:
            outcomes["second"] = error
        finally:
            connection.close()

    threads = [threading.Thread(target=first), threading.Thread(target=second)]
    threads[0].start()
    assert started.wait(30)
    threads[1].start()
    deadline = time.monotonic() + 30
    while not _waiting_on_another_transaction() and time.monotonic() < deadline:
        time.sleep(0.02)
    release.set()
    for thread in threads:
        thread.join(30)

    assert isinstance(outcomes["first"], Experiment)
    assert isinstance(outcomes["second"], ExperimentError)
    assert f"experiment {drafts[0].pk} (shadow of random against bm25) is running" in str(outcomes["second"])
    assert list(Experiment.objects.filter(status="running").values_list("pk", flat=True)) == [drafts[0].pk]


def _waiting_on_another_transaction() -> bool:
    with connection.cursor() as cursor:
        cursor.execute("SELECT count(*) FROM pg_locks WHERE locktype = 'transactionid' AND NOT granted")
        return cursor.fetchone()[0] > 0


# --- the database ---------------------------------------------------------------------------


def row(**fields) -> Experiment:
    values = {"kind": "shadow", "control_baseline": "bm25", "challenger_baseline": "random", "traffic": 0.5}
    return Experiment(**{**values, **fields}, created_by="test")


def test_the_database_refuses_a_second_running_experiment():
    row(status="running", started_at=timezone.now()).save()
    with pytest.raises(IntegrityError), transaction.atomic():
        row(status="running", started_at=timezone.now()).save()


@pytest.mark.parametrize(
    "fields",
    [
        {"traffic": 0.0},
        {"traffic": 1.01},
        {"control_baseline": ""},  # no control at all
        {"challenger_baseline": "lightgbm"},
        {"status": "running"},  # running without a start time
        {"status": "stopped", "started_at": timezone.now(), "stopped_at": timezone.now()},  # no reason
        {"kind": "split"},
    ],
)
def test_the_database_refuses_what_no_experiment_can_be(fields):
    with pytest.raises(IntegrityError), transaction.atomic():
        row(**fields).save()
