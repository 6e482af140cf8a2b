"""The one feature-matrix builder (``ranking.features.matrix.matrix_build``): defaults for what the
snapshot does not know, cold-start products from request attributes, text features, rows
with their own queries, the text cache, and columns in the contract's order."""

from __future__ import annotations

import math

import numpy as np
import pytest

from catalog import text
from ranking.features import contract
from ranking.features.contract import CONTRACT, Group
from ranking.features.inputs import ProductAttributes
from ranking.features.matrix import matrix_build
from ranking.features.snapshot import FeatureSnapshot
from ranking.features.text import NUM_FIELDS, query_text_build, text_statistics
from tests.feature_frames import events, shown, snapshot_build


@pytest.fixture(scope="module")
def snapshot() -> FeatureSnapshot:
    """P1 often clicked for "running shoes" by U1, P2 shown without clicks; P3-P5 no history."""
    return snapshot_build(
        events(
            *shown("P1", 10, clicks=5, query="running shoes", user="U1"),
            *shown("P2", 10, query="running shoes", user="U2"),
            ("impression", "P4", "wool socks", "U2", 2, 3.0),
            ("click", "P4", "wool socks", "U2", 2, 3.0),
        )
    )


def build(snapshot, rows: list[tuple[str, str, str]], **kwargs) -> np.ndarray:
    """Rows of (query, user, product)."""
    return matrix_build(
        snapshot,
        queries=[q for q, _, _ in rows],
        users=[u for _, u, _ in rows],
        product_ids=[p for _, _, p in rows],
        **kwargs,
    )


def column(values: np.ndarray, name: str) -> np.ndarray:
    return values[:, contract.INDEX[name]]


# --- defaults and cold start ---------------------------------------------------------------


def test_an_unknown_product_for_an_unknown_user_and_no_query_is_the_defaults_row(snapshot):
    values = build(snapshot, [("", "nobody", "NOT-IN-CATALOG")])
    assert values.shape == (1, len(contract.NAMES))
    assert values[0].tolist() == list(contract.DEFAULTS)


def test_an_unknown_product_with_a_query_differs_from_the_defaults_only_in_the_query_length(snapshot):
    values = build(snapshot, [("running shoes", "nobody", "NOT-IN-CATALOG")])[0]
    expected = list(contract.DEFAULTS)
    expected[contract.INDEX["q_num_terms"]] = 2.0
    assert values.tolist() == expected


def test_an_unknown_product_without_attributes_keeps_a_known_users_features_at_their_defaults(snapshot):
    """Nothing is known of the product (no category, band or price), so nothing about the user
    can be compared with it: not the user's lift for categories they never engaged with."""
    values = build(snapshot, [("running shoes", "U1", "NOT-IN-CATALOG")])[0]
    for name in ("u_category_lift", "u_price_band_lift", "u_price_gap"):
        assert values[contract.INDEX[name]] == contract.DEFAULTS[contract.INDEX[name]], name


def test_a_cold_start_product_in_a_category_the_catalog_lacks_has_no_price_band_lift(snapshot):
    attrs = ProductAttributes(title="Mystery Gadget", price=30.0, category="gadgets")
    values = build(snapshot, [("gadget", "U1", "NEW-3")], cold_products={"NEW-3": attrs})[0]
    assert values[contract.INDEX["u_price_band_lift"]] == 1.0


def test_a_catalog_product_without_history_has_default_behaviour_and_its_catalog_attributes(snapshot):
    values = build(snapshot, [("", "nobody", "P3")])[0]
    for name in CONTRACT.names_of(Group.PRODUCT, Group.QUERY_PRODUCT):
        assert values[contract.INDEX[name]] == contract.DEFAULTS[contract.INDEX[name]], name
    assert values[contract.INDEX["p_log_price"]] == pytest.approx(math.log1p(200.0))
    assert values[contract.INDEX["p_price_rel_category"]] == pytest.approx(math.log(200 / 100))
    assert values[contract.INDEX["p_rating"]] == 3.0


def test_an_unknown_user_gets_the_user_defaults_for_a_known_product(snapshot):
    values = build(snapshot, [("running shoes", "nobody", "P1")])[0]
    for name in CONTRACT.names_of(Group.USER):
        assert values[contract.INDEX[name]] == contract.DEFAULTS[contract.INDEX[name]], name


