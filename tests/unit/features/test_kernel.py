"""The compiled kernel (``ranking.features.kernel``) builds a request's matrix with the values
of the reference builder (``matrix_build``), on random histories and random requests; it
follows the contract (an added feature, an expression over a group's inputs); and it refuses
tables that would make it read outside an array instead of reading there."""

from __future__ import annotations

import string

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from ranking.compiled import FEATURE_KERNEL, extension_load
from ranking.features import kernel
from ranking.features.contract import CONTRACT, FEATURES, Contract, Feature, Group
from ranking.features.inputs import ProductAttributes
from ranking.features.kernel import kernel_prepare, request_matrix_build
from ranking.features.matrix import matrix_build
from tests.feature_frames import CATALOG, events, snapshot_build

pytestmark = pytest.mark.filterwarnings("ignore:invalid value encountered in divide:RuntimeWarning")

CATALOG_IDS = CATALOG["product_id"].tolist()
WORDS = ["running", "shoes", "shoe", "trail", "acme", "wool", "socks", "leather", "boots", "zoom", "purple"]
QUERIES = ["running shoes", "wool socks", "acme", "boots leather"]
USERS = ["U1", "U2", "U3", ""]
# A text feature computed from two inputs (NaN for 0 / 0: its default), besides the user
# group's expressions, so that both ways a contract gives a value are exercised.
TITLE_SHARE = Feature(
    "t_title_share",
    Group.TEXT,
    -1.0,
    "BM25 of the title over BM25 of all",
    lambda t: t.bm25_title / t.bm25_all,
)
EXTENDED = Contract(version="kernel-test", features=(*FEATURES, TITLE_SHARE))

histories = st.lists(
    st.tuples(
        st.sampled_from(["impression", "impression", "click", "add_to_cart", "purchase"]),
        st.sampled_from([*CATALOG_IDS, "GONE"]),
        st.sampled_from(QUERIES),
        st.sampled_from(USERS),
        st.integers(1, 6),
        st.floats(0.5, 40.0),
    ),
    min_size=0,
    max_size=40,
)
words = st.lists(
    st.one_of(st.sampled_from(WORDS), st.text(string.ascii_letters + "é -", min_size=1, max_size=6)),
    max_size=5,
)
attributes = st.builds(
    ProductAttributes,
    title=words.map(" ".join),
    price=st.one_of(st.just(0.0), st.floats(0.01, 1e4)),
    category=st.sampled_from(["shoes", "socks", "gadgets", ""]),
    description=words.map(" ".join),
    brand=st.sampled_from(["", "Acme", "Zoom", "Nobody"]),
    rating=st.one_of(st.none(), st.floats(0.0, 5.0)),
)


@st.composite
def requests(draw):
    known = draw(st.lists(st.sampled_from(CATALOG_IDS), unique=True))
    cold = draw(st.dictionaries(st.sampled_from(["NEW-1", "NEW-2", "NEW-3"]), attributes, max_size=3))
    unknown = draw(st.lists(st.sampled_from(["GONE", "LOST"]), unique=True))
    ids = draw(st.permutations([*known, *cold, *unknown]))
    query = draw(st.one_of(st.sampled_from(QUERIES), words.map(" ".join)))
    return {"query": " ".join(query.casefold().split()), "user": draw(st.sampled_from([*USERS, "nobody"])),
            "ids": list(ids), "cold": cold}  # fmt: skip


def both(snapshot, request) -> tuple[np.ndarray, np.ndarray]:
    n = len(request["ids"])
    compiled = request_matrix_build(
        snapshot,
        query_norm=request["query"],
        user=request["user"],
        product_ids=request["ids"],
        cold_products=request["cold"],
    )
    reference = matrix_build(
        snapshot,
        queries=[request["query"]] * n,
        users=[request["user"]] * n,
        product_ids=request["ids"],
        cold_products=request["cold"],
    )
    return compiled, reference


def test_the_kernel_is_built_from_the_current_sources_and_loaded():
    module = extension_load(FEATURE_KERNEL)
    assert module is not None
    assert FEATURE_KERNEL.digest == module.SOURCE_SHA256
    assert FEATURE_KERNEL.library().exists()


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(history=histories, request_list=st.lists(requests(), min_size=1, max_size=4))
def test_on_random_histories_and_requests_the_kernel_gives_the_reference_builders_values(
    history, request_list
):
    snapshot = snapshot_build(events(*history))
    for request in request_list:
        compiled, reference = both(snapshot, request)
        np.testing.assert_allclose(compiled, reference, rtol=0, atol=1e-9)


@settings(max_examples=25, deadline=None)
@given(history=histories, request=requests())
def test_a_feature_computed_from_text_inputs_is_computed_the_same_way(history, request):
    snapshot = snapshot_build(events(*history), contract=EXTENDED)
    compiled, reference = both(snapshot, request)
    assert compiled.shape == (len(request["ids"]), len(CONTRACT.names) + 1)
    np.testing.assert_allclose(compiled, reference, rtol=0, atol=1e-9)


def test_a_repeated_query_is_taken_from_the_bounded_cache(monkeypatch):
    snapshot = snapshot_build(events(("impression", "P1", "acme", "U1", 1, 1.0)))
    tables = kernel_prepare(snapshot)
    monkeypatch.setattr(kernel, "QUERY_CACHE_SIZE", 2)
    first = tables.query("acme")
    assert tables.query("acme") is first
    tables.query("wool socks")
    tables.query("boots")
    assert tables.query("acme") is not first  # the least recently used went first


def test_an_empty_candidate_list_gives_an_empty_matrix_of_the_contract_width():
    snapshot = snapshot_build(events())
    matrix = request_matrix_build(snapshot, query_norm="acme", user="U1", product_ids=[], cold_products={})
    assert matrix.shape == (0, len(CONTRACT.names))


def test_tables_pointing_outside_their_arrays_are_refused_at_load():
    snapshot = snapshot_build(events(("impression", "P1", "acme", "U1", 1, 1.0)))
    term = next(iter(snapshot.postings))
    rows, weights = snapshot.postings[term]
    snapshot.postings[term] = (rows + len(CATALOG), weights)  # rows past the catalog's end
    with pytest.raises(ValueError, match="post_rows"):
        kernel.KernelTables(snapshot, extension_load(FEATURE_KERNEL))


def test_a_candidate_id_that_is_not_text_is_refused_not_read():
    snapshot = snapshot_build(events())
    with pytest.raises(TypeError, match="ids must be str"):
        request_matrix_build(snapshot, query_norm="acme", user="", product_ids=["P1", 2], cold_products={})


def test_where_the_kernel_cannot_be_built_the_reference_builder_serves(monkeypatch):
    snapshot = snapshot_build(events(("impression", "P1", "acme", "U1", 1, 1.0)))
    monkeypatch.setattr(kernel, "_KERNEL", None)
    ids = ["P1", "P2", "NEW"]
    cold = {"NEW": ProductAttributes(title="Acme boots", price=5.0, category="shoes")}
    served = request_matrix_build(snapshot, query_norm="acme", user="U1", product_ids=ids, cold_products=cold)
    assert snapshot.kernel is None
    np.testing.assert_array_equal(
        served,
        matrix_build(snapshot, queries=["acme"] * 3, users=["U1"] * 3, product_ids=ids, cold_products=cold),
    )
