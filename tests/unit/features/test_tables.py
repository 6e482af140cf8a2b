"""Feature tables from counts (``ranking.features.tables``): smoothing toward the global
rate, query x product behaviour, user affinities, category prices and bands. Every
expected value is worked out by hand from a handful of events."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from ranking.features import contract
from ranking.features import tables as feature_tables
from ranking.features.contract import CONTRACT, Group
from ranking.features.matrix import matrix_build
from ranking.features.snapshot import FeatureSnapshot
from tests.feature_frames import CATALOG, UNTIL, events, shown, snapshot_build, tables_compute

PRIOR = contract.PRIOR_IMPRESSIONS
PRODUCT_KEYED = CONTRACT.names_of(Group.PRODUCT, Group.CATALOG)


def product_row(tables: feature_tables.FeatureTables, product_id: str) -> pd.Series:
    return tables.products.set_index("product_id").loc[product_id]


def snapshot_value(snapshot: FeatureSnapshot, product_id: str, name: str) -> float:
    row = snapshot.product_row.get(product_id, -1)
    return float(snapshot.product_values[row, PRODUCT_KEYED.index(name)])


# --- product behaviour ---------------------------------------------------------------------


def test_a_product_with_no_history_sits_at_lift_one_and_at_every_behaviour_default():
    snapshot = snapshot_build(events(*shown("P1", 10, clicks=5), *shown("P2", 10)))
    for name in ("p_ctr_lift", "p_atc_lift", "p_purchase_lift", "p_impression_share", "p_popularity"):
        assert snapshot_value(snapshot, "P4", name) == contract.DEFAULTS[contract.INDEX[name]]
    assert snapshot_value(snapshot, "P4", "p_ctr_lift") == 1.0
    assert (
        snapshot_value(snapshot, "P4", "p_recency_days")
        == contract.DEFAULTS[contract.INDEX["p_recency_days"]]
    )


def test_a_product_clicked_more_often_than_average_has_a_ctr_lift_above_one():
    tables = tables_compute(events(*shown("P1", 10, clicks=5), *shown("P2", 10, clicks=1)))
    assert product_row(tables, "P1")["p_ctr_lift"] > 1.0
    assert product_row(tables, "P2")["p_ctr_lift"] < 1.0


def test_the_ctr_lift_is_the_rate_smoothed_toward_the_global_rate_over_the_global_rate():
    tables = tables_compute(events(*shown("P1", 10, clicks=5), *shown("P2", 10)))
    rate = 5 / 20
    assert tables.stats["global_rates"]["ctr"] == rate
    assert product_row(tables, "P1")["p_ctr_lift"] == pytest.approx(
        ((5 + PRIOR * rate) / (10 + PRIOR)) / rate
    )
    assert product_row(tables, "P2")["p_ctr_lift"] == pytest.approx(
        ((0 + PRIOR * rate) / (10 + PRIOR)) / rate
    )


def test_smoothing_keeps_a_product_with_few_impressions_nearer_to_one():
    # Both were clicked every time they were shown; one was shown once, the other 40 times.
    tables = tables_compute(events(*shown("P1", 1, clicks=1), *shown("P2", 40, clicks=40), *shown("P3", 40)))
    few, many = product_row(tables, "P1")["p_ctr_lift"], product_row(tables, "P2")["p_ctr_lift"]
    assert 1.0 < few < many


def test_cart_and_purchase_lifts_count_their_own_events_per_impression():
    rows = [*shown("P1", 10, clicks=2), *shown("P2", 10, clicks=2)]
    rows += [("add_to_cart", "P1", "shoes", "", 1, 1.0), ("purchase", "P1", "shoes", "", 1, 1.0)]
    tables = tables_compute(events(*rows))
    assert product_row(tables, "P1")["p_atc_lift"] > 1.0 > product_row(tables, "P2")["p_atc_lift"]
    assert product_row(tables, "P1")["p_purchase_lift"] > 1.0 > product_row(tables, "P2")["p_purchase_lift"]
    assert product_row(tables, "P1")["p_ctr_lift"] == product_row(tables, "P2")["p_ctr_lift"] == 1.0


def test_popularity_weighs_clicks_carts_and_purchases_one_two_three():
    rows = [*shown("P1", 5, clicks=3), *shown("P2", 5, clicks=1)]
    rows += [("add_to_cart", "P2", "shoes", "", 1, 1.0), ("purchase", "P2", "shoes", "", 1, 1.0)]
    tables = tables_compute(events(*rows))
    # Engagement: P1 3 clicks = 3; P2 1 click + 1 cart x 2 + 1 purchase x 3 = 6.
    scale = contract.SHARE_SCALE
    assert product_row(tables, "P1")["p_popularity"] == pytest.approx(math.log1p(scale * 3 / 9))
    assert product_row(tables, "P2")["p_popularity"] == pytest.approx(math.log1p(scale * 6 / 9))


def test_recency_counts_from_the_last_event_and_age_from_the_first_impression_up_to_a_week():
    tables = tables_compute(
        events(
            ("impression", "P1", "shoes", "", 1, 30.0),
            ("impression", "P1", "shoes", "", 2, 10.0),
            ("click", "P1", "shoes", "", 2, 4.0),
            ("impression", "P2", "shoes", "", 3, 5.5),
        )
    )
    assert product_row(tables, "P1")["p_recency_days"] == pytest.approx(4.0)
    assert product_row(tables, "P1")["p_age_days"] == contract.AGE_CAP_DAYS == 7.0
    assert product_row(tables, "P2")["p_age_days"] == pytest.approx(5.5)


def test_events_at_or_after_the_cut_off_are_not_counted():
    rows = [*shown("P1", 10, clicks=5), *shown("P2", 10)]
    later = [
        ("click", "P2", "shoes", "", 1, 0.0),
        ("click", "P2", "shoes", "", 1, -3.0),
    ]  # at and after UNTIL
    before, with_later = tables_compute(events(*rows)), tables_compute(events(*rows, *later))
    pd.testing.assert_frame_equal(before.products, with_later.products)
    pd.testing.assert_frame_equal(before.query_products, with_later.query_products)


# --- query x product -----------------------------------------------------------------------


def test_query_product_average_position_is_the_mean_position_it_was_shown_at_for_that_query():
    tables = tables_compute(
        events(
            ("impression", "P1", "running shoes", "", 1, 2.0),
            ("impression", "P1", "running shoes", "", 3, 1.0),
            ("impression", "P1", "boots", "", 7, 1.0),
        )
    )
    qp = tables.query_products.set_index(["query_norm", "product_id"])
    assert qp.loc[("running shoes", "P1"), "qp_avg_position"] == 2.0
    assert qp.loc[("running shoes", "P1"), "qp_impressions"] == pytest.approx(math.log1p(2))
    assert qp.loc[("boots", "P1"), "qp_avg_position"] == 7.0


def test_a_query_specific_ctr_lift_reflects_clicks_for_that_query_only():
    rows = [*shown("P1", 10, clicks=6, query="trail shoes"), *shown("P1", 10, query="boots")]
    qp = tables_compute(events(*rows)).query_products.set_index(["query_norm", "product_id"])
    assert qp.loc[("trail shoes", "P1"), "qp_ctr_lift"] > 1.0 > qp.loc[("boots", "P1"), "qp_ctr_lift"]


def test_lists_per_query_count_the_position_one_impressions():
    rows = [("impression", "P1", "shoes", "", 1, 1.0), ("impression", "P2", "shoes", "", 2, 1.0)] * 3
    queries = tables_compute(events(*rows, ("impression", "P4", "socks", "", 1, 1.0))).queries
    assert dict(zip(queries["query_norm"], queries["lists"], strict=True)) == {"shoes": 3, "socks": 1}


# --- users ---------------------------------------------------------------------------------


def two_users() -> feature_tables.FeatureTables:
    """U1 clicks three shoes (P1), U2 one pair of socks (P4): shoes hold 3/4 of engagement."""
    return tables_compute(events(*shown("P1", 3, clicks=3, user="U1"), *shown("P4", 1, clicks=1, user="U2")))


def test_user_engagement_weighs_clicks_carts_and_purchases_one_two_three():
    rows = [
        ("click", "P1", "shoes", "U1", 1, 1.0),
        ("add_to_cart", "P1", "shoes", "U1", 1, 1.0),
        ("purchase", "P1", "shoes", "U1", 1, 1.0),
    ]
    users = tables_compute(events(*shown("P1", 1), *rows)).users.set_index("user_id")
    assert users.loc["U1", "engagement"] == 6.0


def test_a_user_has_a_category_lift_above_one_where_they_engage_and_their_other_lift_below_one():
    tables = two_users()
    beta = feature_tables.USER_PRIOR_ENGAGEMENT
    assert tables.stats["category_share"] == {"shoes": 0.75, "socks": 0.25}
    lifts = tables.user_affinities.set_index(["user_id", "kind", "key"])["lift"]
    assert lifts[("U1", "category", "shoes")] == pytest.approx(((3 + beta * 0.75) / (3 + beta)) / 0.75)
    assert lifts[("U1", "category", "shoes")] > 1.0
    users = tables.users.set_index("user_id")
    assert users.loc["U1", "category_other"] == pytest.approx(beta / (3 + beta))
    assert users.loc["U1", "band_other"] == pytest.approx(beta / (3 + beta))
    assert users.loc["U1", "category_other"] < 1.0


def test_the_matrix_uses_the_other_lift_for_a_category_the_user_never_engaged_with():
    snapshot = snapshot_build(
        events(*shown("P1", 3, clicks=3, user="U1"), *shown("P4", 1, clicks=1, user="U2"))
    )
    values = matrix_build(snapshot, queries=["", ""], users=["U1", "U1"], product_ids=["P1", "P5"])
    category_lift = values[:, contract.INDEX["u_category_lift"]]
    assert category_lift[0] > 1.0
    assert category_lift[1] == pytest.approx(snapshot.user_category_other["U1"])


def test_a_user_price_band_lift_is_over_one_fifth_and_the_price_mean_is_smoothed_toward_zero():
    tables = two_users()
    beta = feature_tables.USER_PRIOR_ENGAGEMENT
    band_share = 1.0 / feature_tables.PRICE_BANDS
    lifts = tables.user_affinities.set_index(["user_id", "kind", "key"])["lift"]
    band_of_p1 = str(
        int(
            feature_tables.product_frame_derive(CATALOG, tables.stats)
            .set_index("product_id")
            .loc["P1", "band"]
        )
    )
    assert lifts[("U1", "band", band_of_p1)] == pytest.approx(
        ((3 + beta * band_share) / (3 + beta)) / band_share
    )
    # P4 costs 10 in a category whose median is 15: log(10 / 15), shrunk by 1 / (1 + beta).
    users = tables.users.set_index("user_id")
    assert users.loc["U2", "price_mean"] == pytest.approx(math.log(10 / 15) * 1 / (1 + beta))


# --- catalog prices ------------------------------------------------------------------------


# np.where evaluates log(0 / median) for the unpriced product before discarding it.
@pytest.mark.filterwarnings("ignore:divide by zero encountered in log:RuntimeWarning")
def test_category_medians_and_quintile_band_edges_come_from_the_priced_products():
    catalog = pd.DataFrame(
        {
            "product_id": [f"P{i}" for i in range(7)],
            "category": ["shoes"] * 6 + ["socks"],
            "price": [10.0, 20.0, 30.0, 40.0, 50.0, 0.0, 8.0],  # the 0 is unpriced
        }
    )
    stats = feature_tables.catalog_stats_compute(catalog)
    assert stats["category_median_price"] == {"shoes": 30.0, "socks": 8.0}
    assert stats["category_band_edges"]["shoes"] == pytest.approx([18.0, 26.0, 34.0, 42.0])

    derived = feature_tables.product_frame_derive(catalog, stats).set_index("product_id")
    assert derived["band"].tolist() == [0, 1, 2, 3, 4, 0, 4]
    assert derived.loc["P0", "rel_price"] == pytest.approx(math.log(10 / 30))
    assert derived.loc["P2", "rel_price"] == 0.0
    assert derived.loc["P5", "rel_price"] == 0.0  # no price: at the median, not -inf


def test_the_snapshot_puts_catalog_prices_ratings_and_relative_prices_in_the_product_columns():
    snapshot = snapshot_build(events(*shown("P1", 1)))
    assert snapshot_value(snapshot, "P2", "p_log_price") == pytest.approx(math.log1p(50.0))
    assert snapshot_value(snapshot, "P2", "p_price_rel_category") == pytest.approx(math.log(50 / 100))
    assert snapshot_value(snapshot, "P2", "p_rating") == contract.UNRATED
    assert snapshot_value(snapshot, "P1", "p_rating") == 4.5
    assert snapshot.category_median_price == {"shoes": 100.0, "socks": 15.0}
    assert np.array_equal(
        snapshot.product_values[-1, : len(CONTRACT.of(Group.PRODUCT))], CONTRACT.plan(Group.PRODUCT).defaults
    )


def test_an_empty_history_gives_empty_tables_and_average_global_rates():
    empty = events(*shown("P1", 1)).iloc[0:0]
    tables = tables_compute(empty, until=UNTIL)
    assert tables.products.empty
    assert tables.query_products.empty
    assert tables.users.empty
    assert tables.stats["global_rates"] == {"ctr": 0.0, "atc": 0.0, "purchase": 0.0}
