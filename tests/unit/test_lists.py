"""Lists and labels (``training.lists``): one list per request, graded labels from the
funnel, only the events handed in, lists in time order."""

from __future__ import annotations

import numpy as np
import pandas as pd

from training.lists import LABELS, group_sizes, lists_build, lists_with_click

T0 = pd.Timestamp("2026-10-01T12:00:00Z")


def events(*rows: tuple) -> pd.DataFrame:
    """Rows of (request_id, event_type, product_id, position, minutes after T0, query, user)."""
    frame = pd.DataFrame(
        list(rows),
        columns=["request_id", "event_type", "product_id", "position", "timestamp", "query_norm", "user_id"],
    )
    frame["timestamp"] = T0 + pd.to_timedelta(frame["timestamp"], unit="min")
    return frame


def shown(request_id: str, products: list[str], *, minute: float = 0.0, query="shoes", user="U1") -> list:
    return [
        (request_id, "impression", product, position, minute, query, user)
        for position, product in enumerate(products, start=1)
    ]


def engaged(request_id: str, event_type: str, product: str, position: int, minute: float = 1.0) -> tuple:
    return (request_id, event_type, product, position, minute, "shoes", "U1")


def labels_of(lists: pd.DataFrame, request_id: str) -> dict[str, int]:
    rows = lists[lists["request_id"] == request_id]
    return dict(zip(rows["product_id"], rows["label"], strict=True))


def test_labels_grade_the_funnel_purchase_three_cart_two_click_one_shown_zero():
    lists = lists_build(
        events(
            *shown("r1", ["A", "B", "C", "D"]),
            engaged("r1", "click", "A", 1),
            engaged("r1", "click", "B", 2),
            engaged("r1", "add_to_cart", "B", 2),
            engaged("r1", "click", "C", 3),
            engaged("r1", "add_to_cart", "C", 3),
            engaged("r1", "purchase", "C", 3),
        )
    )
    assert labels_of(lists, "r1") == {"A": 1, "B": 2, "C": 3, "D": 0}
    assert lists["label"].dtype == np.int64
    assert LABELS == {"impression": 0, "click": 1, "add_to_cart": 2, "purchase": 3}


def test_a_product_takes_its_deepest_stage_whatever_the_order_of_its_events():
    lists = lists_build(
        events(
            engaged("r1", "purchase", "A", 1, minute=0.5),
            *shown("r1", ["A", "B"], minute=0.0),
            engaged("r1", "click", "A", 1, minute=2.0),
        )
    )
    assert labels_of(lists, "r1") == {"A": 3, "B": 0}


def test_a_click_on_a_product_the_list_did_not_show_is_ignored():
    lists = lists_build(events(*shown("r1", ["A", "B"]), engaged("r1", "click", "Z", 3)))
    assert labels_of(lists, "r1") == {"A": 0, "B": 0}


def test_a_click_whose_impressions_are_outside_the_window_makes_no_list():
    # The caller handed in the events of one window: r2's impressions fell before it.
    lists = lists_build(events(*shown("r1", ["A", "B"]), engaged("r2", "click", "A", 1)))
    assert set(lists["request_id"]) == {"r1"}


def test_events_without_a_request_belong_to_no_list():
    lists = lists_build(events(*shown("", ["A", "B"]), *shown("r1", ["C"]), engaged("", "click", "C", 1)))
    assert lists["request_id"].tolist() == ["r1"]
    assert labels_of(lists, "r1") == {"C": 0}


def test_lists_are_ordered_by_time_and_rows_by_position_with_list_index_counting_up():
    rows = [
        *shown("late", ["C", "A"], minute=30.0),
        *shown("early", ["B", "A", "C"], minute=5.0),
        *shown("middle", ["A"], minute=10.0),
    ]
    lists = lists_build(events(*reversed(rows)))
    assert lists["request_id"].tolist() == ["early"] * 3 + ["middle"] + ["late"] * 2
    assert lists["list_index"].tolist() == [0, 0, 0, 1, 2, 2]
    assert lists["position"].tolist() == [1, 2, 3, 1, 1, 2]
    assert lists["product_id"].tolist() == ["B", "A", "C", "A", "C", "A"]
    assert group_sizes(lists).tolist() == [3, 1, 2]


def test_a_product_shown_twice_in_one_list_keeps_its_first_position():
    lists = lists_build(events(*shown("r1", ["A", "B"]), ("r1", "impression", "A", 5, 0.0, "shoes", "U1")))
    assert lists["product_id"].tolist() == ["A", "B"]
    assert lists["position"].tolist() == [1, 2]


def test_a_list_carries_the_query_and_user_and_time_of_its_first_impression():
    lists = lists_build(
        events(
            *shown("r1", ["A"], minute=3.0, query="trail shoes", user="U7"),
            ("r1", "impression", "B", 2, 4.0, "trail shoes", ""),  # an impression without a user
            *shown("r2", ["A"], minute=9.0, query="boots", user="U8"),
        )
    )
    first = lists[lists["request_id"] == "r1"]
    assert first["query_norm"].tolist() == ["trail shoes", "trail shoes"]
    assert first["user_id"].tolist() == ["U7", "U7"]
    assert (first["timestamp"] == T0 + pd.Timedelta(minutes=3)).all()
    assert lists[lists["request_id"] == "r2"]["user_id"].tolist() == ["U8"]


def test_lists_with_click_flags_the_lists_that_have_a_positive_label():
    lists = lists_build(
        events(
            *shown("r1", ["A", "B"], minute=0.0),
            *shown("r2", ["A", "B"], minute=5.0),
            engaged("r2", "add_to_cart", "B", 2, minute=6.0),
        )
    )
    assert lists_with_click(lists).tolist() == [False, True]


def test_no_impressions_give_an_empty_frame_with_the_list_columns():
    lists = lists_build(events(engaged("r1", "click", "A", 1)))
    assert lists.empty
    assert "list_index" in lists.columns
    assert group_sizes(lists).tolist() == []
    assert lists_with_click(lists).tolist() == []
