"""POST /api/rank refuses bad input with a 4xx whose JSON names the field and the problem,
and no input ever gets a 500 (ranking.serving.validation, ranking.serving.http)."""

from __future__ import annotations

import io
import json

import pytest
from django.test import RequestFactory
from hypothesis import HealthCheck, example, given
from hypothesis import settings as hypothesis_settings
from hypothesis import strategies as st

from catalog.models import SearchRequest
from ranking.serving.http import BodyTooLarge, BoundedJSONParser
from tests.factories import ContractModelVersionFactory, ProductFactory
from tests.integration.api.support import (
    RANK,
    assert_error_shape,
    assert_refused,
    post_json,
    product,
    serve_current,
)

pytestmark = pytest.mark.django_db


def request_with(**fields) -> dict:
    return {"query": "running shoes", "products": [product("A1"), product("A2")], **fields}


def request_with_product(**fields) -> dict:
    """A request whose second candidate has ``fields`` (an id too)."""
    return {"query": "running shoes", "products": [product("A1"), {**product("A2"), **fields}]}


def request_without_product_field(name: str) -> dict:
    candidate = product("A2")
    del candidate[name]
    return {"query": "running shoes", "products": [product("A1"), candidate]}


CASES = [
    # (case, body, field, problem)
    ("missing query", {"products": []}, "query", "is required"),
    ("missing products", {"query": "shoes"}, "products", "is required"),
    ("query an integer", request_with(query=3), "query", "must be a string, got int"),
    ("query null", request_with(query=None), "query", "is required"),
    ("products an object", request_with(products={"id": "A1"}), "products", "must be a list, got dict"),
    ("a product not an object", request_with(products=[product("A1"), "A2"]), "products[1]", "object"),
    ("id true", request_with_product(id=True), "products[1].id", "got bool"),
    ("id a float", request_with_product(id=2.5), "products[1].id", "got float"),
    ("id a list", request_with_product(id=["A2"]), "products[1].id", "got list"),
    ("id null", request_with_product(id=None), "products[1].id", "is required"),
    ("id missing", request_without_product_field("id"), "products[1].id", "is required"),
    ("id empty", request_with_product(id=""), "products[1].id", "1 to 128 characters"),
    ("id too long", request_with_product(id="x" * 129), "products[1].id", "1 to 128 characters"),
    # orjson reads an integer beyond 64 bits as a float; the fallback parser (used when the
    # body also holds a NaN) keeps it an integer, which then has too many digits.
    ("id a 129-digit integer", request_with_product(id=10**128), "products[1].id", "got float"),
    (
        "id a 129-digit integer beside a NaN",
        request_with(products=[product("A1", rating=float("nan")), product(10**128)]),
        "products[0].rating",
        "finite",
    ),
    ("title missing", request_without_product_field("title"), "products[1].title", "is required"),
    ("title a number", request_with_product(title=7), "products[1].title", "must be a string"),
    ("category missing", request_without_product_field("category"), "products[1].category", "is required"),
    ("description a list", request_with_product(description=["x"]), "products[1].description", "string"),
    ("brand an object", request_with_product(brand={"a": 1}), "products[1].brand", "string"),
    ("price missing", request_without_product_field("price"), "products[1].price", "is required"),
    ("price a string", request_with_product(price="12.5"), "products[1].price", "got str"),
    ("price true", request_with_product(price=True), "products[1].price", "got bool"),
    ("price negative", request_with_product(price=-0.01), "products[1].price", ">= 0"),
    ("rating 6", request_with_product(rating=6), "products[1].rating", "between 0 and 5"),
    ("rating negative", request_with_product(rating=-1), "products[1].rating", "between 0 and 5"),
    ("rating a string", request_with_product(rating="4"), "products[1].rating", "got str"),
    ("limit 0", request_with(limit=0), "limit", "integer >= 1"),
    ("limit -1", request_with(limit=-1), "limit", "integer >= 1"),
    ("limit a string", request_with(limit="3"), "limit", "integer >= 1"),
    ("limit true", request_with(limit=True), "limit", "integer >= 1"),
    ("limit a float", request_with(limit=2.0), "limit", "integer >= 1"),
    ("explain a string", request_with(explain="yes"), "explain", "true or false"),
    ("explain 1", request_with(explain=1), "explain", "true or false"),
    ("user_id an integer", request_with(user_id=42), "user_id", "must be a string"),
    ("session_id too long", request_with(session_id="s" * 129), "session_id", "at most 128"),
    ("query over 512 characters", request_with(query="q" * 513), "query", "at most 512 characters"),
    ("NUL in the query", request_with(query="running\x00shoes"), "query", "NUL"),
    ("NUL in a title", request_with_product(title="Trail\x00shoes"), "products[1].title", "NUL"),
    ("NUL in an id", request_with_product(id="A\x002"), "products[1].id", "NUL"),
    ("duplicate ids", request_with(products=[product("A1"), product("A1")]), "products[1].id", "duplicates"),
    (
        "duplicate ids 1 and '1'",
        request_with(products=[product(1), product("1")]),
        "products[1].id",
        "duplicates products[0].id",
    ),
    ("a JSON array body", [request_with()], "body", "must be a JSON object, got list"),
    ("a JSON string body", "running shoes", "body", "must be a JSON object, got str"),
]


