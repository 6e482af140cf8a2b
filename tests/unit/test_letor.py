"""LETOR / SVMlight files: exact round trips in both forms, what the reader accepts and how
it names what it does not, and LambdaMART trained and evaluated on a generated set."""

from __future__ import annotations

import gzip

import lightgbm as lgb
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from hypothesis.extra import numpy as hnp

from training import letor, metrics
from training.letor import LetorData, LetorFormatError, letor_read, letor_train_evaluate, letor_write

# --- helpers ---------------------------------------------------------------------------------


def random_rows(rng: np.random.Generator, n_lists: int = 40, n_features: int = 12):
    """Lists of random sizes; features sparse, a mix of whole numbers and arbitrary doubles
    (random bit patterns: subnormals, 17-digit mantissas, huge and tiny exponents)."""
    sizes = rng.integers(1, 15, n_lists)
    n = int(sizes.sum())
    bits = rng.integers(0, 2**63, size=(n, n_features), dtype=np.int64).view(np.float64)
    bits[~np.isfinite(bits)] = 0.5
    signs = np.where(rng.random((n, n_features)) < 0.5, -1.0, 1.0)
    whole = rng.integers(-1000, 1000, size=(n, n_features)).astype(np.float64)
    features = np.where(rng.random((n, n_features)) < 0.5, whole, bits * signs)
    features[rng.random((n, n_features)) < 0.4] = 0.0
    labels = rng.integers(0, 5, n)
    list_index = np.repeat(np.arange(n_lists), sizes)
    qids = rng.permutation(10 * n_lists)[:n_lists] + 1  # distinct, in no particular order
    return features, labels, list_index, qids


def write_text(path, text: str):
    path.write_text(text)
    return path


def assert_same_rows(data: LetorData, features, labels, list_index):
    assert data.features.dtype == np.float64
    assert data.labels.dtype == np.int64
    assert np.array_equal(data.features, features)
    assert np.array_equal(data.labels, labels)
    assert np.array_equal(data.list_index, list_index)


def synthetic_letor(rng: np.random.Generator, n_lists: int, size: int = 20, gainless_share: float = 0.2):
    """Lists whose labels 0..4 follow feature 1 plus noise; features 2..5 are noise; a share
    of lists has no label above 0 at all."""
    n = n_lists * size
    features = rng.random((n, 5))
    labels = np.clip(np.floor(5 * features[:, 0] + rng.normal(0, 0.8, n)), 0, 4).astype(np.int64)
    list_index = np.repeat(np.arange(n_lists, dtype=np.int64), size)
    gainless = rng.random(n_lists) < gainless_share
    labels[gainless[list_index]] = 0
    return LetorData(features=features, labels=labels, list_index=list_index, qids=np.arange(n_lists))


@pytest.fixture(scope="module")
def synthetic_sets():
    rng = np.random.default_rng(7)
    return synthetic_letor(rng, 300), synthetic_letor(rng, 150)


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
    monkeypatch.setattr(letor, "_BLOCK_BYTES", 1000)
    monkeypatch.setattr(letor, "_WRITE_ROWS", 7)
    rewritten = tmp_path / "again.txt"
    letor_write(rewritten, features=features, labels=labels, list_index=list_index, qids=qids)

    assert rewritten.read_bytes() == path.read_bytes()
    data = letor_read(path)
    assert_same_rows(data, features, labels, list_index)
    assert np.array_equal(data.qids, qids)


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
    assert letor._parse_block_fast(path.read_bytes(), with_qid=True) is None  # never misread


def test_a_qid_in_a_file_whose_lists_come_from_the_query_file_is_an_error(tmp_path):
    path = write_text(tmp_path / "train.txt", "1 1:0.5\n0 qid:3 1:0.1\n")
    write_text(tmp_path / "train.txt.query", "2\n")

    with pytest.raises(LetorFormatError, match=r"line 2: a qid: token, but the first row has none"):
        letor_read(path)


