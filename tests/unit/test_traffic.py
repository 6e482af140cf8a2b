"""The traffic of the live synthetic shop (ranking.traffic): what it counts, and how it treats
the API's answers. The API here is a scripted stand-in for the transport (the HTTP and
in-process ones are exercised against the real views in tests/integration and tests/e2e)."""

from __future__ import annotations

from datetime import UTC, datetime

import numpy as np
import pytest

from catalog.synthetic import SyntheticConfig
from catalog.synthetic.shop import Shop
from catalog.synthetic.shoppers import ShopperSimulator, SimulatedSearch
from ranking import traffic
from ranking.traffic import ApiReply, TrafficError, TrafficSummary, arm_label, traffic_simulate

NOON = datetime(2026, 11, 30, 12, tzinfo=UTC)
CONFIG = SyntheticConfig(products=120, categories=3, users=40, seed=2)


def search(experiment=None, clicks: int = 0) -> SimulatedSearch:
    events = [{"event_type": "click", "position": p + 1, "timestamp": NOON} for p in range(clicks)]
    return SimulatedSearch(
        request_id="r",
        query="q",
        query_norm="q",
        unseen_query=False,
        user_id="U1",
        session_id="s",
        candidates=[],
        shown=[],
        relevance=np.zeros(0, dtype=np.int64),
        events=events,
        experiment=experiment,
    )


def test_searches_are_counted_by_experiment_arm_and_outside_experiments():
    summary = TrafficSummary()
    interleaved = {"id": 3, "kind": "interleaving", "arm": "interleaved"}
    for item in (search(interleaved, clicks=2), search(interleaved), search(None, clicks=1)):
        summary.add(item, 0.01)
    assert summary.arms == {"experiment 3 (interleaving): interleaved": 2, "no experiment": 1}
    assert (summary.searches, summary.clicks, summary.searches_with_click) == (3, 3, 2)
    assert summary.ctr == pytest.approx(2 / 3)


def test_an_answer_without_the_experiment_field_counts_as_no_experiment():
    assert arm_label(None) == arm_label({}) == "no experiment"


class ScriptedApi:
    """Answers each POST with the next reply of its script for that path."""

    def __init__(self, rank_replies: list[ApiReply]):
        self.rank_replies = rank_replies
        self.served = 0
        self.event_batches: list[list[dict]] = []

    def post(self, path, body):
        if path == traffic.EVENTS_PATH:
            self.event_batches.append(body["events"])
            return ApiReply(200, {"stored": len(body["events"])})
        reply = self.rank_replies.pop(0) if len(self.rank_replies) > 1 else self.rank_replies[0]
        if reply.status != 200:
            return reply
        self.served += 1
        ids = [product["id"] for product in body["products"]]
        return ApiReply(200, {"request_id": f"r{self.served}", "ranked_products": [{"id": i} for i in ids]})

    def close(self):
        pass


@pytest.fixture(scope="module")
def shop():
    return Shop.generate(CONFIG, np.random.default_rng(CONFIG.seed))


def shoppers(shop) -> ShopperSimulator:
    return ShopperSimulator(shop, CONFIG, seed=1, clock=lambda: NOON)


def test_a_503_is_waited_out_and_every_event_is_sent_with_its_time_as_text(shop, monkeypatch):
    monkeypatch.setattr(traffic.time, "sleep", lambda seconds: None)
    api = ScriptedApi([ApiReply(503, {"detail": "model: loading"}, retry_after=1.0), ApiReply(200, {})])
    summary = traffic_simulate(simulator=shoppers(shop), api=api, searches=60)
    sent = [event for batch in api.event_batches for event in batch]
    assert summary.searches == 60
    assert len(sent) == summary.events_sent == summary.events_stored
    assert len(sent) == summary.clicks + summary.add_to_carts + summary.purchases > 0
    assert {event["timestamp"] for event in sent} == {NOON.isoformat()}


def test_a_refusal_stops_the_traffic_with_the_apis_words(shop):
    api = ScriptedApi([ApiReply(401, {"detail": "authorization: a valid API key is required"})])
    with pytest.raises(TrafficError, match="401: authorization"):
        traffic_simulate(simulator=shoppers(shop), api=api, searches=5)
