"""The shop's shoppers, live (catalog.synthetic.shoppers): any ranker, the same shoppers."""

from __future__ import annotations

import itertools
from datetime import UTC, datetime

import numpy as np
import pytest

from catalog.synthetic import SyntheticConfig, true_relevance
from catalog.synthetic.shop import Shop
from catalog.synthetic.shoppers import RankAnswer, ShopperSimulator

CONFIG = SyntheticConfig(products=300, categories=4, users=120, seed=5)
NOON = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@pytest.fixture(scope="module")
def shop() -> Shop:
    """The shop of CONFIG as the generator builds it (about a second): shared by the tests."""
    return Shop.generate(CONFIG, np.random.default_rng(CONFIG.seed))


@pytest.fixture
def simulator_of(shop):
    def make(seed: int = 1, new_queries: float = 0.0) -> ShopperSimulator:
        return ShopperSimulator(shop, CONFIG, seed=seed, new_queries=new_queries, clock=lambda: NOON)

    return make


def counter_ids():
    numbers = itertools.count()
    return lambda: f"r{next(numbers)}"


def oracle(simulator: ShopperSimulator, *, reverse: bool):
    """A ranker that knows the ground truth: most relevant first (or last, reversed)."""
    shop = simulator.shop
    query_index = {text: i for i, text in enumerate(shop.queries.text)}
    user_index = {user: i for i, user in enumerate(shop.users.ids)}
    product_index = {pid: i for i, pid in enumerate(shop.catalog.external_ids)}
    rng = np.random.default_rng(99)
    next_id = counter_ids()

    def rank(query, user_id, session_id, candidates):
        products = np.array([product_index[product["id"]] for product in candidates])
        grades = true_relevance(
            products,
            query=query_index[" ".join(query.lower().split())],
            user=user_index[user_id],
            shop=shop,
            rng=rng,
        )
        order = np.argsort(-grades, kind="stable")
        if reverse:
            order = order[::-1]
        return RankAnswer(next_id(), [candidates[i]["id"] for i in order])

    return rank


def plain(simulator: ShopperSimulator, searches: int, rank=None) -> list:
    next_id = counter_ids()
    rank = rank or (lambda q, u, s, candidates: RankAnswer(next_id(), [p["id"] for p in candidates]))
    return list(simulator.run(searches, rank))


def test_the_same_seed_gives_the_same_searches_and_the_same_events(simulator_of):
    first, second = plain(simulator_of(seed=4), 300), plain(simulator_of(seed=4), 300)
    assert [(s.query, s.user_id, s.session_id, s.candidates) for s in first] == [
        (s.query, s.user_id, s.session_id, s.candidates) for s in second
    ]
    assert [s.events for s in first] == [s.events for s in second]
    assert sum(len(s.events) for s in first) > 0


def test_another_seed_gives_other_searches(simulator_of):
    first, second = plain(simulator_of(seed=4), 100), plain(simulator_of(seed=5), 100)
    assert [s.query for s in first] != [s.query for s in second]


def test_it_makes_exactly_the_searches_asked_for_with_10_to_20_candidates(simulator_of):
    searches = plain(simulator_of(), 700)  # more than one draw of sessions
    assert len(searches) == 700
    assert all(10 <= len(s.candidates) <= 20 for s in searches)
    assert len({s.session_id for s in searches}) < 700  # sessions of several searches


def test_events_name_the_request_the_position_shown_and_the_clock(simulator_of):
    searches = plain(simulator_of(), 400)
    events = [(s, event) for s in searches for event in s.events]
    assert {event["event_type"] for _, event in events} == {"click", "add_to_cart", "purchase"}
    for search, event in events:
        assert event["request_id"] == search.request_id
        assert search.shown[event["position"] - 1] == event["product_id"]
        assert event["timestamp"] == NOON
        assert event["user_id"] == search.user_id
        assert len(event["event_id"]) == 32
    assert len({event["event_id"] for _, event in events}) == len(events)


def test_the_funnel_narrows_from_clicks_to_purchases(simulator_of):
    searches = plain(simulator_of(), 1500)
    clicks, carts, purchases = (
        sum(s.count(kind) for s in searches) for kind in ("click", "add_to_cart", "purchase")
    )
    assert clicks > carts > purchases > 0


def test_a_ranker_that_puts_relevant_products_first_gets_more_clicks_than_its_reverse(simulator_of):
    best = simulator_of(seed=8)
    worst = simulator_of(seed=8)
    good = plain(best, 1500, oracle(best, reverse=False))
    bad = plain(worst, 1500, oracle(worst, reverse=True))
    good_clicks, bad_clicks = sum(s.count("click") for s in good), sum(s.count("click") for s in bad)
    assert good_clicks > 1.3 * bad_clicks
    assert sum(s.count("purchase") for s in good) > sum(s.count("purchase") for s in bad)
    # The shoppers judge by the truth: what they click in the good order is more relevant.
    assert np.mean([s.relevance[p - 1] for s in good for p in s.positions("click")]) >= 1.5


def test_about_half_the_searches_type_unseen_queries_with_new_queries_one_half(simulator_of):
    simulator = simulator_of(new_queries=0.5)
    searches = plain(simulator, 1000)
    unseen = [s for s in searches if s.unseen_query]
    assert 0.45 < len(unseen) / len(searches) < 0.55
    assert all(simulator.is_unseen(s.query_norm) for s in unseen)
    assert not any(simulator.is_unseen(s.query_norm) for s in searches if not s.unseen_query)
    assert len({s.query_norm for s in unseen}) > 50  # many new intents, not one


def test_without_new_queries_every_query_is_one_the_shop_has_logged(simulator_of):
    simulator = simulator_of()
    assert not any(s.unseen_query or simulator.is_unseen(s.query_norm) for s in plain(simulator, 500))


def test_a_share_of_new_queries_outside_0_to_1_is_refused(simulator_of):
    with pytest.raises(ValueError, match="new_queries"):
        simulator_of(new_queries=1.5)
