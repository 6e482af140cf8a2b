"""Validating rows of shop files (catalog.importers.validation): frames of text in, typed rows and errors out."""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
import pytest

from catalog.columns import EVENTS, PRODUCTS
from catalog.importers.validation import Checked, events_check, products_check

EVENT_ID = "0b8f7c1e-3d2a-4f5b-9c6d-7e8f9a0b1c2d"
OTHER_ID = "1c9f7c1e3d2a4f5b9c6d7e8f9a0b1c2d"


# A good row of each file, in the declared column order.
GOOD_EVENT = dict(
    zip(
        EVENTS.file_names,
        [EVENT_ID, "impression", "2026-09-07T10:00:00", "U1", "s1", "Running  Shoes", "P1", "1", "r1"],
        strict=True,
    )
)
GOOD_PRODUCT = dict(
    zip(PRODUCTS.file_names, ["P0", "Trail shoe", "", "Acme", "Shoes", "19.99", "", "", ""], strict=True)
)


def rows_frame(good: dict[str, str], overrides: dict[str, list[str]]) -> pd.DataFrame:
    """One good row per item of the longest override, fields replaced by the overrides."""
    rows = max((len(values) for values in overrides.values()), default=1)
    return pd.DataFrame({**{name: [value] * rows for name, value in good.items()}, **overrides}, dtype=str)


def events_frame(**overrides: list[str]) -> pd.DataFrame:
    return rows_frame(GOOD_EVENT, overrides)


def products_frame(**overrides: list[str]) -> pd.DataFrame:
    """Products with external ids P0, P1, ... unless overridden."""
    rows = max((len(values) for values in overrides.values()), default=1)
    return rows_frame(GOOD_PRODUCT, {"external_id": [f"P{i}" for i in range(rows)], **overrides})


def lines_for(frame: pd.DataFrame) -> np.ndarray:
    return np.arange(2, len(frame) + 2)


def messages(checked: Checked) -> list[str]:
    return [str(error) for error in checked.errors]


def test_a_good_event_passes_with_its_query_normalised_and_its_naive_time_in_utc():
    checked = events_check(events_frame(), np.array([2]))
    assert checked.errors == []
    assert checked.rejected == 0
    row = checked.valid.iloc[0]
    assert row["query"] == "Running  Shoes"
    assert row["query_norm"] == "running shoes"
    assert row["timestamp"] == pd.Timestamp("2026-09-07T10:00:00", tz="UTC")
    assert row["position"] == 1


def test_timestamps_with_an_offset_are_converted_to_utc():
    checked = events_check(events_frame(timestamp=["2026-09-07T12:00:00+02:00"]), np.array([2]))
    assert checked.valid.iloc[0]["timestamp"] == pd.Timestamp("2026-09-07T10:00:00", tz="UTC")


def test_a_bad_position_is_reported_with_its_line_its_field_and_the_value_found():
    frame = events_frame(position=["1", "0", "2.5", "40000"])
    checked = events_check(frame, np.array([2, 17, 18, 19]))
    assert messages(checked) == [
        'line 17: position: must be an integer >= 1, got "0"',
        'line 18: position: must be an integer >= 1, got "2.5"',
        'line 19: position: must be at most 32767, got "40000"',
    ]
    assert checked.rejected == 3
    assert len(checked.valid) == 1


def test_an_impression_needs_a_position_but_a_click_does_not():
    frame = events_frame(event_type=["impression", "click"], position=["", ""])
    checked = events_check(frame, lines_for(frame))
    assert messages(checked) == ["line 2: position: required for impressions"]
    assert checked.valid["event_type"].tolist() == ["click"]
    assert checked.valid["position"].isna().all()


def test_every_bad_field_of_a_row_is_reported_and_the_row_counted_once():
    frame = events_frame(event_id=["nope"], event_type=["view"], timestamp=["yesterday"], product_id=[""])
    checked = events_check(frame, np.array([5]))
    assert checked.rejected == 1
    assert {error.field for error in checked.errors} == {"event_id", "event_type", "timestamp", "product_id"}
    assert all(error.line == 5 for error in checked.errors)


def test_event_ids_with_or_without_hyphens_are_uuids():
    frame = events_frame(event_id=[EVENT_ID, OTHER_ID, EVENT_ID.upper(), EVENT_ID[:-1]])
    checked = events_check(frame, lines_for(frame))
    assert messages(checked) == [f'line 5: event_id: must be a UUID, got "{EVENT_ID[:-1]}"']


def test_a_value_longer_than_its_column_is_rejected():
    frame = events_frame(request_id=["r" * 64, "r" * 65])
    checked = events_check(frame, lines_for(frame))
    assert [(error.line, error.field) for error in checked.errors] == [(3, "request_id")]
    assert "longer than 64 characters" in checked.errors[0].problem


@pytest.mark.parametrize("price", ["-1", "NaN", "inf", "-inf", "ten", "10000000000"])
def test_a_negative_nan_infinite_or_huge_price_is_rejected(price):
    checked = products_check(products_frame(price=[price]), np.array([2]), seen={})
    assert [error.field for error in checked.errors] == ["price"]
    assert checked.valid.empty


def test_a_good_product_comes_out_typed():
    frame = products_frame(rating=["4.5"], attributes=['{"colour": "red"}'], active=["FALSE"])
    checked = products_check(frame, np.array([2]), seen={})
    assert checked.errors == []
    row = checked.valid.iloc[0]
    assert (row["price"], row["rating"], row["attributes"], row["active"]) == (
        19.99,
        4.5,
        {"colour": "red"},
        False,
    )


def test_an_empty_rating_is_missing_and_empty_active_means_true():
    checked = products_check(products_frame(), np.array([2]), seen={})
    assert math.isnan(checked.valid.iloc[0]["rating"])
    assert bool(checked.valid.iloc[0]["active"]) is True
    assert checked.valid.iloc[0]["attributes"] == {}


def test_a_rating_outside_0_to_5_bad_attributes_and_a_bad_flag_are_rejected():
    frame = products_frame(
        rating=["5.5", "", ""], attributes=["", "[1, 2]", "{oops"], active=["", "", "maybe"]
    )
    checked = products_check(frame, lines_for(frame), seen={})
    assert [(error.line, error.field) for error in checked.errors] == [
        (2, "rating"),
        (3, "attributes"),
        (4, "active"),
        (4, "attributes"),
    ]


def test_an_external_id_repeated_in_the_file_is_rejected_naming_the_first_line():
    seen: dict[str, int] = {}
    first = products_frame(external_id=["A", "B", "A"])
    checked = products_check(first, np.array([2, 3, 4]), seen=seen)
    assert messages(checked) == ["line 4: external_id: appears again (first on line 2)"]
    later = products_frame(external_id=["B", "C"])
    checked = products_check(later, np.array([5, 6]), seen=seen)
    assert messages(checked) == ["line 5: external_id: appears again (first on line 3)"]
