"""POST /api/rank with a production model: the response contract, the order, scores,
ties, ids, catalog versus request attributes, limit and explain (ranking.serving.rank)."""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from decimal import Decimal

import pytest

from catalog.models import SearchRequest
from ranking.features import contract
from ranking.models import ModelVersion
from ranking.serving.state import SERVING, ServingState
from tests.factories import ContractModelVersionFactory, ProductFactory
from tests.integration.api.support import RANK, committed_rows_delete, logistic, post_json, serving_state_load

pytestmark = pytest.mark.django_db

CATALOG = [
    # external_id, title, price, category
    ("P1", "Trail running shoes", "59.00", "Running Shoes"),
    ("P2", "Leather office shoes", "180.00", "Formal Shoes"),
    ("P3", "Running socks three pack", "12.50", "Socks"),
    ("1", "Road running shoes", "95.00", "Running Shoes"),
]


@dataclass(frozen=True)
class Shop:
    model: ModelVersion
    state: ServingState


@pytest.fixture(scope="module")
def shop(django_db_setup, django_db_blocker):
    """A small catalog and a production model, committed for the module, loaded once."""
    try:
        with django_db_blocker.unblock():
            committed_rows_delete()  # what a killed run may have left
            for external_id, title, price, category in CATALOG:
                ProductFactory(
                    external_id=external_id,
                    title=title,
                    price=Decimal(price),
                    category=category,
                    brand="Acme",
                )
            model = ContractModelVersionFactory()
            state = serving_state_load()
        assert state.model_version == model.version
        assert not state.fallback
        yield Shop(model=model, state=state)
    finally:
        with django_db_blocker.unblock():
            committed_rows_delete()


@pytest.fixture(autouse=True)
def served(fresh_worker, shop):
    SERVING.reset(shop.state)


def catalog_product(external_id: str, **overrides) -> dict:
    """A candidate for a catalog product, with its catalog attributes unless overridden."""
    _, title, price, category = next(row for row in CATALOG if row[0] == external_id)
    return {"id": external_id, "title": title, "price": float(price), "category": category, **overrides}


def rank(client, products: list[dict], query: str = "running shoes", **fields) -> dict:
    response = post_json(client, RANK, {"query": query, "products": products, **fields})
    assert response.status_code == 200, response.content
    return response.json()


def raw_scores(body: dict) -> dict[str, float]:
    return {item["id"]: item["raw_score"] for item in body["ranked_products"]}


def test_the_response_keeps_the_existing_contract_and_adds_rank_raw_score_and_provenance(client, shop):
    products = [catalog_product("P1"), catalog_product("P2"), catalog_product("P3")]

    body = rank(client, products, user_id="U1", session_id="S1")

    assert set(body) == {
        "ranked_products",
        "query",
        "num_products",
        "num_candidates",
        "request_id",
        "model_version",
        "fallback",
        "experiment",
    }
    assert body["experiment"] is None  # no experiment runs
    assert body["query"] == "running shoes"
    assert body["num_products"] == body["num_candidates"] == 3
    assert re.fullmatch(r"[0-9a-f]{32}", body["request_id"])
    assert body["model_version"] == shop.model.version
    assert body["fallback"] is False
    for item in body["ranked_products"]:
        assert set(item) == {"id", "title", "score", "rank", "raw_score"}
    assert {item["id"] for item in body["ranked_products"]} == {"P1", "P2", "P3"}


def test_each_request_gets_its_own_request_id(client):
    first = rank(client, [catalog_product("P1")])
    second = rank(client, [catalog_product("P1")])

    assert first["request_id"] != second["request_id"]


def test_products_come_best_first_ranked_from_1(client):
    products = [catalog_product(pid) for pid in ("P3", "P2", "1", "P1")]

    ranked = rank(client, products)["ranked_products"]

    assert [item["rank"] for item in ranked] == [1, 2, 3, 4]
    scores = [item["raw_score"] for item in ranked]
    assert scores == sorted(scores, reverse=True)
    assert len(set(scores)) > 1, "the model should tell these products apart"


def test_score_is_the_logistic_of_the_raw_score_in_0_1(client):
    ranked = rank(client, [catalog_product(pid) for pid in ("P1", "P2", "P3", "1")])["ranked_products"]

    for item in ranked:
        assert 0.0 <= item["score"] <= 1.0
        assert item["score"] == pytest.approx(logistic(item["raw_score"]), abs=1e-12)


def test_a_products_score_does_not_depend_on_the_other_candidates(client):
    alone = rank(client, [catalog_product("P2")])
    among_others = rank(client, [catalog_product(pid) for pid in ("P1", "P2", "P3")])

    assert raw_scores(alone)["P2"] == pytest.approx(raw_scores(among_others)["P2"], abs=1e-12)


