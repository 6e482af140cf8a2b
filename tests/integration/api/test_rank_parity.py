"""One scorer: for logged lists, /api/rank returns the scores of the offline scorer (the one
matrix builder, ranking.features.matrix.matrix_build, on the serving feature set, and the production
booster's predict) to 1e-6, with LightGBM's predictor and with the compiled (lleaves) one.

The shop is generated, trained on and promoted once for the module (committed, so the
worker's own loader thread sees it) and deleted at the end.
"""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import timedelta

import lightgbm as lgb
import numpy as np
import pytest
from django.db.models import Value
from django.db.models.functions import Concat
from ranking.features.matrix import matrix_build

from catalog.models import GroundTruth, Product, SearchRequest
from catalog.selectors import event_latest_timestamp_get
from catalog.services import synthetic_data_generate
from catalog.synthetic import SyntheticConfig
from ranking.features import contract
from ranking.models import FeatureSet
from ranking.selectors import feature_snapshot_get, model_version_production_get
from ranking.services import features_build, model_version_promote, model_version_register
from ranking.serving.state import SERVING
from tests.factories import contract_register_kwargs
from tests.integration.api.support import RANK, committed_rows_delete, logistic, post_json, serving_state_load

pytestmark = pytest.mark.django_db

LISTS = 40


@dataclass(frozen=True)
class LoggedList:
    request_id: str
    query: str
    query_norm: str
    user_id: str
    product_ids: list[str]


@dataclass(frozen=True)
class Offline:
    lists: list[LoggedList]
    scores: list[np.ndarray]  # the offline raw scores, per list, in the logged order
    products: dict[str, dict]  # the catalog's attributes, as a client sends them
    version: int


def offline_build(django_db_blocker) -> Offline:
    """A generated shop, its serving features (from all its events), a LambdaMART model
    trained on its logged lists with their true relevance and promoted; and the offline
    scores of the first logged lists."""
    with django_db_blocker.unblock():
        committed_rows_delete()  # what a killed run may have left
        synthetic_data_generate(
            config=SyntheticConfig(products=120, categories=4, users=60, events=6_000, seed=3)
        )
        serving_set = features_build(
            until=event_latest_timestamp_get() + timedelta(microseconds=1), purpose=FeatureSet.Purpose.SERVING
        ).feature_set
        snapshot = feature_snapshot_get(feature_set=serving_set)
        version = model_version_register(
            **{**contract_register_kwargs(), "model_text": model_text_train(snapshot)}
        ).version
        model_version_promote(version=version, actor="test", reason="parity test")
        production = model_version_production_get()
        booster = lgb.Booster(model_str=production.model_text)
        lists = logged_lists(LISTS)
        matrix = matrix_of(snapshot, lists)
        scores = np.split(
            booster.predict(matrix), np.cumsum([len(logged.product_ids) for logged in lists])[:-1]
        )
        products = {
            row["external_id"]: {
                "id": row["external_id"],
                "title": row["title"],
                "price": float(row["price"]),
                "category": row["category"],
                "brand": row["brand"],
                "description": row["description"],
                "rating": None if row["rating"] is None else float(row["rating"]),
            }
            for row in Product.objects.values(
                "external_id", "title", "price", "category", "brand", "description", "rating"
            )
        }
    assert len(lists) == LISTS
    assert all(len(logged.product_ids) >= 10 for logged in lists)
    return Offline(lists=lists, scores=scores, products=products, version=production.version)


@pytest.fixture(scope="module")
def offline(django_db_setup, django_db_blocker):
    try:
        yield offline_build(django_db_blocker)
    finally:
        with django_db_blocker.unblock():
            committed_rows_delete()


def logged_lists(limit: int) -> list[LoggedList]:
    rows = SearchRequest.objects.filter(source=SearchRequest.Source.SYNTHETIC).order_by("timestamp")[:limit]
    return [
        LoggedList(row.request_id, row.query, row.query_norm, row.user_id, list(row.product_ids))
        for row in rows
    ]


def matrix_of(snapshot, lists: list[LoggedList]) -> np.ndarray:
    """The offline scorer's matrix: the one builder, one row per shown product."""
    return matrix_build(
        snapshot,
        queries=[logged.query_norm for logged in lists for _ in logged.product_ids],
        users=[logged.user_id for logged in lists for _ in logged.product_ids],
        product_ids=[pid for logged in lists for pid in logged.product_ids],
    )


def model_text_train(snapshot) -> str:
    """LambdaMART on the contract's features of 300 logged lists, graded by their truth."""
    lists = logged_lists(300)
    truth = dict(
        GroundTruth.objects.filter(request_id__in=[logged.request_id for logged in lists]).values_list(
            Concat("request_id", Value("/"), "product_external_id"), "relevance"
        )
    )
    labels = [truth.get(f"{logged.request_id}/{pid}", 0) for logged in lists for pid in logged.product_ids]
    data = lgb.Dataset(
        matrix_of(snapshot, lists),
        np.asarray(labels),
        group=[len(logged.product_ids) for logged in lists],
        feature_name=list(contract.NAMES),
    )
    params = {"objective": "lambdarank", "num_leaves": 15, "min_data_in_leaf": 20, "verbosity": -1, "seed": 1}
    return lgb.train(params, data, num_boost_round=40).model_to_string()


def assert_served_scores_equal_offline(client, offline: Offline) -> None:
    for logged, expected in zip(offline.lists, offline.scores, strict=True):
        response = post_json(
            client,
            RANK,
            {
                "query": logged.query,
                "user_id": logged.user_id or None,
                "products": [offline.products[pid] for pid in logged.product_ids],
            },
        )
        assert response.status_code == 200, response.content
        body = response.json()
        assert body["model_version"] == offline.version
        assert body["fallback"] is False
        served = {item["id"]: item for item in body["ranked_products"]}
        for pid, raw in zip(logged.product_ids, expected.tolist(), strict=True):
            assert served[pid]["raw_score"] == pytest.approx(raw, abs=1e-6), (logged.query, pid)
            assert served[pid]["score"] == pytest.approx(logistic(raw), abs=1e-6)


def test_served_scores_equal_the_offline_scorers_with_lightgbms_predictor(client, offline):
    state = serving_state_load()
    assert state.model_version == offline.version
    assert not state.compiled
    assert state.feature_set_id is not None
    SERVING.reset(state)

    assert_served_scores_equal_offline(client, offline)


def test_served_scores_equal_the_offline_scorers_with_the_compiled_predictor(client, settings, offline):
    """The worker loads by itself (its loader thread), serves LightGBM meanwhile, compiles
    with lleaves off the request path and swaps the compiled predictor in."""
    settings.SEARCHOP_COMPILED_INFERENCE = True
    post_json(client, RANK, {"query": "warm up", "products": []})
    deadline = time.monotonic() + 120
    while not (SERVING.peek() and SERVING.peek().compiled) and time.monotonic() < deadline:
        time.sleep(0.1)
    assert SERVING.peek().compiled, "the model was not compiled within 120 s"
    assert "(compiled)" in client.get("/ready").json()["reason"]

    assert_served_scores_equal_offline(client, offline)
