"""``letor_read`` (``training.letor.read``): what the reader accepts, and how it names the
file, the line and the problem of what it does not."""

from __future__ import annotations

import gzip

import numpy as np
import pytest

from tests.unit.letor.support import assert_same_rows, random_rows, write_text
from training.letor import parse, read
from training.letor.data import LetorFormatError
from training.letor.read import letor_read
from training.letor.write import letor_write

# --- what the reader accepts -----------------------------------------------------------------


def test_missing_features_read_as_zero(tmp_path):
    path = write_text(tmp_path / "sparse.txt", "2 qid:1 3:0.5 7:-2\n0 qid:1\n1 qid:1 1:4 7:1e-3\n")

    data = letor_read(path)

    assert data.num_features == 7
    expected = np.zeros((3, 7))
    expected[0, [2, 6]] = [0.5, -2.0]
    expected[2, [0, 6]] = [4.0, 0.001]
    assert np.array_equal(data.features, expected)
    assert list(data.labels) == [2, 0, 1]


def test_comments_blank_lines_and_windows_line_ends_are_ignored(tmp_path):
    text = (
        "# MSLR-like header: label qid:Q index:value\n"
        "\n"
        "2 qid:10 1:0.5 2:3 #docid = GX008-86-4444840 inc = 1 qid:99 x:y\n"
        "   \t\n"
        "0 qid:10 1:0.25\t2:1\r\n"
        "  # an indented comment: 1:2\n"
        "1 qid:11 2:7#no blank before the comment\n"
    )
    path = write_text(tmp_path / "commented.txt", text)

    data = letor_read(path)

    assert np.array_equal(data.features, [[0.5, 3.0], [0.25, 1.0], [0.0, 7.0]])
    assert list(data.labels) == [2, 0, 1]
    assert list(data.list_index) == [0, 0, 1]
    assert list(data.qids) == [10, 11]


def test_a_gzip_file_reads_like_the_plain_one(tmp_path):
    features, labels, list_index, qids = random_rows(np.random.default_rng(5))
    plain, packed = tmp_path / "set.txt", tmp_path / "set.txt.gz"
    for path in (plain, packed):
        letor_write(path, features=features, labels=labels, list_index=list_index, qids=qids)

    assert gzip.decompress(packed.read_bytes()) == plain.read_bytes()
    data = letor_read(packed)
    assert_same_rows(data, features, labels, list_index)
    assert np.array_equal(data.qids, qids)


def test_a_gzip_file_with_a_query_file_reads_back(tmp_path):
    features, labels, list_index, _ = random_rows(np.random.default_rng(6))
    path = tmp_path / "set.txt.gz"
    letor_write(path, features=features, labels=labels, list_index=list_index, query_file=True)

    assert (tmp_path / "set.txt.gz.query").exists()
    assert_same_rows(letor_read(path), features, labels, list_index)


def test_the_query_file_next_to_the_data_file_is_found_automatically(tmp_path):
    path = write_text(tmp_path / "train.txt", "1 1:0.5\n0 1:0.1\n2 1:0.9\n0 2:1\n1 1:3\n")
    write_text(tmp_path / "train.txt.query", "2\n3\n")

    data = letor_read(path)

    assert list(data.list_index) == [0, 0, 1, 1, 1]
    assert list(data.qids) == [0, 1]
    assert list(data.groups) == [2, 3]


def test_a_query_file_can_be_given_by_name(tmp_path):
    path = write_text(tmp_path / "train.txt", "1 1:0.5\n0 1:0.1\n2 1:0.9\n")
    sizes = write_text(tmp_path / "groups.txt", "1\n2\n")

    assert list(letor_read(path, query_file=sizes).list_index) == [0, 1, 1]


def test_a_file_without_qids_or_a_query_file_is_an_error_naming_what_is_missing(tmp_path):
    path = write_text(tmp_path / "train.txt", "# header\n1 1:0.5\n")

    with pytest.raises(LetorFormatError, match=r"train\.txt, line 2: no qid: token.*train\.txt\.query"):
        letor_read(path)


def test_group_sizes_that_do_not_add_up_are_an_error(tmp_path):
    path = write_text(tmp_path / "train.txt", "1 1:0.5\n0 1:0.1\n2 1:0.9\n")
    write_text(tmp_path / "train.txt.query", "2\n2\n")

    with pytest.raises(LetorFormatError, match=r"add up to 4 but .* has 3 rows"):
        letor_read(path)


def test_a_bad_group_size_names_its_line_in_the_query_file(tmp_path):
    path = write_text(tmp_path / "train.txt", "1 1:0.5\n0 1:0.1\n")
    write_text(tmp_path / "train.txt.query", "1\nx\n")

    with pytest.raises(LetorFormatError, match=r"train\.txt\.query, line 2: group size 'x'"):
        letor_read(path)


def test_a_query_file_beside_qid_rows_is_refused(tmp_path):
    path = write_text(tmp_path / "train.txt", "1 qid:1 1:0.5\n")
    sizes = write_text(tmp_path / "sizes", "1\n")

    with pytest.raises(LetorFormatError, match="query_file is only for files without"):
        letor_read(path, query_file=sizes)


