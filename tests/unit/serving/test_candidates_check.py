"""The compiled pass over a rank request's candidates (``ranking/serving/_candidates.c``) is
never more lenient than the Python validator: on any list of candidates it either returns
the ids the validator returns, or leaves the list to the validator (which names the problem
or accepts it)."""

from __future__ import annotations

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from ranking.compiled import CANDIDATES_CHECK, extension_load
from ranking.serving import validation
from ranking.serving.validation import (
    MAX_DESCRIPTION,
    MAX_ID_LENGTH,
    MAX_SHORT_TEXT,
    RankInputError,
    _candidates_validate,
)

CHECK = extension_load(CANDIDATES_CHECK)

texts = st.one_of(st.text(max_size=8), st.sampled_from(["", "a\x00b", "x" * 129, "y" * 513]))
numbers = st.one_of(
    st.floats(allow_nan=True, allow_infinity=True),
    st.integers(-5, 10),
    st.integers(-(2**70), 2**70),
    st.booleans(),
    st.none(),
    st.just("3"),
)
ids = st.one_of(
    st.integers(-3, 3), st.integers(10**127, 10**129), st.sampled_from(["1", "P1", "P2"]), texts, st.none()
)
candidate = st.fixed_dictionaries(
    {"id": ids, "title": texts, "price": numbers, "category": texts},
    optional={"description": st.one_of(texts, st.just("d" * 10_001)), "brand": texts, "rating": numbers},
)
candidates = st.lists(st.one_of(candidate, candidate, candidate, st.just([]), st.just("P1")), max_size=6)


def check(products: list):
    return CHECK.candidates_check(products, MAX_ID_LENGTH, MAX_SHORT_TEXT, MAX_DESCRIPTION)


@settings(max_examples=500, deadline=None)
@given(products=candidates)
def test_the_compiled_pass_accepts_only_what_the_validator_accepts_with_the_same_ids(products):
    checked = check(products)
    try:
        validated = _candidates_validate(products)
    except RankInputError:
        validated = None
    if type(checked) is list:
        assert checked == validated
    else:
        assert 0 <= checked < len(products)


def test_a_list_of_the_common_kind_is_accepted_whole_with_ids_as_text():
    products = [
        {"id": "P1", "title": "Shoe", "price": 10.5, "category": "Shoes"},
        {"id": 7, "title": "Sock", "price": 3, "category": "Socks", "brand": None, "rating": 4},
    ]
    assert check(products) == ["P1", "7"]


@pytest.mark.parametrize(
    ("products", "position"),
    [
        ([{"id": "P1", "title": "a", "price": 1, "category": "c"}, {"id": 1.5}], 1),
        (
            [
                {"id": "1", "title": "a", "price": 1, "category": "c"},
                {"id": 1, "title": "a", "price": 1, "category": "c"},
            ],
            1,
        ),
        ([{"id": "P1", "title": "a", "price": float("nan"), "category": "c"}], 0),
        ([{"id": "P1", "title": "a", "price": 1, "category": "c", "rating": True}], 0),
    ],
    ids=["an id that is a float", "1 and '1': duplicates", "a NaN price", "a rating true"],
)
def test_the_first_candidate_out_of_the_common_case_is_left_to_the_validator(products, position):
    assert check(products) == position


def test_where_the_compiled_pass_cannot_be_built_the_validator_checks_every_candidate(monkeypatch):
    monkeypatch.setattr(validation, "_CHECK", None)
    request = validation.rank_request_validate(
        {"query": "shoes", "products": [{"id": 7, "title": "Sock", "price": 3, "category": "Socks"}]}
    )
    assert request.ids == ["7"]
    with pytest.raises(RankInputError, match="duplicates"):
        validation.rank_request_validate(
            {"query": "q", "products": [{"id": 7, "title": "a", "price": 1, "category": "c"}] * 2}
        )