@pytest.mark.parametrize(("body", "field", "problem"), [c[1:] for c in CASES], ids=[c[0] for c in CASES])
def test_each_invalid_request_is_a_400_naming_the_field_and_the_problem(client, body, field, problem):
    response = post_json(client, RANK, body)

    assert_refused(response, 400, field, problem)


NUMBER_LITERALS = [
    ("NaN", b"NaN"),
    ("Infinity", b"Infinity"),
    ("-Infinity", b"-Infinity"),
    ("1e400", b"1e400"),
    ("-1e400", b"-1e400"),
    ("an integer beyond any float", b"1" + b"0" * 400),
]


@pytest.mark.parametrize("literal", [n[1] for n in NUMBER_LITERALS], ids=[n[0] for n in NUMBER_LITERALS])
def test_a_price_that_is_not_a_finite_number_is_named_even_when_json_cannot_hold_it(client, literal):
    body = (
        b'{"query": "shoes", "products": [{"id": "A1", "title": "Shoes", "category": "Shoes", '
        b'"price": ' + literal + b"}]}"
    )

    response = post_json(client, RANK, body)

    assert response.status_code == 400, response.content
    body = assert_error_shape(response)
    assert body["errors"][0]["field"] == "products[0].price"
    assert body["errors"][0]["problem"] in ("must be a finite number", "must be >= 0, got -inf")


def test_a_rating_of_nan_is_named(client):
    body = b'{"query": "shoes", "products": [{"id": "A1", "title": "S", "category": "S", "price": 1, "rating": NaN}]}'

    assert_refused(post_json(client, RANK, body), 400, "products[0].rating", "finite")


def test_more_candidates_than_the_cap_are_refused(client, settings):
    settings.SEARCHOP_MAX_CANDIDATES = 3

    response = post_json(client, RANK, request_with(products=[product(f"A{i}") for i in range(4)]))

    assert_refused(response, 400, "products", "at most 3 candidates, got 4")


def test_as_many_candidates_as_the_cap_are_ranked(client, settings):
    settings.SEARCHOP_MAX_CANDIDATES = 3
    serve_current()

    response = post_json(client, RANK, request_with(products=[product(f"A{i}") for i in range(3)]))

    assert response.status_code == 200
    assert response.json()["num_candidates"] == 3


@pytest.mark.parametrize(
    "body",
    [b'{"query": "shoes", "products": [', b"{'query': 'shoes'}", b'{"query": "shoes",}', b"\xff\xfe{}"],
    ids=["truncated", "single quotes", "trailing comma", "not UTF-8"],
)
def test_malformed_json_is_a_400_on_the_body(client, body):
    assert_refused(post_json(client, RANK, body), 400, "body", "malformed JSON")


