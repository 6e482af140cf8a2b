"""Reading shop files (catalog.importers.reading): chunks of text fields with the line of each row."""

from __future__ import annotations

import gzip

import numpy as np
import pandas as pd
import pytest

from catalog.columns import EVENTS
from catalog.importers.reading import ImportFileError, read_chunks
from catalog.importers.validation import events_check

EVENT_ID = "0b8f7c1e-3d2a-4f5b-9c6d-7e8f9a0b1c2d"
OTHER_ID = "1c9f7c1e3d2a4f5b9c6d7e8f9a0b1c2d"


def test_line_numbers_count_the_header_blank_lines_and_line_breaks_inside_quotes(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text(
        "event_id,event_type,timestamp,product_id,position,query\n"  # line 1
        f'{EVENT_ID},impression,2026-09-07,P1,1,"two\nlines"\n'  # lines 2-3
        "\n"  # line 4
        f"{EVENT_ID},impression,2026-09-07,P1,0,q\n"  # line 5
    )
    (chunk,) = read_chunks(path, columns=EVENTS)
    assert chunk.lines.tolist() == [2, 5]
    assert chunk.frame["query"].tolist() == ["two\nlines", "q"]
    assert chunk.frame["user_id"].tolist() == ["", ""]  # an absent optional column reads as empty
    checked = events_check(chunk.frame, chunk.lines)
    assert [str(error) for error in checked.errors] == ['line 5: position: must be an integer >= 1, got "0"']


def test_a_row_with_too_many_fields_is_reported_with_its_line_in_any_chunk(tmp_path):
    path = tmp_path / "events.csv"
    good = f"{EVENT_ID},impression,2026-09-07,P1,1\n"
    path.write_text(
        "event_id,event_type,timestamp,product_id,position\n" + good * 3 + good.strip() + ",extra\n" + good
    )
    chunks = list(read_chunks(path, columns=EVENTS, chunk_rows=2))
    assert [str(error) for chunk in chunks for error in chunk.errors] == ["line 5: expected 5 fields, saw 6"]
    assert np.concatenate([chunk.lines for chunk in chunks]).tolist() == [2, 3, 4, 6]


def test_a_header_missing_a_required_column_or_naming_an_unknown_one_is_a_file_error(tmp_path):
    path = tmp_path / "events.csv"
    path.write_text("event_id,event_type,when,product_id\n")
    with pytest.raises(
        ImportFileError, match=r"line 1: missing column\(s\) timestamp; unknown column\(s\) when"
    ):
        list(read_chunks(path, columns=EVENTS))


@pytest.mark.parametrize("name", ["events.txt", "events.json", "events.csv.zip"])
def test_an_unknown_file_extension_is_a_file_error(tmp_path, name):
    path = tmp_path / name
    path.write_text("")
    with pytest.raises(ImportFileError, match="unknown format"):
        list(read_chunks(path, columns=EVENTS))


def test_json_lines_read_like_csv_text_and_bad_lines_are_reported_by_number(tmp_path):
    path = tmp_path / "events.jsonl"
    path.write_text(
        f'{{"event_id": "{EVENT_ID}", "event_type": "impression", "timestamp": "2026-09-07", "product_id": 7, "position": 3}}\n'
        "\n"
        "{broken\n"
        "[1, 2]\n"
        f'{{"event_id": "{OTHER_ID}", "event_type": "click", "timestamp": "2026-09-07", "product_id": "P1", "position": null}}\n'
    )
    (chunk,) = read_chunks(path, columns=EVENTS)
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
        list(read_chunks(path, columns=EVENTS))


def test_gzipped_files_read_like_plain_ones(tmp_path):
    text = f"event_id,event_type,timestamp,product_id,position\n{EVENT_ID},click,2026-09-07,P1,\n"
    plain, zipped = tmp_path / "e.csv", tmp_path / "e.csv.gz"
    plain.write_text(text)
    zipped.write_bytes(gzip.compress(text.encode()))
    frames = [next(read_chunks(path, columns=EVENTS)).frame for path in (plain, zipped)]
    pd.testing.assert_frame_equal(frames[0], frames[1])