def test_a_cold_start_product_takes_its_attributes_from_the_request_and_default_behaviour(snapshot):
    attrs = ProductAttributes(
        title="Zoom Trail Running Shoes", price=150.0, category="shoes", brand="Zoom", rating=4.0
    )
    values = build(snapshot, [("running shoes", "U1", "NEW-1")], cold_products={"NEW-1": attrs})[0]
    for name in CONTRACT.names_of(Group.PRODUCT, Group.QUERY_PRODUCT):
        assert values[contract.INDEX[name]] == contract.DEFAULTS[contract.INDEX[name]], name
    assert values[contract.INDEX["p_log_price"]] == pytest.approx(math.log1p(150.0))
    assert values[contract.INDEX["p_price_rel_category"]] == pytest.approx(math.log(150 / 100))
    assert values[contract.INDEX["p_rating"]] == 4.0
    assert values[contract.INDEX["t_bm25_title"]] > 0
    assert values[contract.INDEX["t_exact_title"]] == 1.0
    # U1 engaged only with shoes: the request's category counts for the user features too.
    assert values[contract.INDEX["u_category_lift"]] == pytest.approx(snapshot.user_category[("U1", "shoes")])


def test_an_unrated_cold_start_product_in_an_unknown_category_sits_at_the_median(snapshot):
    attrs = ProductAttributes(title="Mystery Gadget", price=30.0, category="gadgets")
    values = build(snapshot, [("gadget", "nobody", "NEW-2")], cold_products={"NEW-2": attrs})[0]
    assert values[contract.INDEX["p_rating"]] == contract.UNRATED
    assert values[contract.INDEX["p_price_rel_category"]] == 0.0
    assert values[contract.INDEX["t_bm25_title"]] > 0


def test_a_known_product_uses_the_catalog_even_when_the_request_sends_attributes(snapshot):
    sent = ProductAttributes(title="Something Else Entirely", price=1.0, rating=1.0)
    with_attrs = build(snapshot, [("running shoes", "U1", "P1")], cold_products={"P1": sent})
    without = build(snapshot, [("running shoes", "U1", "P1")])
    assert np.array_equal(with_attrs, without)


# --- behaviour and user values land in their columns ---------------------------------------


def test_known_products_queries_and_users_get_their_stored_values_in_the_contract_columns(snapshot):
    values = build(snapshot, [("running shoes", "U1", "P1"), ("wool socks", "U2", "P4")])
    p1 = snapshot.product_row["P1"]
    product_keyed = CONTRACT.names_of(Group.PRODUCT, Group.CATALOG)
    for name in product_keyed:
        assert column(values, name)[0] == snapshot.product_values[p1, product_keyed.index(name)]
    qp = snapshot.qp_row[("running shoes", "P1")]
    for j, name in enumerate(CONTRACT.names_of(Group.QUERY_PRODUCT)):
        assert column(values, name)[0] == snapshot.qp_values[qp, j]
    assert column(values, "p_ctr_lift")[0] > 1.0
    assert column(values, "qp_avg_position").tolist() == [1.0, 2.0]
    assert column(values, "u_engagement")[0] == pytest.approx(math.log1p(5.0))
    assert column(values, "u_category_lift")[0] == pytest.approx(snapshot.user_category[("U1", "shoes")])


def test_the_columns_are_the_contract_names_in_order_each_built_once():
    groups = [name for group in Group for name in CONTRACT.names_of(group)]
    assert sorted(groups) == sorted(contract.NAMES)
    assert len(set(groups)) == len(contract.NAMES)
    assert list(contract.NAMES) == [f.name for f in contract.FEATURES]
    assert [contract.INDEX[name] for name in contract.NAMES] == list(range(len(contract.NAMES)))


# --- text ----------------------------------------------------------------------------------


def test_a_query_found_whole_in_the_title_is_an_exact_match_and_reordered_terms_are_not(snapshot):
    values = build(
        snapshot, [("running shoes", "", "P1"), ("shoes running", "", "P1"), ("acme trail", "", "P1")]
    )
    assert column(values, "t_exact_title").tolist() == [1.0, 0.0, 1.0]
    assert column(values, "t_title_coverage").tolist() == [1.0, 1.0, 1.0]


