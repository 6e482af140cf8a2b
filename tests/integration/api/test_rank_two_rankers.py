"""Two rankers per request (``ranking.serving.scoring``): the matrix is built once and each
further ranker costs its predict alone; the benchmark's endpoints are routed only when
``SEARCHOP_BENCH_ENDPOINTS`` is on."""

from __future__ import annotations

import importlib
from collections.abc import Iterator

import numpy as np
import pytest
from django.urls import clear_url_caches

from ranking.features import contract
from ranking.serving import rank as rank_module
from ranking.serving.rank import features_look_up
from ranking.serving.scoring import feature_scorer, model_scorer, rankers_score
from ranking.serving.validation import rank_request_validate
from searchop_site import urls
from tests.factories import ContractModelVersionFactory, ProductFactory
from tests.integration.api.support import RANK, post_json, serve_current

pytestmark = pytest.mark.django_db

TWO_RANKERS = "/api/bench/rank-two-rankers"
FLOOR = "/api/bench/floor"
IDS = ("P1", "P2", "P3", "P4")


@pytest.fixture
def model_serving():
    for i, external_id in enumerate(IDS):
        ProductFactory(external_id=external_id, title=f"Trail running shoes {i}", price=20 + 30 * i)
    ContractModelVersionFactory()
    state = serve_current()
    assert not state.fallback
    return state


@pytest.fixture
def bench_endpoints(settings) -> Iterator[None]:
    """The URLs as a server started with ``SEARCHOP_BENCH_ENDPOINTS=1`` routes them."""
    settings.SEARCHOP_BENCH_ENDPOINTS = True
    importlib.reload(urls)
    clear_url_caches()
    yield
    settings.SEARCHOP_BENCH_ENDPOINTS = False
    importlib.reload(urls)
    clear_url_caches()


def body() -> dict:
    products = [{"id": pid, "title": "", "price": 1, "category": ""} for pid in IDS]
    return {
        "query": "trail running shoes",
        "user_id": "U1",
        "products": [*products, {**products[0], "id": 9}],
    }


def test_each_ranker_scores_the_one_matrix_as_it_would_alone(model_serving):
    request = rank_request_validate(body())
    features = features_look_up(model_serving, request)
    model, popularity = model_scorer(model_serving), feature_scorer("popularity", contract.CONTRACT)

    first, second = rankers_score(features, [model, popularity])

    np.testing.assert_array_equal(first, model_serving.booster.predict(features, num_threads=1))
    np.testing.assert_array_equal(second, features[:, contract.INDEX["p_popularity"]])


def test_a_ranker_that_does_not_order_by_a_feature_is_not_a_feature_scorer():
    with pytest.raises(ValueError, match="not a ranker that orders by a feature"):
        feature_scorer("random", contract.CONTRACT)


def test_the_second_ranker_scores_the_same_matrix_without_building_it_again(
    client, model_serving, bench_endpoints, monkeypatch
):
    builds = []
    build = rank_module.request_matrix_build
    monkeypatch.setattr(
        rank_module,
        "request_matrix_build",
        lambda *args, **kwargs: builds.append(1) or build(*args, **kwargs),
    )

    answer = post_json(client, TWO_RANKERS, body()).json()

    assert len(builds) == 1
    (second,) = answer["also"]
    assert second["ranker"] == "second"
    # The same model a second time: the same order, ids as they were sent.
    assert second["ranked_ids"] == [item["id"] for item in answer["ranked_products"]]
    assert 9 in second["ranked_ids"]
    assert answer["ranked_products"] == post_json(client, RANK, body()).json()["ranked_products"]


def test_the_floor_answers_with_the_payload_reordered_when_the_bench_endpoints_are_on(
    client, bench_endpoints
):
    answer = post_json(client, FLOOR, body()).json()
    assert [item["id"] for item in answer["ranked_products"]] == [9, *reversed(IDS)]


@pytest.mark.parametrize("path", [FLOOR, TWO_RANKERS])
def test_a_production_server_does_not_route_the_bench_endpoints(client, path):
    assert post_json(client, path, body()).status_code == 404