def test_a_lone_surrogate_escape_is_refused_as_a_400_on_the_body(client):
    """JSON allows "\\ud800", but it is no Unicode text: it can be neither stored nor
    rendered back, so it is refused at the door rather than failing later with a 500."""
    serve_current()
    body = (
        b'{"query": "shoes \\ud800", "products": [{"id": "A1", "title": "S", "category": "S", "price": 1}]}'
    )

    assert_refused(post_json(client, RANK, body), 400, "body", "surrogate")


def test_an_empty_body_is_a_400_naming_what_is_missing(client):
    response = client.post(RANK, data=b"", content_type="application/json")

    assert_refused(response, 400, "query", "is required")


def test_a_body_declared_larger_than_the_limit_is_a_413_before_it_is_read(client, settings):
    settings.SEARCHOP_MAX_BODY_BYTES = 1_000
    body = request_with(products=[product(f"A{i}", description="d" * 100) for i in range(20)])

    response = post_json(client, RANK, body)

    assert_refused(response, 413, "body", "larger than the limit of 1000 bytes")


def test_a_body_at_the_limit_is_read(client, settings):
    serve_current()
    body = json.dumps(request_with()).encode()
    settings.SEARCHOP_MAX_BODY_BYTES = len(body)

    assert post_json(client, RANK, body).status_code == 200


def test_a_body_streamed_without_content_length_is_cut_at_the_limit(settings):
    """Without a declared length (a chunked body) the parser reads at most limit + 1 bytes
    and refuses the body when there are more."""
    settings.SEARCHOP_MAX_BODY_BYTES = 1_000
    request = RequestFactory().post(RANK, data=b"", content_type="application/json")
    request.META.pop("CONTENT_LENGTH", None)
    stream = io.BytesIO(b'{"query": "' + b"q" * 5_000 + b'"}')

    with pytest.raises(BodyTooLarge, match="larger than the limit"):
        BoundedJSONParser().parse(stream, parser_context={"request": request})
    assert stream.tell() == 1_001


def test_a_big_body_sent_without_content_length_is_not_read_and_gets_a_400_not_a_500(client, settings):
    """Django reads no body it was not told the length of (WSGI has no chunked bodies), so
    DRF sees an empty one: the answer is the 400 of an empty request, never a 500."""
    settings.SEARCHOP_MAX_BODY_BYTES = 1_000
    body = json.dumps(request_with(products=[product(f"A{i}") for i in range(50)])).encode()

    response = client.post(RANK, data=body, content_type="application/json", CONTENT_LENGTH="")

    assert_refused(response, 400, "query", "is required")


def test_a_body_that_is_not_json_is_a_415(client):
    response = client.post(RANK, data="query=shoes", content_type="text/plain")

    assert response.status_code == 415
    body = assert_error_shape(response)
    assert body["error"] == "unsupported_media_type"
    assert "text/plain" in body["detail"]


def test_a_form_body_is_a_415(client):
    response = client.post(RANK, data={"query": "shoes"})

    assert response.status_code == 415
    assert_error_shape(response)


def test_empty_products_get_a_200_with_an_empty_ranking(client):
    serve_current()

    response = post_json(client, RANK, {"query": "shoes", "products": []})

    assert response.status_code == 200
    body = response.json()
    assert body["ranked_products"] == []
    assert body["num_products"] == body["num_candidates"] == 0
    assert body["query"] == "shoes"


def test_a_query_that_normalises_longer_than_512_characters_is_ranked_and_logged(client):
    """NFKC expands some characters (U+FDFA becomes 18 letters): the logged query_norm must
    still fit its column, or the impression log write fails."""
    serve_current()
    query = "\ufdfa" * 512

    response = post_json(client, RANK, {"query": query, "products": [product("A1")]})

    assert response.status_code == 200, response.content
    logged = SearchRequest.objects.get(request_id=response.json()["request_id"])
    assert logged.query == query
    assert 0 < len(logged.query_norm) <= 512


# ---------------------------------------------------------------------------------------
# Property: no input gets a 500
# ---------------------------------------------------------------------------------------

