"""Reads of experiments (``ranking.experiments.selectors``) on PostgreSQL: events credited to
an experiment's searches by request id and product, aggregated in the database."""

from __future__ import annotations

import numpy as np
import pytest

from ranking.experiments.arms import RankerRef
from ranking.experiments.selectors import (
    ab_units_get,
    candidates_awaiting_online_get,
    experiment_live_get,
    exposure_counts_get,
    interleaved_searches_get,
    promotion_to_watch_get,
    shadow_orders_get,
)
from ranking.models import Experiment, ExperimentPurpose, ModelStatus
from ranking.services import model_version_promote, model_version_rollback
from tests.integration.experiments.support import launch, logged_search, user_did
from tests.registry_factories import ModelVersionFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def production():
    return ModelVersionFactory(status=ModelStatus.PRODUCTION)


@pytest.fixture
def interleaving(production) -> Experiment:
    return launch(kind="interleaving", challenger="bm25", traffic=0.5)


def test_clicks_are_credited_by_request_id_and_product_to_the_team_of_the_products_position(interleaving):
    won = logged_search(interleaving, products=["x", "a", "b"], teams="=AB", user="U1")
    user_did(won, "b")  # the challenger's product
    user_did(won, "b")  # the same product again: counted once
    user_did(won, "x")  # shared: clicked, credited to nobody
    user_did(won, "z")  # not in the list: ignored
    user_did(won, "a", "add_to_cart")  # the control's product, in the cart
    quiet = logged_search(interleaving, products=["a", "b"], teams="BA", user="U2")
    failed = logged_search(interleaving, products=["a", "b"], teams="", error="not loaded")
    user_did(failed, "a")
    other = logged_search(None, products=["a", "b"], arm="")
    user_did(other, "b")

    searches = interleaved_searches_get(experiment_id=interleaving.pk)

    assert searches.units.tolist() == ["u:U1", "u:U2"]  # the failed one had no teams
    assert searches.acted["click"].tolist() == [True, False]
    assert searches.credit["click"].tolist() == [[0, 1], [0, 0]]
    assert searches.credit["add_to_cart"].tolist() == [[1, 0], [0, 0]]
    assert searches.acted["add_to_cart"].tolist() == [True, False]
    assert searches.credit["purchase"].tolist() == [[0, 0], [0, 0]]
    assert quiet.request_id != won.request_id


def test_a_click_on_a_shared_product_makes_a_search_clicked_but_tied(interleaving):
    search = logged_search(interleaving, products=["x", "a"], teams="=A")
    user_did(search, "x")

    searches = interleaved_searches_get(experiment_id=interleaving.pk)

    assert searches.acted["click"].tolist() == [True]
    assert searches.credit["click"].tolist() == [[0, 0]]


def test_ab_sums_each_users_searches_clicks_carts_purchases_and_first_click_ranks(production):
    ab = launch(kind="ab", challenger="bm25", traffic=0.5)
    first = logged_search(ab, products=["a", "b", "c"], arm="control", user="U1")
    user_did(first, "b")
    user_did(first, "c")
    user_did(first, "c", "add_to_cart")
    second = logged_search(ab, products=["a", "b", "c"], arm="control", user="U1")
    user_did(second, "a")
    user_did(second, "a", "purchase")
    logged_search(ab, products=["a", "b"], arm="control", user="", session="S9")
    challenger = logged_search(ab, products=["c", "a"], arm="challenger", user="U2")
    user_did(challenger, "a")

    arms = ab_units_get(experiment_id=ab.pk)

    control = arms["control"]  # units in order: s:S9, u:U1
    assert control.searches.tolist() == [1, 2]
    assert control.clicked.tolist() == [0, 2]
    assert control.clicks.tolist() == [0, 3]
    assert control.carted.tolist() == [0, 1]
    assert control.purchased.tolist() == [0, 1]
    # First clicks at positions 2 and 1: 1/2 + 1.
    assert control.reciprocal_rank.tolist() == pytest.approx([0.0, 1.5])
    assert arms["challenger"].reciprocal_rank.tolist() == pytest.approx([0.5])


def test_exposure_counts_take_errors_and_time_only_where_the_challenger_took_part(production):
    ab = launch(kind="ab", challenger="bm25", traffic=0.5)
    logged_search(ab, products=["a"], arm="control")
    logged_search(ab, products=["a"], arm="challenger", seconds=0.002)
    logged_search(ab, products=["a"], arm="challenger", seconds=0.004)
    logged_search(ab, products=["a"], arm="challenger", error="raised ValueError")

    counts = exposure_counts_get(experiment_id=ab.pk)

    assert (counts.searches, counts.challenger_searches, counts.challenger_errors) == (4, 3, 1)
    assert counts.added_seconds_mean == pytest.approx(0.003)
    assert counts.timed_searches == 2


def test_shadow_orders_come_in_pairs_of_control_and_challenger(production):
    shadow = launch(kind="shadow", challenger="random", traffic=1.0)
    logged_search(shadow, products=["a", "b"], arm="shadow", shadow=["b", "a"])
    logged_search(shadow, products=["a", "b"], arm="shadow", error="not loaded")

    assert list(shadow_orders_get(experiment_id=shadow.pk)) == [(["a", "b"], ["b", "a"])]


def test_serving_sees_the_running_experiment_as_plain_values(production):
    assert experiment_live_get() is None
    running = launch(kind="interleaving", challenger="popularity", traffic=0.25)

    live = experiment_live_get()

    assert (live.id, live.kind, live.traffic) == (running.pk, "interleaving", 0.25)
    assert live.control == RankerRef(version=production.version)
    assert live.challenger == RankerRef(baseline="popularity")


def test_only_a_promotion_that_replaced_a_version_and_has_no_watch_is_to_be_watched():
    first, second = ModelVersionFactory(), ModelVersionFactory()
    model_version_promote(version=first.version, actor="test", reason="first")
    assert promotion_to_watch_get() is None  # it replaced nothing

    model_version_promote(version=second.version, actor="test", reason="better")
    promotion = promotion_to_watch_get()
    assert (promotion.model_version, promotion.replaced) == (second, first)

    launch(
        kind="interleaving",
        purpose=ExperimentPurpose.WATCH,
        challenger=f"v{first.version}",
        watched_transition=promotion,
    )
    assert promotion_to_watch_get() is None


def test_a_rollback_is_not_watched():
    first, second = ModelVersionFactory(), ModelVersionFactory()
    model_version_promote(version=first.version, actor="test", reason="first")
    model_version_promote(version=second.version, actor="test", reason="better")
    model_version_rollback(actor="test", reason="worse after all")

    assert promotion_to_watch_get() is None


def test_candidates_awaiting_their_online_gate_newest_first_without_those_already_taken(production):
    waiting = [ModelVersionFactory(decision={"action": "online", "reason": "gates passed"}) for _ in range(3)]
    ModelVersionFactory(decision={"action": "rejected"})
    launch(kind="interleaving", purpose=ExperimentPurpose.PROMOTION, challenger=f"v{waiting[0].version}")

    awaiting = candidates_awaiting_online_get(action="online")

    assert [v.version for v in awaiting] == [waiting[2].version, waiting[1].version]
    assert np.all([v.status == ModelStatus.CANDIDATE for v in awaiting])
