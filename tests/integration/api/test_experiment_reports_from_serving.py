"""End to end through the HTTP API: an experiment started by its service, searches served by
``/api/rank``, what users did sent to ``/api/events`` with the request id, and the
experiment's report (``ranking.experiments.reports``) counting it, for each kind. The
challenger is ``input`` (the order the shop sent), so each test decides, by the order it
sends, what the challenger shows first."""

from __future__ import annotations

import uuid

import pytest

from ranking.experiments.comparisons import rank_biased_overlap
from ranking.experiments.reports import experiment_report_build
from ranking.experiments.selectors import experiment_get
from ranking.experiments.services import experiment_launch
from tests.factories import ContractModelVersionFactory
from tests.integration.api.support import (
    EVENTS,
    RANK,
    SHOE_IDS,
    post_json,
    serve_current,
    shoe_catalog_create,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def production_order(client) -> list[str]:
    """A catalog and a production model; the order production gives the catalog."""
    shoe_catalog_create()
    ContractModelVersionFactory()
    serve_current()
    return ids_of(rank(client, SHOE_IDS, user="U0"))


def start(kind: str, traffic: float = 1.0):
    experiment = experiment_launch(actor="test", kind=kind, challenger="input", traffic=traffic)
    serve_current()
    return experiment


def rank(client, ids: list[str], *, user: str) -> dict:
    products = [{"id": pid, "title": "", "price": 1, "category": ""} for pid in ids]
    response = post_json(client, RANK, {"query": "running shoes", "user_id": user, "products": products})
    assert response.status_code == 200, response.content
    return response.json()


def ids_of(answer: dict) -> list[str]:
    return [item["id"] for item in answer["ranked_products"]]


def user_did(client, answer: dict, product_id: str, kind: str = "click") -> None:
    """What the shop's front end sends: the event, with the list's request id and position."""
    event = {
        "event_id": str(uuid.uuid4()),
        "event_type": kind,
        "product_id": product_id,
        "request_id": answer["request_id"],
        "position": ids_of(answer).index(product_id) + 1,
    }
    response = post_json(client, EVENTS, {"events": [event]})
    assert response.status_code == 200, response.content


def report(experiment) -> dict:
    return experiment_report_build(experiment_get(experiment_id=experiment.pk), bootstrap_resamples=200)


def test_interleaving_credits_clicks_by_request_id_and_counts_wins_and_losses(client, production_order):
    """The shop sends production's last product first: the challenger ranks it first, so
    team draft always gives it to the challenger's team, and production's first to the
    control's. Clicks on the one are wins, on the other losses."""
    worst, best = production_order[-1], production_order[0]
    sent = [worst, *production_order[:-1]]
    experiment = start("interleaving")
    plan = ["worst"] * 20 + ["best"] * 6 + ["none"] * 4

    for i, clicked in enumerate(plan):
        answer = rank(client, sent, user=f"U{i}")
        assert answer["experiment"]["arm"] == "interleaved"
        if clicked != "none":
            user_did(client, answer, worst if clicked == "worst" else best)
        if i < 3:
            user_did(client, answer, worst, kind="add_to_cart")

    result = report(experiment)
    clicks = result["interleaving"]["click"]
    assert result["searches"] == len(plan)
    assert result["challenger_errors"] == 0
    assert result["added_ms_mean"] > 0
    assert (clicks["wins"], clicks["losses"], clicks["ties"]) == (20, 6, 0)
    assert clicks["searches_with_click"] == 26
    assert clicks["preference"] == pytest.approx((20 - 6) / 26)
    assert clicks["sign_test_p"] < 0.05
    carts = result["interleaving"]["add_to_cart"]
    assert (carts["wins"], carts["losses"]) == (3, 0)


def test_shadow_compares_the_two_orders_it_recorded(client, production_order):
    """Half the searches are sent in production's order (the challenger agrees), half
    reversed (it disagrees everywhere)."""
    experiment = start("shadow")

    for i in range(10):
        answer = rank(client, production_order, user=f"U{i}")
        assert ids_of(answer) == production_order
        answer = rank(client, production_order[::-1], user=f"V{i}")
        assert ids_of(answer) == production_order  # shadow: the control answers

    shadow = report(experiment)["shadow"]
    assert shadow["searches"] == 20
    assert shadow["overlap_at_10"] == pytest.approx(1.0)  # the same 8 products
    assert shadow["kendall_tau"] == pytest.approx(0.0)  # the mean of 1 and -1
    reversed_rbo = rank_biased_overlap(production_order, production_order[::-1])
    assert shadow["rank_biased_overlap"] == pytest.approx((1.0 + reversed_rbo) / 2)
    assert shadow["top3_differs"] == pytest.approx(0.5)


def test_ab_keeps_each_user_in_one_arm_and_reports_each_arms_clicks(client, production_order):
    """Users click the first product only when the challenger answered: the challenger's CTR
    is 1 and the control's 0, over the users and searches each arm really served."""
    experiment = start("ab", traffic=0.5)
    arm_of: dict[str, set[str]] = {}
    searches = {"control": 0, "challenger": 0}

    for i in range(30):
        user = f"U{i}"
        for _ in range(2):
            answer = rank(client, production_order[::-1], user=user)
            arm = answer["experiment"]["arm"]
            arm_of.setdefault(user, set()).add(arm)
            searches[arm] += 1
            if arm == "challenger":
                user_did(client, answer, ids_of(answer)[0])

    assert all(len(arms) == 1 for arms in arm_of.values())
    users = {arm: sum(1 for arms in arm_of.values() if arm in arms) for arm in searches}
    arms = report(experiment)["ab"]["arms"]
    for arm in ("control", "challenger"):
        assert (arms[arm]["users"], arms[arm]["searches"]) == (users[arm], searches[arm])
    assert arms["challenger"]["ctr"] == 1.0
    assert arms["control"]["ctr"] == 0.0