def test_an_error_deep_in_a_large_file_names_its_line(tmp_path, monkeypatch):
    lines = [f"{i % 3} qid:{i // 10} 1:{i}.5 2:{i}" for i in range(2000)]
    lines[1536] = "1 qid:153 1:0.5 2:1.5.5"
    path = write_text(tmp_path / "big.txt", "\n".join(lines) + "\n")
    monkeypatch.setattr(letor, "_BLOCK_BYTES", 4096)  # the error is many blocks in

    with pytest.raises(LetorFormatError, match=r"line 1537: the value of feature 2 '1.5.5' is not a number"):
        letor_read(path)


def test_a_file_that_does_not_end_in_a_newline_reads_its_last_line(tmp_path):
    path = write_text(tmp_path / "set.txt", "1 qid:1 1:0.5\n2 qid:1 2:3")

    assert np.array_equal(letor_read(path).features, [[0.5, 0.0], [0.0, 3.0]])


def test_an_empty_file_has_no_rows(tmp_path):
    data = letor_read(write_text(tmp_path / "empty.txt", "# nothing yet\n"))

    assert (data.num_rows, data.num_lists, data.num_features) == (0, 0, 0)


def test_the_fast_path_takes_comments_tabs_and_windows_line_ends(tmp_path):
    block = b"# c: 1\n\n 2  qid:10\t1:0.5 2:3 # x:y\r\n0 qid:10 1:0.25 \n\t\n"

    fast = letor._parse_block_fast(block, with_qid=True)

    assert fast is not None
    assert np.array_equal(fast.features, [[0.5, 3.0], [0.25, 0.0]])


def test_the_fast_path_never_reads_a_damaged_file_differently_from_the_line_by_line_parser(tmp_path):
    rng = np.random.default_rng(11)
    lines = ["2 qid:1 1:0.5 3:-2 # a comment", "0 qid:1 2:1e-3 3:7", "1 qid:q2 1:4.25", "", "3 qid:q2"]
    alphabet = [*' \t:#qid0123456789.-e"xN\n', "qid:", " 4:", "\r\n", "NA:NA", " nan:nan", "1e300"]
    agreements = 0
    for _ in range(3000):
        text = "\n".join(lines) + "\n"
        for _ in range(rng.integers(1, 4)):
            at = int(rng.integers(0, len(text)))
            if rng.random() < 0.5:
                text = text[:at] + str(rng.choice(alphabet)) + text[at:]
            else:
                text = text[:at] + text[at + 1 :]
        block = text.encode() if text.endswith("\n") else text.encode() + b"\n"
        fast = letor._parse_block_fast(block, with_qid=True)
        if fast is None:
            continue
        careful = letor._parse_block_careful(tmp_path, 1, block.split(b"\n"), with_qid=True)
        assert np.array_equal(fast.features, careful.features), text
        assert np.array_equal(fast.labels, careful.labels), text
        assert list(fast.qids) == list(careful.qids), text
        agreements += 1
    assert agreements > 300  # the fast path took a good share of the damaged files


def test_the_fast_path_and_the_line_by_line_parser_agree(tmp_path):
    features, labels, list_index, qids = random_rows(np.random.default_rng(8))
    path = tmp_path / "set.txt"
    letor_write(path, features=features, labels=labels, list_index=list_index, qids=qids, comment="x: 1")
    block = path.read_bytes()

    fast = letor._parse_block_fast(block, with_qid=True)
    careful = letor._parse_block_careful(path, 1, block.split(b"\n"), with_qid=True)

    assert fast is not None
    assert np.array_equal(fast.features, careful.features)
    assert np.array_equal(fast.labels, careful.labels)
    assert list(fast.qids) == list(careful.qids)


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


# --- training and evaluation -----------------------------------------------------------------

SMALL_PARAMS = {"learning_rate": 0.1, "num_leaves": 7, "min_data_in_leaf": 20}


def random_ndcg10(valid: LetorData) -> float:
    ranks = metrics.ranks_from_scores(valid.list_index, metrics.random_scores(valid.list_index, seed=0))
    return float(np.nanmean(metrics.ndcg_at_k(valid.list_index, ranks, valid.labels, k=10)))