def test_qid_order_is_preserved(tmp_path):
    path = write_text(
        tmp_path / "set.txt", "1 qid:30 1:1\n0 qid:7 1:2\n0 qid:7 1:3\n2 qid:1000 1:4\n1 qid:2 1:5\n"
    )

    data = letor_read(path)

    assert list(data.qids) == [30, 7, 1000, 2]
    assert list(data.list_index) == [0, 1, 1, 2, 3]


def test_a_qid_that_comes_back_after_other_qids_is_an_error_naming_both_lines(tmp_path):
    path = write_text(tmp_path / "set.txt", "# shuffled\n1 qid:1 1:1\n0 qid:2 1:2\n\n2 qid:1 1:3\n")

    with pytest.raises(LetorFormatError, match=r"line 5: qid 1 again.*began at line 2.*contiguous") as error:
        letor_read(path)
    assert error.value.line == 5


@pytest.mark.parametrize(
    ("bad_line", "problem"),
    [
        ("1.5 qid:1 1:0.5", "label '1.5' is not an integer (LightGBM's lambdarank needs integer labels)"),
        ("high qid:1 1:0.5", "label 'high' is not a number"),
        ("-1 qid:1 1:0.5", "label '-1' is negative"),
        ("1e300 qid:1 1:0.5", "label '1e300' is above 2147483647"),
        ("1 qid:1 1:0.5 oops", "token 'oops' is not index:value"),
        ("1 qid:1 1:0.5 2::3", "token '2::3' is not index:value"),
        ("1 qid:1 x:0.5", "feature index 'x' is not a number"),
        ("1 qid:1 NA:NA", "feature index 'NA' is not a number"),
        ("1 qid:1 1.5:0.5", "feature index '1.5' is not a whole number"),
        ("1 qid:1 :0.5", "token ':0.5' is not index:value"),
        ("1 qid:1 1: 2:3", "token '1:' is not index:value"),
        ('1 qid:1 1:"0.5', "the value of feature 1 '\"0.5' is not a number"),
        ("1 qid:1 1:0.5 2:abc", "the value of feature 2 'abc' is not a number"),
        ("1 qid:1 1:nan", "the value of feature 1 is 'nan', not a finite number"),
        ("1 qid:1 0:0.5", "feature index 0: indices start at 1"),
        ("1 qid:1 1e300:0.5", f"feature index {int(1e300)} is above MAX_FEATURE_INDEX = 100000"),
        ("1 qid:1 3:0.5 2:0.5", "feature index 2 after 3: indices must increase"),
        ("1 qid:1 3:0.5 3:0.5", "feature index 3 after 3: indices must increase"),
        ("1 1:0.5", "expected qid:<id> after the label, got '1:0.5' (the first row has a qid)"),
        ("1 qid: 1:0.5", "qid '' is empty or holds a ':'"),
    ],
)
def test_a_bad_line_is_an_error_naming_the_file_the_line_and_the_problem(tmp_path, bad_line, problem):
    path = write_text(tmp_path / "set.txt", f"# header\n0 qid:1 1:0.1 2:0.2\n\n{bad_line}\n0 qid:1 2:1\n")

    with pytest.raises(LetorFormatError) as error:
        letor_read(path)

    assert str(error.value) == f"{path}, line 4: {problem}"
    assert (error.value.line, error.value.problem) == (4, problem)
    assert parse._parse_block_fast(path.read_bytes(), with_qid=True) is None  # never misread


def test_a_qid_in_a_file_whose_lists_come_from_the_query_file_is_an_error(tmp_path):
    path = write_text(tmp_path / "train.txt", "1 1:0.5\n0 qid:3 1:0.1\n")
    write_text(tmp_path / "train.txt.query", "2\n")

    with pytest.raises(LetorFormatError, match=r"line 2: a qid: token, but the first row has none"):
        letor_read(path)


def test_an_error_deep_in_a_large_file_names_its_line(tmp_path, monkeypatch):
    lines = [f"{i % 3} qid:{i // 10} 1:{i}.5 2:{i}" for i in range(2000)]
    lines[1536] = "1 qid:153 1:0.5 2:1.5.5"
    path = write_text(tmp_path / "big.txt", "\n".join(lines) + "\n")
    monkeypatch.setattr(read, "_BLOCK_BYTES", 4096)  # the error is many blocks in

    with pytest.raises(LetorFormatError, match=r"line 1537: the value of feature 2 '1.5.5' is not a number"):
        letor_read(path)


def test_a_file_that_does_not_end_in_a_newline_reads_its_last_line(tmp_path):
    path = write_text(tmp_path / "set.txt", "1 qid:1 1:0.5\n2 qid:1 2:3")

    assert np.array_equal(letor_read(path).features, [[0.5, 0.0], [0.0, 3.0]])


def test_an_empty_file_has_no_rows(tmp_path):
    data = letor_read(write_text(tmp_path / "empty.txt", "# nothing yet\n"))

    assert (data.num_rows, data.num_lists, data.num_features) == (0, 0, 0)
