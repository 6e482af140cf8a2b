"""The guide in ``ranking/features/__init__.py`` holds: a feature declared in (a copy of) the
contract, and nowhere else, reaches the feature tables, the stored columns, the matrix
builder and the serving path, at the position the declaration gives it."""

from __future__ import annotations

import lightgbm
import numpy as np
import pytest

from ranking.features.contract import CONTRACT, FEATURES, Contract, Feature, Group
from ranking.features.inputs import ProductAttributes
from ranking.features.matrix import matrix_build
from ranking.features.models import ProductFeatures, QueryProductFeatures
from ranking.features.store import PRODUCT_ID
from ranking.features.tables import behaviour_columns
from ranking.serving.rank import features_look_up, order_compute, response_build, scores_compute
from ranking.serving.state import ServingState
from ranking.serving.validation import rank_request_validate
from tests.feature_frames import events, shown, snapshot_build, tables_compute

# A product behaviour feature: carts per impression, unsmoothed, declared after p_age_days.
CART_RATE = Feature(
    "p_cart_rate",
    Group.PRODUCT,
    0.0,
    "add-to-carts / impressions",
    lambda b: b.carts / b.impressions.clip(lower=1),
)
AFTER = [f.name for f in FEATURES].index("p_age_days") + 1
EXTENDED = Contract(version="extended", features=(*FEATURES[:AFTER], CART_RATE, *FEATURES[AFTER:]))

HISTORY = (
    *shown("P1", 10, clicks=4, query="running shoes", user="U1"),
    *[("add_to_cart", "P1", "running shoes", "U1", 1, 1.0)] * 2,
    *shown("P2", 5, query="running shoes", user="U2"),
)


@pytest.fixture(scope="module")
def snapshot():
    return snapshot_build(events(*HISTORY), contract=EXTENDED)


def test_the_declaration_gives_the_feature_its_position_and_moves_the_later_ones_by_one():
    assert EXTENDED.index["p_cart_rate"] == CONTRACT.index["p_age_days"] + 1
    assert EXTENDED.names == (*CONTRACT.names[:AFTER], "p_cart_rate", *CONTRACT.names[AFTER:])
    assert EXTENDED.plan(Group.PRODUCT, Group.CATALOG).columns == slice(0, AFTER + 4)


def test_the_product_table_and_its_stored_columns_pick_it_up():
    tables = tables_compute(events(*HISTORY), contract=EXTENDED)
    rates = tables.products.set_index("product_id")["p_cart_rate"]
    assert rates.to_dict() == {"P1": pytest.approx(2 / 10), "P2": 0.0}
    base = behaviour_columns(Group.PRODUCT)
    at = base.index("p_age_days") + 1
    assert behaviour_columns(Group.PRODUCT, EXTENDED) == [*base[:at], "p_cart_rate", *base[at:]]
    assert "p_cart_rate" not in behaviour_columns(Group.PRODUCT)


@pytest.mark.parametrize(
    ("model", "group"), [(ProductFeatures, Group.PRODUCT), (QueryProductFeatures, Group.QUERY_PRODUCT)]
)
def test_the_stored_tables_hold_the_columns_the_contract_derives_for_them(model, group):
    """So a declared feature needs only ``makemigrations`` to be stored (the migrations are
    checked against the models in tests/integration/test_migrations.py)."""
    stored = [
        field.column for field in model._meta.concrete_fields if field.column not in ("id", "feature_set_id")
    ]
    derived = [PRODUCT_ID.get(name, name) for name in behaviour_columns(group)]
    assert sorted(stored) == sorted(derived)


def test_the_matrix_builder_fills_it_and_leaves_every_other_feature_as_it_was(snapshot):
    rows = {"queries": ["running shoes"] * 3, "users": ["U1"] * 3, "product_ids": ["P1", "P3", "NEW"]}
    cold = {"NEW": ProductAttributes(title="Road Running Shoes", price=80.0, category="shoes")}
    extended = matrix_build(snapshot, **rows, cold_products=cold)
    original = matrix_build(snapshot_build(events(*HISTORY)), **rows, cold_products=cold)

    assert extended.shape == (3, len(CONTRACT.names) + 1)
    # P1's rate from its history; no history (P3) and a cold product (NEW) take the default.
    assert extended[:, EXTENDED.index["p_cart_rate"]].tolist() == [pytest.approx(0.2), 0.0, 0.0]
    for name in CONTRACT.names:
        np.testing.assert_array_equal(
            extended[:, EXTENDED.index[name]], original[:, CONTRACT.index[name]], name
        )


def test_serving_scores_with_it_and_explains_it(snapshot):
    features = matrix_build(
        snapshot, queries=["running shoes"] * 5, users=["U1"] * 5, product_ids=["P1", "P2", "P3", "P4", "P5"]
    )
    rng = np.random.default_rng(0)
    training = np.vstack([features] * 20) + rng.normal(0, 0.01, (100, features.shape[1]))
    labels = np.tile([3, 0, 1, 0, 0], 20)
    booster = lightgbm.train(
        {"objective": "lambdarank", "min_data_in_leaf": 5, "verbosity": -1, "seed": 0},
        lightgbm.Dataset(training, labels, group=[5] * 20, feature_name=list(EXTENDED.names)),
        num_boost_round=5,
    )
    state = ServingState(
        model_version=1,
        model_sha256="0" * 64,
        booster=booster,
        predictor=lambda matrix: booster.predict(matrix, num_threads=1),
        compiled=False,
        snapshot=snapshot,
        feature_set_id=None,
        fallback_reason=None,
    )
    request = rank_request_validate(
        {
            "query": "running shoes",
            "user_id": "U1",
            "explain": True,
            "products": [{"id": p, "title": "", "price": 1, "category": ""} for p in ("P2", "P1", "P3")],
        }
    )

    served = features_look_up(state, request)
    raw, contributions = scores_compute(state, served, explain=True)
    body = response_build(
        request=request,
        state=state,
        request_id="r",
        order=order_compute(raw, limit=None),
        raw=raw,
        features=served,
        contributions=contributions,
    )

    by_id = {item["id"]: item for item in body["ranked_products"]}
    assert by_id["P1"]["features"]["p_cart_rate"] == pytest.approx(0.2)
    assert "p_cart_rate" in by_id["P1"]["contributions"]
    assert sum(by_id["P1"]["contributions"].values()) == pytest.approx(by_id["P1"]["raw_score"])