EDGE_NUMBERS = st.sampled_from(
    [0, -1, 1, 5, 6, 2**63, 2**64, 10**30, 10**400, -(10**400), 1e308, -1e308, 5e-324, 0.0, -0.0]
)
SCALARS = (
    st.none()
    | st.booleans()
    | st.integers()
    | EDGE_NUMBERS
    | st.floats(allow_nan=True, allow_infinity=True)
    | st.text(max_size=12)
    | st.sampled_from(["", "\x00", "1", "A1", "Running Shoes", "x" * 600])
)
JSON_VALUES = st.recursive(
    SCALARS,
    lambda children: (
        st.lists(children, max_size=3) | st.dictionaries(st.text(max_size=6), children, max_size=3)
    ),
    max_leaves=6,
)


def either(valid: st.SearchStrategy) -> st.SearchStrategy:
    """Mostly a valid value, sometimes any JSON value at all."""
    return st.one_of(valid, valid, JSON_VALUES)


PRODUCTS = st.fixed_dictionaries(
    {
        "id": either(st.integers(0, 30) | st.sampled_from(["P00001", "P00002", "X1", "1"])),
        "title": either(st.text(max_size=40)),
        "price": either(st.floats(min_value=0, max_value=1e12) | st.integers(0, 10**6)),
        "category": either(st.sampled_from(["Running Shoes", "Socks", ""]) | st.text(max_size=10)),
    },
    optional={
        "description": either(st.text(max_size=60)),
        "brand": either(st.text(max_size=10)),
        "rating": either(st.floats(min_value=0, max_value=5) | st.none()),
        "extra": JSON_VALUES,
    },
)
REQUESTS = st.fixed_dictionaries(
    {
        "query": either(st.text(max_size=40) | st.sampled_from(["running shoes", "", "\ufdfa" * 30])),
        "products": either(st.lists(either(PRODUCTS), max_size=6)),
    },
    optional={
        "user_id": either(st.text(max_size=8) | st.none()),
        "session_id": either(st.text(max_size=8) | st.none()),
        "limit": either(st.integers(1, 10) | st.none()),
        "explain": either(st.booleans() | st.none()),
    },
)
BODIES = either(REQUESTS) | JSON_VALUES


@pytest.fixture
def model_serving():
    """A production model and two products the catalog knows, served."""
    ProductFactory(external_id="P00001")
    ProductFactory(external_id="P00002", price=12)
    ContractModelVersionFactory()
    state = serve_current()
    assert not state.fallback
    return state


@pytest.mark.usefixtures("model_serving")
@hypothesis_settings(
    max_examples=150,
    deadline=None,
    suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
)
@given(body=BODIES)
@example(body={"query": "shoes", "products": [{"id": 1, "title": "a", "price": 10**400, "category": ""}]})
@example(body={"query": "shoes", "products": [{"id": 10**200, "title": "a", "price": 1, "category": ""}]})
@example(body={"query": "shoes", "products": [{"id": 1, "title": "a", "price": 1e308, "category": "x"}]})
@example(body={"query": "shoes", "products": [], "limit": 10**30})
def test_no_input_gets_a_500_and_every_refusal_has_the_error_shape(client, body):
    response = post_json(client, RANK, body)

    assert response.status_code < 500, (body, response.content[:500])
    if response.status_code == 200:
        ranked = response.json()
        assert ranked["num_products"] == len(ranked["ranked_products"]) <= ranked["num_candidates"]
        assert all(0.0 <= item["score"] <= 1.0 for item in ranked["ranked_products"])
    else:
        assert response.status_code in (400, 413), (body, response.content[:500])
        assert_error_shape(response)


def test_a_chunked_body_without_a_length_gets_a_411_naming_the_body(client):
    response = client.post(
        "/api/rank", data=b"", content_type="application/json", HTTP_TRANSFER_ENCODING="chunked"
    )
    assert response.status_code == 411
    assert response.json()["errors"] == [
        {"field": "body", "problem": "send a Content-Length; chunked request bodies are not read"}
    ]
