"""The pure reading and validation of shop files: no database."""

from __future__ import annotations

import gzip
import math

import numpy as np
import pandas as pd
import pytest

from catalog import importers
from catalog.importers import ImportFileError, events_check, products_check, read_chunks
from catalog.models import Event, Product

EVENT_ID = "0b8f7c1e-3d2a-4f5b-9c6d-7e8f9a0b1c2d"
OTHER_ID = "1c9f7c1e3d2a4f5b9c6d7e8f9a0b1c2d"


def events_frame(**overrides: list[str]) -> pd.DataFrame:
    """One good impression per item of the longest override, fields replaced by the overrides."""
    rows = max((len(values) for values in overrides.values()), default=1)
    base = {
        "event_id": [EVENT_ID] * rows,
        "event_type": ["impression"] * rows,
        "timestamp": ["2026-09-07T10:00:00"] * rows,
        "user_id": ["U1"] * rows,
        "session_id": ["s1"] * rows,
        "query": ["Running  Shoes"] * rows,
        "product_id": ["P1"] * rows,
        "position": ["1"] * rows,
        "request_id": ["r1"] * rows,
    }
    base.update(overrides)
    return pd.DataFrame(base, dtype=str)


def products_frame(**overrides: list[str]) -> pd.DataFrame:
    rows = max((len(values) for values in overrides.values()), default=1)
    base = {
        "external_id": [f"P{i}" for i in range(rows)],
        "title": ["Trail shoe"] * rows,
        "description": [""] * rows,
        "brand": ["Acme"] * rows,
        "category": ["Shoes"] * rows,
        "price": ["19.99"] * rows,
        "rating": [""] * rows,
        "attributes": [""] * rows,
        "active": [""] * rows,
    }
    base.update(overrides)
    return pd.DataFrame(base, dtype=str)


def lines_for(frame: pd.DataFrame) -> np.ndarray:
    return np.arange(2, len(frame) + 2)


def messages(checked: importers.Checked) -> list[str]:
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


def test_the_text_limits_match_the_models():
    event_fields = {"product_id": "product"}
    for name, limit in importers.EVENT_TEXT_LIMITS.items():
        assert Event._meta.get_field(event_fields.get(name, name)).max_length in (limit, None)
    assert (
        Event._meta.get_field("product").target_field.max_length == importers.EVENT_TEXT_LIMITS["product_id"]
    )
    for name, limit in importers.PRODUCT_TEXT_LIMITS.items():
        assert Product._meta.get_field(name).max_length == limit


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


def test_line_numbers_count_the_header_blank_lines_and_line_breaks_inside_quotes(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,event_type,timestamp,product_id,position,query\n"  # line 1
        f'{EVENT_ID},impression,2026-09-07,P1,1,"two\nlines"\n'  # lines 2-3
        "\n"  # line 4
        f"{EVENT_ID},impression,2026-09-07,P1,0,q\n"  # line 5
    )
    (chunk,) = read_chunks(path, columns=importers.EVENT_COLUMNS, required=importers.EVENT_REQUIRED_COLUMNS)
    assert chunk.lines.tolist() == [2, 5]
    assert chunk.frame["query"].tolist() == ["two\nlines", "q"]
    assert chunk.frame["user_id"].tolist() == ["", ""]  # an absent optional column reads as empty
    checked = events_check(chunk.frame, chunk.lines)
    assert messages(checked) == ['line 5: position: must be an integer >= 1, got "0"']


def test_a_row_with_too_many_fields_is_reported_with_its_line_in_any_chunk(tmp_path):
    path = tmp_path / "events.csv"
    good = f"{EVENT_ID},impression,2026-09-07,P1,1\n"
    path.write_text(
        "event_id,event_type,timestamp,product_id,position\n" + good * 3 + good.strip() + ",extra\n" + good
    )
    chunks = list(
        read_chunks(
            path, columns=importers.EVENT_COLUMNS, required=importers.EVENT_REQUIRED_COLUMNS, chunk_rows=2
        )
    )
    assert [str(error) for chunk in chunks for error in chunk.errors] == ["line 5: expected 5 fields, saw 6"]
    assert np.concatenate([chunk.lines for chunk in chunks]).tolist() == [2, 3, 4, 6]


def test_a_header_missing_a_required_column_or_naming_an_unknown_one_is_a_file_error(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("event_id,event_type,when,product_id\n")
    with pytest.raises(
        ImportFileError, match=r"line 1: missing column\(s\) timestamp; unknown column\(s\) when"
    ):
        list(read_chunks(path, columns=importers.EVENT_COLUMNS, required=importers.EVENT_REQUIRED_COLUMNS))


@pytest.mark.parametrize("name", ["events.txt", "events.json", "events.csv.zip"])
def test_an_unknown_file_extension_is_a_file_error(tmp_path, name):
    path = tmp_path / name
    path.write_text("")
    with pytest.raises(ImportFileError, match="unknown format"):
        list(read_chunks(path, columns=importers.EVENT_COLUMNS, required=importers.EVENT_REQUIRED_COLUMNS))


def test_json_lines_read_like_csv_text_and_bad_lines_are_reported_by_number(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(
        f'{{"event_id": "{EVENT_ID}", "event_type": "impression", "timestamp": "2026-09-07", "product_id": 7, "position": 3}}\n'
        "\n"
        "{broken\n"
        "[1, 2]\n"
        f'{{"event_id": "{OTHER_ID}", "event_type": "click", "timestamp": "2026-09-07", "product_id": "P1", "position": null}}\n'
    )
    (chunk,) = read_chunks(path, columns=importers.EVENT_COLUMNS, required=importers.EVENT_REQUIRED_COLUMNS)
    assert chunk.lines.tolist() == [1, 5]
    assert chunk.frame["product_id"].tolist() == ["7", "P1"]
    assert chunk.frame["position"].tolist() == ["3", ""]
    assert [(error.line, error.problem.split(" (")[0]) for error in chunk.errors] == [
        (3, "not valid JSON"),
        (4, "not a JSON object"),
    ]
    assert events_check(chunk.frame, chunk.lines).errors == []


def test_an_unknown_json_field_is_a_file_error(tmp_path):
    path = tmp_path / "events.ndjson"
    path.write_text('{"event_id": "x", "colour": "red"}\n')
    with pytest.raises(ImportFileError, match="unknown field"):
        list(read_chunks(path, columns=importers.EVENT_COLUMNS, required=importers.EVENT_REQUIRED_COLUMNS))


def test_gzipped_files_read_like_plain_ones(tmp_path):
    text = f"event_id,event_type,timestamp,product_id,position\n{EVENT_ID},click,2026-09-07,P1,\n"
    plain, zipped = tmp_path / "e.csv", tmp_path / "e.csv.gz"
    plain.write_text(text)
    zipped.write_bytes(gzip.compress(text.encode()))
    frames = [
        next(
            read_chunks(path, columns=importers.EVENT_COLUMNS, required=importers.EVENT_REQUIRED_COLUMNS)
        ).frame
        for path in (plain, zipped)
    ]
    pd.testing.assert_frame_equal(frames[0], frames[1])
