"""schemathesis against /api/schema/, in the test suite: every documented operation is called
with generated input through the WSGI application and the real database. No answer is a 5xx,
and every status code, content type and body is one the schema documents.

Three runs: the BM25 fallback with valid and invalid input (schemathesis's positive and
negative modes), a production model with valid input (invalid input is refused before the
model is involved), and API keys on: a valid key with a small throttle, so that 429s come,
and a wrong key on every case (401).

schemathesis's own pytest integration (``from_fixture(...).parametrize()``) does not run on
pytest 9 (it sets ``Function._nodeid``, which is gone), so each operation and mode is a
Hypothesis test of its own here, reported as a subtest.
"""

from __future__ import annotations

from collections.abc import Callable

import pytest
import schemathesis
from django.core.signals import request_finished, request_started
from django.db import close_old_connections
from hypothesis import HealthCheck, given
from hypothesis import settings as hypothesis_settings
from schemathesis import GenerationMode
from schemathesis.checks import not_a_server_error
from schemathesis.specs.openapi.checks import (
    content_type_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from catalog.models import Product
from ranking.models import ApiClient
from ranking.serving.state import SERVING, ServingState, state_build
from searchop_site.wsgi import application
from tests.factories import ContractModelVersionFactory
from tests.integration.api.support import worker_state_reset

CHECKS = [not_a_server_error, status_code_conformance, content_type_conformance, response_schema_conformance]
OPERATIONS = {"POST /api/rank", "POST /api/events", "GET /health", "GET /ready"}
BOTH_MODES = [GenerationMode.POSITIVE, GenerationMode.NEGATIVE]
FUZZ = hypothesis_settings(
    deadline=None,
    database=None,  # no .hypothesis/ directory in the repository
    derandomize=True,  # the same cases on every run: a failure here reproduces
    suppress_health_check=list(HealthCheck),
)
# 30 keyed requests meet this in one clock minute even when the run straddles two.
THROTTLED_REQUESTS_PER_MINUTE = 5


@pytest.fixture(autouse=True)
def fresh_worker(settings, tmp_path):
    """A worker with nothing loaded, the impression log written in the request (so its rows
    are rolled back with the test), no model check or compilation behind the test's back."""
    settings.SEARCHOP_REQUIRE_API_KEY = False
    settings.SEARCHOP_IMPRESSION_LOG = "sync"
    settings.SEARCHOP_MODEL_CHECK_SECONDS = 3600.0
    settings.SEARCHOP_COMPILED_INFERENCE = False
    settings.SEARCHOP_VAR_DIR = tmp_path
    worker_state_reset()
    yield
    worker_state_reset()


@pytest.fixture(autouse=True)
def connections_kept_open():
    """Called straight through WSGI, Django closes the database connection after each request
    (inside the test's transaction it looks unusable); Django's test client stops that the
    same way."""
    request_started.disconnect(close_old_connections)
    request_finished.disconnect(close_old_connections)
    yield
    request_started.connect(close_old_connections)
    request_finished.connect(close_old_connections)


def shop_serve() -> ServingState:
    """A few products under ids a generator tries early ("0", "1", ...), so that known products
    (catalog attributes) are ranked as well as unknown ones; then the worker serves what the
    database holds, loaded here by the loader's own function (the loader's thread could not
    see this test's rows)."""
    Product.objects.bulk_create(
        Product(external_id=str(i), title=f"Trail shoe {i}", category="Shoes", price=10 + i, brand="B")
        for i in range(10)
    )
    state = state_build(SERVING._wanted_key())
    SERVING.reset(state)
    return state


def schema_load(*, headers: dict[str, str] | None = None) -> schemathesis.BaseSchema:
    schema = schemathesis.openapi.from_wsgi("/api/schema/", application)
    if headers:
        schema.config.update(headers=headers)
    labels = {result.ok().label for result in schema.get_all_operations()}
    assert labels == OPERATIONS
    return schema


def fuzz(
    schema: schemathesis.BaseSchema,
    subtests,
    *,
    modes: list[GenerationMode],
    max_examples: int,
    also: Callable | None = None,
) -> None:
    """Each operation in each mode as a Hypothesis test (a subtest named after both); ``also``
    runs after each validated call, with the case and the response."""
    for result in schema.get_all_operations():
        operation = result.ok()
        for mode in modes:
            if (
                mode is GenerationMode.NEGATIVE
                and not operation.body
                and not list(operation.iter_parameters())
            ):
                continue  # nothing to make invalid (GET /health)
            with subtests.test(msg=f"{operation.label} {mode.value}"):

                @hypothesis_settings(FUZZ, max_examples=max_examples)
                @given(case=operation.as_strategy(generation_mode=mode))
                def call(case):
                    response = case.call_and_validate(checks=CHECKS)
                    if also is not None:
                        also(case, response)

                call()


@pytest.mark.django_db
def test_every_answer_matches_the_schema_with_the_bm25_fallback(subtests):
    assert shop_serve().fallback

    fuzz(schema_load(), subtests, modes=BOTH_MODES, max_examples=50)


@pytest.mark.django_db
def test_every_answer_matches_the_schema_with_a_production_model(subtests):
    ContractModelVersionFactory()
    assert not shop_serve().fallback

    fuzz(schema_load(), subtests, modes=[GenerationMode.POSITIVE], max_examples=25)


@pytest.mark.django_db
def test_every_answer_matches_the_schema_with_api_keys_a_throttle_and_a_wrong_key(settings, subtests):
    settings.SEARCHOP_REQUIRE_API_KEY = True
    shop_serve()
    _, key = ApiClient.objects.create_key(
        name="schemathesis", requests_per_minute=THROTTLED_REQUESTS_PER_MINUTE
    )
    statuses: list[int] = []

    def also_with_a_wrong_key(case, response):
        statuses.append(response.status_code)
        refused = case.call_and_validate(headers={"Authorization": "Api-Key wrong.key"}, checks=CHECKS)
        if case.operation.path.startswith("/api/"):
            assert refused.status_code == 401  # with the Api-Key challenge

    fuzz(
        schema_load(headers={"Authorization": f"Api-Key {key}"}),
        subtests,
        modes=[GenerationMode.POSITIVE],
        max_examples=15,
        also=also_with_a_wrong_key,
    )
    assert 429 in statuses  # the throttle answered, and its body matched the schema
