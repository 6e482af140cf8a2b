"""``letor_write`` (``training.letor.write``): exact round trips through ``letor_read`` in
both forms, and what the writer refuses because it would not read back."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from tests.unit.letor.support import assert_same_rows, random_rows
from training.letor import read, write
from training.letor.read import letor_read
from training.letor.write import letor_write

# --- round trips -----------------------------------------------------------------------------


def test_a_written_file_reads_back_exactly(tmp_path):
    features, labels, list_index, qids = random_rows(np.random.default_rng(1))
    path = tmp_path / "set.txt"
    letor_write(path, features=features, labels=labels, list_index=list_index, qids=qids)

    data = letor_read(path)

    assert_same_rows(data, features, labels, list_index)
    assert data.qids.dtype == np.int64
    assert np.array_equal(data.qids, qids)
    assert data.num_features == features.shape[1]


def test_a_file_written_with_a_query_file_reads_back_exactly(tmp_path):
    features, labels, list_index, _ = random_rows(np.random.default_rng(2))
    path = tmp_path / "set.txt"
    letor_write(path, features=features, labels=labels, list_index=list_index, query_file=True)

    assert "qid:" not in path.read_text()
    assert (tmp_path / "set.txt.query").read_text().split() == [str(s) for s in np.bincount(list_index)]
    data = letor_read(path)
    assert_same_rows(data, features, labels, list_index)
    assert np.array_equal(data.qids, np.arange(list_index.max() + 1))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    features=hnp.arrays(
        np.float64,
        st.tuples(st.integers(1, 12), st.integers(1, 6)),
        elements=st.one_of(st.floats(allow_nan=False, allow_infinity=False), st.just(0.0)),
    ),
    data=st.data(),
)
def test_any_finite_doubles_survive_the_round_trip(tmp_path_factory, features, data):
    n = features.shape[0]
    labels = data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, 31)))
    list_index = np.sort(data.draw(hnp.arrays(np.int64, n, elements=st.integers(0, 3))))
    list_index = np.unique(list_index, return_inverse=True)[1].astype(np.int64)
    path = tmp_path_factory.mktemp("roundtrip") / "set.txt"
    letor_write(path, features=features, labels=labels, list_index=list_index)

    read = letor_read(path)

    # Columns whose values are all zero are not written, so the read matrix may be narrower.
    assert np.array_equal(read.features, features[:, : read.num_features])
    assert not features[:, read.num_features :].any()
    assert np.array_equal(read.labels, labels)
    assert np.array_equal(read.list_index, list_index)


def test_string_qids_read_back_as_strings_even_ones_pandas_would_take_for_missing(tmp_path):
    features, labels, list_index, _ = random_rows(np.random.default_rng(3), n_lists=4)
    qids = np.array(["q-17", "NA", "007", "abc"], dtype=object)
    path = tmp_path / "set.txt"
    letor_write(path, features=features, labels=labels, list_index=list_index, qids=qids)

    data = letor_read(path)

    assert list(data.qids) == ["q-17", "NA", "007", "abc"]
    assert_same_rows(data, features, labels, list_index)


def test_rows_are_written_in_list_index_order_keeping_their_order_within_a_list(tmp_path):
    path = tmp_path / "set.txt"
    letor_write(
        path,
        features=np.array([[1.0], [2.0], [3.0], [4.0]]),
        labels=[0, 1, 2, 3],
        list_index=[1, 0, 1, 0],
        qids=["b", "a"],
    )

    assert path.read_text() == "1 qid:b 1:2\n3 qid:b 1:4\n0 qid:a 1:1\n2 qid:a 1:3\n"


def test_lists_that_span_the_reader_blocks_read_back_exactly(tmp_path, monkeypatch):
    features, labels, list_index, qids = random_rows(np.random.default_rng(4), n_lists=60)
    path = tmp_path / "set.txt"
    letor_write(path, features=features, labels=labels, list_index=list_index, qids=qids)
    monkeypatch.setattr(read, "_BLOCK_BYTES", 1000)
    monkeypatch.setattr(write, "_WRITE_ROWS", 7)
    rewritten = tmp_path / "again.txt"
    letor_write(rewritten, features=features, labels=labels, list_index=list_index, qids=qids)

    assert rewritten.read_bytes() == path.read_bytes()
    data = letor_read(path)
    assert_same_rows(data, features, labels, list_index)
    assert np.array_equal(data.qids, qids)


# --- what the writer refuses -----------------------------------------------------------------


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"qids": [5, 5]}, "qids must be distinct"),
        ({"qids": ["a b", "c"]}, "qid 'a b' is empty or holds whitespace"),
        ({"qids": [1]}, "one value per list"),
        ({"labels": [0.5, 1, 2]}, "labels must be whole numbers from 0 to 2147483647"),
        ({"labels": [-1, 1, 2]}, "labels must be whole numbers from 0 to 2147483647"),
        ({"features": [[1.0], [np.nan], [0.0]]}, "feature 1 of row 1 is nan: values must be finite"),
    ],
)
def test_the_writer_refuses_what_would_not_read_back(tmp_path, change, message):
    arguments = {"features": [[1.0], [2.0], [0.0]], "labels": [0, 1, 2], "list_index": [0, 0, 1], **change}

    with pytest.raises(ValueError, match=message):
        letor_write(tmp_path / "set.txt", **arguments)


def test_the_comment_goes_first_and_the_reader_skips_it(tmp_path):
    path = tmp_path / "set.txt"
    letor_write(path, features=[[1.5]], labels=[1], list_index=[0], comment="SearchOp export\nfeatures: 1")

    assert path.read_text() == "# SearchOp export\n# features: 1\n1 qid:0 1:1.5\n"
    assert letor_read(path).num_rows == 1


def test_the_query_file_form_is_what_lightgbm_itself_reads(tmp_path):
    rng = np.random.default_rng(9)
    features = np.round(rng.random((30, 4)) * 10, 3)  # LightGBM's own text parser is not exact
    features[features < 3] = 0.0
    labels, list_index = rng.integers(0, 5, 30), np.repeat(np.arange(6), 5)
    path = tmp_path / "train.txt"
    letor_write(path, features=features, labels=labels, list_index=list_index, query_file=True)

    dataset = lgb.Dataset(str(path), params={"verbose": -1}).construct()

    assert np.array_equal(dataset.get_label(), labels)
    assert np.array_equal(np.diff(dataset.get_field("group")), np.bincount(list_index))
