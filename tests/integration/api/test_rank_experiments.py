"""POST /api/rank while an experiment runs (``ranking.serving.experiment``): each kind answers
as ``ranking.experiments.routing`` lays down, the impression log records the exposure, the
answer names the experiment and arm, a challenger that fails never fails the request, and a
start or a stop reaches a worker within its check interval."""

from __future__ import annotations

import random
import time

import lightgbm
import numpy as np
import pytest

from catalog.models import SearchRequest
from ranking.experiments.arms import in_share, request_seed, unit_key
from ranking.experiments.interleaving import team_draft_interleave
from ranking.experiments.services import experiment_launch, experiment_stop
from ranking.models import ModelStatus, ModelVersion
from ranking.serving import experiment as serving_experiment
from ranking.serving.rank import features_look_up
from ranking.serving.state import SERVING
from ranking.serving.validation import rank_request_validate
from tests.factories import ContractModelVersionFactory, contract_model_text
from tests.integration.api.support import (
    RANK,
    SHOE_IDS,
    metric_value,
    post_json,
    serve_current,
    shoe_catalog_create,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def shop() -> dict[str, ModelVersion]:
    """The catalog, a production model and a candidate that learned the grades upside down."""
    shoe_catalog_create()
    return {
        "production": ContractModelVersionFactory(),
        "candidate": ContractModelVersionFactory(
            status=ModelStatus.CANDIDATE, model_text=contract_model_text(backwards=True)
        ),
    }


def start(kind: str, challenger: str, traffic: float = 1.0, **fields):
    experiment = experiment_launch(actor="test", kind=kind, challenger=challenger, traffic=traffic, **fields)
    serve_current()
    return experiment


def body(ids: list[str] = SHOE_IDS, user: str = "U1", **fields) -> dict:
    products = [{"id": pid, "title": "", "price": 1, "category": ""} for pid in ids]
    return {"query": "running shoes", "user_id": user, "products": products, **fields}


def rank(client, payload: dict) -> dict:
    response = post_json(client, RANK, payload)
    assert response.status_code == 200, response.content
    return response.json()


def answered(answer: dict) -> list[str]:
    return [item["id"] for item in answer["ranked_products"]]


def by_score(answer: dict) -> list[str]:
    """The control's order: its raw scores, best first (ties keep the order sent)."""
    items = sorted(enumerate(answer["ranked_products"]), key=lambda pair: (-pair[1]["raw_score"], pair[0]))
    return [item["id"] for _, item in items]


def candidate_order(model: ModelVersion, payload: dict) -> list[str]:
    """What the candidate alone would answer: its predict on the request's matrix."""
    request = rank_request_validate(payload)
    features = features_look_up(SERVING.peek(), request)
    scores = lightgbm.Booster(model_str=model.model_text).predict(features, num_threads=1)
    return [request.ids[i] for i in np.argsort(-scores, kind="stable")]


def logged(answer: dict) -> SearchRequest:
    return SearchRequest.objects.get(request_id=answer["request_id"])


def test_an_interleaved_search_answers_the_team_draft_and_logs_each_positions_team(client, shop):
    experiment = start("interleaving", f"v{shop['candidate'].version}")
    payload = body()

    answer = rank(client, payload)

    control, challenger = by_score(answer), candidate_order(shop["candidate"], payload)
    assert control != challenger
    drafted = team_draft_interleave(
        control, challenger, rng=random.Random(request_seed(answer["request_id"]))
    )
    assert answered(answer) == drafted.items
    assert answer["experiment"] == {"id": experiment.pk, "kind": "interleaving", "arm": "interleaved"}
    assert answer["model_version"] == shop["production"].version
    row = logged(answer)
    assert (row.experiment_id, row.arm, row.teams) == (experiment.pk, "interleaved", drafted.teams)
    assert row.product_ids == drafted.items
    assert row.challenger_error == ""
    assert row.challenger_seconds > 0
    assert row.model_version == shop["production"].version


def test_a_shadowed_search_answers_the_controls_order_and_records_the_challengers_beside_it(client, shop):
    serve_current()
    payload = body(limit=5)
    before = rank(client, payload)
    experiment = start("shadow", f"v{shop['candidate'].version}")

    answer = rank(client, payload)

    assert answered(answer) == answered(before)
    assert answer["experiment"] == {"id": experiment.pk, "kind": "shadow", "arm": "shadow"}
    row = logged(answer)
    assert row.product_ids == answered(before)
    assert row.shadow_ids == candidate_order(shop["candidate"], payload)[:5]
    assert row.teams == ""


def test_ab_gives_each_user_the_same_arm_at_every_search_and_the_arm_answers(client, shop):
    serve_current()
    production = answered(rank(client, body()))
    experiment = start("ab", "input", traffic=0.5)

    arms: dict[str, set[str]] = {}
    for user in (f"U{i}" for i in range(24)):
        for _ in range(2):
            answer = rank(client, body(user=user, limit=6))
            arm = answer["experiment"]["arm"]
            arms.setdefault(user, set()).add(arm)
            # The challenger ("input") keeps the order sent; the control is production.
            assert answered(answer) == (SHOE_IDS[:6] if arm == "challenger" else production[:6])
            assert answer["model_version"] == shop["production"].version

    assert all(len(seen) == 1 for seen in arms.values())
    expected = {
        user: "challenger"
        if in_share(experiment_id=experiment.pk, unit=unit_key(user_id=user, session_id="", request_id=""), share=0.5)
        else "control"
        for user in arms
    }  # fmt: skip
    assert {user: seen.pop() for user, seen in arms.items()} == expected
    assert set(expected.values()) == {"control", "challenger"}


def test_searches_outside_the_traffic_share_are_not_in_the_experiment(client, shop):
    experiment = start("interleaving", "input", traffic=0.3)

    answers = [rank(client, body(user=f"U{i}")) for i in range(30)]

    inside = [a for a in answers if a["experiment"] is not None]
    outside = [a for a in answers if a["experiment"] is None]
    assert inside
    assert outside
    assert {logged(a).experiment_id for a in inside} == {experiment.pk}
    assert {(logged(a).experiment_id, logged(a).arm) for a in outside} == {(None, "")}


def test_a_challenger_whose_model_text_is_corrupt_leaves_the_control_answering_and_is_counted(client, shop):
    candidate = shop["candidate"]
    experiment = experiment_launch(
        actor="test", kind="interleaving", challenger=f"v{candidate.version}", traffic=1.0
    )
    # Corrupted after its start was verified: the worker's load refuses it (sha256).
    ModelVersion.objects.filter(pk=candidate.pk).update(
        model_text=candidate.model_text.replace("Tree=1", "Tree=7")
    )
    serve_current()
    before = metric_value(client, "searchop_experiment_errors_total", cause="load")
    payload = body()

    answer = rank(client, payload)

    assert answered(answer) == by_score(answer)  # the control's order
    assert answer["experiment"] == {"id": experiment.pk, "kind": "interleaving", "arm": "interleaved"}
    row = logged(answer)
    assert row.challenger_error.startswith(f"v{candidate.version} failed verification")
    assert row.teams == ""
    assert metric_value(client, "searchop_experiment_errors_total", cause="load") == before + 1


def test_a_baseline_that_raises_leaves_the_control_answering_and_is_counted(client, shop, monkeypatch):
    def broken(name, features, *, seed):
        raise RuntimeError("broken baseline")

    monkeypatch.setattr(serving_experiment, "baseline_scores", broken)
    start("ab", "popularity", traffic=1.0)
    before = metric_value(client, "searchop_experiment_errors_total", cause="score")

    answer = rank(client, body())

    assert answered(answer) == by_score(answer)
    assert answer["experiment"]["arm"] == "challenger"
    assert logged(answer).challenger_error == "popularity raised RuntimeError: broken baseline"
    assert metric_value(client, "searchop_experiment_errors_total", cause="score") == before + 1


def test_explain_inside_an_experiment_still_gives_the_controls_contributions(client, shop):
    start("interleaving", "input")

    answer = rank(client, body(explain=True))

    for item in answer["ranked_products"]:
        assert sum(item["contributions"].values()) == pytest.approx(item["raw_score"], abs=1e-9)


def test_a_baseline_control_answers_with_no_model_version(client, shop):
    start("ab", "input", control="bm25", traffic=1.0)

    answer = rank(client, body())

    assert answer["experiment"]["arm"] == "challenger"
    assert answered(answer) == SHOE_IDS
    assert answer["model_version"] is None
    assert logged(answer).model_version is None


@pytest.mark.django_db(transaction=True)
def test_a_start_and_a_stop_reach_the_worker_within_its_check_interval(client, shop, settings):
    """A real worker's check, with the candidate loaded in the background: the experiment
    field appears after the start and becomes null after the stop, each within seconds."""
    settings.SEARCHOP_MODEL_CHECK_SECONDS = 0.5
    SERVING.reset()
    assert rank(client, body())["experiment"] is None

    experiment = experiment_launch(
        actor="test", kind="interleaving", challenger=f"v{shop['candidate'].version}", traffic=1.0
    )
    started_after = seconds_until(lambda: rank(client, body())["experiment"] is not None)
    answer = rank(client, body())
    experiment_stop(reason="enough", actor="test")
    stopped_after = seconds_until(lambda: rank(client, body())["experiment"] is None)

    assert answer["experiment"]["id"] == experiment.pk
    assert logged(answer).teams  # the candidate loaded and took part
    assert started_after < 10.0
    assert stopped_after < 2.0


def seconds_until(condition, timeout: float = 30.0) -> float:
    started = time.monotonic()
    while not condition():
        assert time.monotonic() - started < timeout, f"not within {timeout:g} s"
        time.sleep(0.05)
    return time.monotonic() - started