def test_coverage_is_the_share_of_query_terms_found_and_title_coverage_those_in_the_title(snapshot):
    # "grippy" is only in P1's description, "purple" nowhere.
    values = build(snapshot, [("grippy running purple", "", "P1")])[0]
    assert values[contract.INDEX["t_coverage"]] == pytest.approx(2 / 3)
    assert values[contract.INDEX["t_title_coverage"]] == pytest.approx(1 / 3)
    assert values[contract.INDEX["q_num_terms"]] == 3.0
    assert values[contract.INDEX["t_exact_title"]] == 0.0


def test_bm25_and_cosine_are_positive_when_terms_match_and_zero_when_none_do(snapshot):
    values = build(snapshot, [("running shoes", "", "P1"), ("wool socks", "", "P1")])
    for name in ("t_bm25_title", "t_bm25_all", "t_cos_title", "t_bm25_category", "t_cos_category"):
        assert column(values, name)[0] > 0, name
    for name in CONTRACT.names_of(Group.TEXT):
        if name != "q_num_terms":
            assert column(values, name)[1] == 0.0, name


def test_a_brand_query_matches_the_brand_field(snapshot):
    values = build(snapshot, [("acme", "", "P3"), ("acme", "", "P2")])
    assert column(values, "t_bm25_brand")[0] > 0
    assert column(values, "t_cos_brand")[0] == pytest.approx(1.0)
    assert column(values, "t_bm25_brand")[1] == 0.0


def test_bm25_against_all_fields_is_the_catalog_bm25_of_the_product_document(snapshot):
    values = build(snapshot, [("leather boots", "", "P3")])[0]
    document = text.tokenize(
        text.product_document(
            title="Acme Leather Boots",
            brand="Acme",
            category="shoes",
            description="Waterproof leather boots.",
        )
    )
    weights = text.doc_weights(document, snapshot.field_stats[NUM_FIELDS])
    expected = weights.bm25["leather"] + weights.bm25["boot"]
    assert values[contract.INDEX["t_bm25_all"]] == pytest.approx(expected, abs=1e-12)


def test_each_row_is_scored_against_its_own_query(snapshot):
    rows = [("running shoes", "U1", "P1"), ("wool socks", "U1", "P1"), ("running shoes", "U1", "P1")]
    values = build(snapshot, rows)
    assert column(values, "t_bm25_title")[0] > 0 == column(values, "t_bm25_title")[1]
    assert np.array_equal(values[0], values[2])
    # Query x product behaviour is per row's query too: P1 was never shown for "wool socks".
    assert column(values, "qp_impressions")[1] == contract.DEFAULTS[contract.INDEX["qp_impressions"]]
    assert column(values, "qp_impressions")[0] > 0


def test_a_batch_gives_every_row_the_values_it_gets_alone_to_1e_12(snapshot):
    # Whatever a batch shares between rows (cached or vectorised text, per-query work),
    # it must not change a value: training builds a million rows at once, serving one list.
    queries = ["running shoes", "wool socks", "acme", "", "trail running shoes acme", "shoe shoe"]
    products = ["P1", "P2", "P3", "P4", "P5", "UNKNOWN", "NEW-1"]
    cold = {"NEW-1": ProductAttributes(title="Acme Running Socks", price=12.0, category="socks")}
    rows = [(q, u, p) for q in queries for p in products for u in ("U1", "nobody")]
    rows = rows + rows[::-1]  # every row twice, in another order and with other neighbours
    batch = build(snapshot, rows, cold_products=cold)
    one_by_one = np.vstack([build(snapshot, [row], cold_products=cold) for row in rows])
    np.testing.assert_allclose(batch, one_by_one, rtol=0, atol=1e-12)


def test_the_text_columns_of_a_batch_are_the_reference_text_statistics_of_each_pair(snapshot):
    queries = ["running shoes", "wool socks", "acme leather", "trail running shoes acme", "shoe shoe"]
    rows = [(q, "", p) for q in queries for p in ("P1", "P2", "P3", "P4", "P5")]
    batch = build(snapshot, rows)[:, [contract.INDEX[name] for name in CONTRACT.names_of(Group.TEXT)]]
    reference = [
        text_statistics(
            query_text_build(q, snapshot.field_stats), snapshot.product_text[snapshot.product_row[p]]
        )
        for q, _, p in rows
    ]
    np.testing.assert_allclose(batch, np.array(reference), rtol=0, atol=1e-12)


def test_an_empty_candidate_list_gives_an_empty_matrix_with_the_contract_width(snapshot):
    assert build(snapshot, []).shape == (0, len(contract.NAMES))