def test_lambdamart_on_a_synthetic_set_ranks_clearly_better_than_chance(synthetic_sets):
    train, valid = synthetic_sets

    result = letor_train_evaluate(train=train, valid=valid, params=SMALL_PARAMS, num_boost_round=40)

    assert result["ndcg@10"] > random_ndcg10(valid) + 0.2
    assert result["ndcg@10"] < 1.0
    for k in (1, 3, 5):
        assert 0 < result[f"ndcg@{k}"] <= 1.0
    assert result["lists"] == 150
    has_gain = np.bincount(valid.list_index, weights=valid.labels > 0) > 0
    assert result["lists_with_gain"] == int(has_gain.sum())
    assert (result["best_iteration"], result["num_trees"]) == (40, 40)
    assert result["train_seconds"] > 0


def test_the_lightgbm_convention_counts_gainless_lists_as_one(synthetic_sets):
    train, valid = synthetic_sets

    result = letor_train_evaluate(train=train, valid=valid, params=SMALL_PARAMS, num_boost_round=20)

    lists, with_gain = result["lists"], result["lists_with_gain"]
    assert with_gain < lists  # the set has gainless lists
    assert result["ndcg@10_lightgbm_convention"] >= result["ndcg@10"]
    expected = (with_gain * result["ndcg@10"] + (lists - with_gain)) / lists
    assert result["ndcg@10_lightgbm_convention"] == pytest.approx(expected)


def test_the_lightgbm_convention_is_lightgbm_own_ndcg(synthetic_sets):
    train, valid = synthetic_sets
    params = {**SMALL_PARAMS, **letor.DEFAULT_TRAIN_PARAMS}

    result = letor_train_evaluate(train=train, valid=valid, params=params, num_boost_round=15)

    evaluation: dict = {}
    lgb.train(
        letor._train_params(params, 4),
        lgb.Dataset(train.features, label=train.labels, group=train.groups),
        num_boost_round=15,
        valid_sets=[lgb.Dataset(valid.features, label=valid.labels, group=valid.groups)],
        valid_names=["valid"],
        callbacks=[lgb.record_evaluation(evaluation)],
    )
    assert result["ndcg@10_lightgbm_convention"] == pytest.approx(
        evaluation["valid"]["ndcg@10"][-1], abs=1e-9
    )


def test_training_twice_gives_the_same_figures(synthetic_sets):
    train, valid = synthetic_sets

    first, second = (
        letor_train_evaluate(train=train, valid=valid, params=SMALL_PARAMS, num_boost_round=10)
        for _ in range(2)
    )

    first.pop("train_seconds"), second.pop("train_seconds")
    assert first == second


def test_early_stopping_reports_the_best_iteration_and_the_trees_grown(synthetic_sets):
    train, valid = synthetic_sets

    result = letor_train_evaluate(
        train=train,
        valid=valid,
        params={**SMALL_PARAMS, "learning_rate": 0.3},
        num_boost_round=300,
        early_stopping_rounds=5,
    )

    assert result["best_iteration"] < result["num_trees"] < 300
    assert result["num_trees"] - result["best_iteration"] == 5


def test_train_and_valid_of_different_widths_are_aligned(synthetic_sets):
    train, valid = synthetic_sets
    narrow = LetorData(valid.features[:, :3], valid.labels, valid.list_index, valid.qids)

    result = letor_train_evaluate(train=train, valid=narrow, params=SMALL_PARAMS, num_boost_round=5)

    assert result["lists"] == valid.num_lists


def test_a_short_standard_label_gain_is_extended_and_any_other_refused(synthetic_sets):
    train, valid = synthetic_sets

    result = letor_train_evaluate(
        train=train, valid=valid, params={**SMALL_PARAMS, "label_gain": [0, 1, 3, 7]}, num_boost_round=3
    )
    assert result["num_trees"] == 3
    with pytest.raises(ValueError, match="label_gain has 4 entries but the labels go up to 4"):
        letor_train_evaluate(train=train, valid=valid, params={"label_gain": [0, 1, 2, 3]}, num_boost_round=3)


def test_labels_above_thirty_get_a_long_enough_label_gain():
    params = letor._train_params({}, max_label=40)

    assert len(params["label_gain"]) == 41
    assert params["label_gain"][40] == 2.0**40 - 1
    assert (params["objective"], params["metric"], params["eval_at"]) == ("lambdarank", "ndcg", [10])