def test_candidates_identical_in_every_feature_keep_the_input_order(client):
    twin = {"title": "Canvas sneakers", "price": 40.0, "category": "Sneakers"}
    best = catalog_product("P1")

    forward = rank(client, [{"id": "b", **twin}, best, {"id": "a", **twin}])["ranked_products"]
    backward = rank(client, [{"id": "a", **twin}, best, {"id": "b", **twin}])["ranked_products"]

    forward_twins = [item for item in forward if item["id"] in ("a", "b")]
    assert forward_twins[0]["raw_score"] == forward_twins[1]["raw_score"]
    assert [item["id"] for item in forward_twins] == ["b", "a"]
    assert [item["id"] for item in backward if item["id"] in ("a", "b")] == ["a", "b"]


def test_ids_are_compared_as_strings_so_1_is_the_catalog_product_1_and_come_back_as_sent(client):
    as_integer = rank(client, [catalog_product("1", id=1, title="unknown title", price=9999.0)])
    as_string = rank(client, [catalog_product("1")])

    (integer_item,) = as_integer["ranked_products"]
    (string_item,) = as_string["ranked_products"]
    assert integer_item["id"] == 1  # 1 in, 1 out
    assert string_item["id"] == "1"  # "1" in, "1" out
    assert integer_item["raw_score"] == pytest.approx(string_item["raw_score"], abs=1e-12)


def test_mixed_ids_come_back_each_as_it_was_sent_and_are_logged_as_text(client):
    unknown = {"title": "Trail shoe", "price": 10.0, "category": "Running Shoes"}
    sent = [catalog_product("P1"), {"id": 7, **unknown}, {"id": "8", **unknown}]
    answer = rank(client, sent)
    assert sorted(map(repr, (item["id"] for item in answer["ranked_products"]))) == ["'8'", "'P1'", "7"]
    logged = SearchRequest.objects.get(request_id=answer["request_id"])
    assert sorted(logged.product_ids) == ["7", "8", "P1"]


def test_a_product_the_catalog_knows_is_scored_with_its_catalog_attributes(client):
    as_in_catalog = rank(client, [catalog_product("P2")])
    as_requested = rank(
        client,
        [catalog_product("P2", title="Trail running shoes", price=1.0, category="Running Shoes", rating=5)],
    )

    assert raw_scores(as_requested)["P2"] == pytest.approx(raw_scores(as_in_catalog)["P2"], abs=1e-12)


def test_a_product_the_catalog_does_not_know_is_scored_with_the_request_attributes(client):
    cheap = rank(client, [catalog_product("P2", id="NEW", price=5.0)])
    dear = rank(client, [catalog_product("P2", id="NEW", price=5000.0)])

    assert raw_scores(cheap)["NEW"] != pytest.approx(raw_scores(dear)["NEW"], abs=1e-9)


def test_an_unknown_product_with_a_known_ones_attributes_scores_as_it_without_history(client):
    """With no feature set yet, every product's behaviour is at its defaults, so only the
    attributes tell them apart: the request's for the unknown one, the catalog's for P1."""
    body = rank(client, [catalog_product("P1"), catalog_product("P1", id="COPY", brand="Acme")])

    scores = raw_scores(body)
    assert scores["COPY"] == pytest.approx(scores["P1"], abs=1e-12)


def test_limit_returns_the_best_few_and_still_counts_every_candidate(client):
    products = [catalog_product(pid) for pid in ("P3", "P2", "1", "P1")]
    everything = rank(client, products)

    limited = rank(client, products, limit=2)

    assert limited["num_products"] == 2
    assert limited["num_candidates"] == 4
    assert limited["ranked_products"] == everything["ranked_products"][:2]


def test_a_limit_above_the_candidates_returns_them_all(client):
    assert rank(client, [catalog_product("P1")], limit=50)["num_products"] == 1


def test_explain_gives_each_products_features_and_contributions_summing_to_its_raw_score(client):
    products = [catalog_product(pid) for pid in ("P1", "P2")] + [catalog_product("P3", id="NEW", rating=4.5)]
    plain = raw_scores(rank(client, products))

    explained = rank(client, products, explain=True)["ranked_products"]

    for item in explained:
        assert list(item["features"]) == list(contract.NAMES)
        assert list(item["contributions"]) == [*contract.NAMES, "bias"]
        assert math.fsum(item["contributions"].values()) == pytest.approx(item["raw_score"], abs=1e-6)
        assert item["raw_score"] == pytest.approx(plain[item["id"]], abs=1e-6)
        assert item["score"] == pytest.approx(logistic(item["raw_score"]), abs=1e-12)
    by_id = {item["id"]: item for item in explained}
    assert by_id["P2"]["features"]["p_log_price"] == pytest.approx(math.log1p(180.0))
    assert by_id["NEW"]["features"]["p_log_price"] == pytest.approx(math.log1p(12.5))
    assert by_id["NEW"]["features"]["p_rating"] == 4.5
    assert by_id["P1"]["features"]["q_num_terms"] == 2


def test_without_explain_no_features_or_contributions_are_sent(client):
    (item,) = rank(client, [catalog_product("P1")], explain=False)["ranked_products"]

    assert "features" not in item
    assert "contributions" not in item
