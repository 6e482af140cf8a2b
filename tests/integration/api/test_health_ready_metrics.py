"""GET /health (liveness), GET /ready (readiness, with the reason) and GET /metrics
(django-prometheus and SearchOp's own metrics) (ranking.api, ranking.serving.observability)."""

from __future__ import annotations

import time
import uuid

import pytest
from prometheus_client.parser import text_string_to_metric_families

from ranking.serving.state import SERVING
from tests.factories import ContractModelVersionFactory
from tests.integration.api.support import EVENTS, RANK, metric_value, post_json, product, serve_current

pytestmark = pytest.mark.django_db

STEPS = ("parse", "validate", "features", "score", "order", "log", "respond")


def test_health_answers_healthy_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "healthy"
    assert abs(body["time"] - time.time()) < 60


def test_ready_names_the_model_it_serves(client):
    model = ContractModelVersionFactory()
    serve_current()

    response = client.get("/ready")

    assert response.status_code == 200
    assert response.json() == {
        "status": "ready",
        "database": "ok",
        "model_version": model.version,
        "fallback": False,
        "reason": f"serving v{model.version}",
    }


def test_ready_with_the_fallback_says_why(client):
    serve_current()

    response = client.get("/ready")

    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ready"
    assert body["fallback"] is True
    assert body["model_version"] is None
    assert body["reason"] == "no production model"


def test_ready_is_503_while_the_first_model_loads_and_starts_the_load(client):
    """Nothing loaded yet: not ready, and the probe itself starts loading in the background
    (here: no production model, so the fallback), after which it is ready."""
    response = client.get("/ready")

    assert response.status_code == 503
    assert response.json()["status"] == "unavailable"
    assert response.json()["reason"] == "the model is loading"
    assert response.json()["database"] == "ok"
    deadline = time.monotonic() + 60
    while SERVING.peek() is None and time.monotonic() < deadline:
        time.sleep(0.05)
    assert client.get("/ready").status_code == 200


def exposed(client) -> dict[str, set[tuple]]:
    """Every sample name on /metrics with the label sets it has."""
    samples: dict[str, set[tuple]] = {}
    for family in text_string_to_metric_families(client.get("/metrics").content.decode()):
        for sample in family.samples:
            samples.setdefault(sample.name, set()).add(tuple(sorted(sample.labels.items())))
    return samples


def test_metrics_expose_searchops_own_metrics_beside_django_prometheus(client):
    model = ContractModelVersionFactory()
    serve_current()
    version = str(model.version)
    before = {
        "latency": metric_value(client, "searchop_rank_latency_seconds_count", model_version=version),
        "candidates": metric_value(client, "searchop_rank_candidates_count"),
        "steps": {
            step: metric_value(client, "searchop_rank_step_seconds_count", step=step) for step in STEPS
        },
        "clicks": metric_value(client, "searchop_events_ingested_total", event_type="click"),
    }

    ranked = post_json(client, RANK, {"query": "shoes", "products": [product("A"), product("B")]})
    events = post_json(
        client,
        EVENTS,
        {"events": [{"event_id": str(uuid.uuid4()), "event_type": "click", "product_id": "A"}]},
    )

    assert ranked.status_code == 200
    assert events.status_code == 200
    assert (
        metric_value(client, "searchop_rank_latency_seconds_count", model_version=version)
        == before["latency"] + 1
    )
    assert metric_value(client, "searchop_rank_candidates_count") == before["candidates"] + 1
    for step in STEPS:
        assert (
            metric_value(client, "searchop_rank_step_seconds_count", step=step) == before["steps"][step] + 1
        )
    assert metric_value(client, "searchop_events_ingested_total", event_type="click") == before["clicks"] + 1
    samples = exposed(client)
    assert "searchop_rank_latency_seconds_bucket" in samples
    assert "searchop_rank_candidates_bucket" in samples
    assert "django_http_requests_total_by_view_transport_method_total" in samples
    assert "django_http_responses_total_by_status_total" in samples
    assert "django_http_requests_latency_seconds_by_view_method_count" in samples


def test_metrics_count_fallbacks_and_model_load_failures(client):
    serve_current()
    fallbacks = metric_value(client, "searchop_rank_fallbacks_total", reason="no_model")

    post_json(client, RANK, {"query": "shoes", "products": [product("A")]})
    model = ContractModelVersionFactory(model_sha256="0" * 64)  # does not match its text
    failures = metric_value(client, "searchop_model_load_failures_total", model_version=str(model.version))
    serve_current()

    assert metric_value(client, "searchop_rank_fallbacks_total", reason="no_model") == fallbacks + 1
    assert (
        metric_value(client, "searchop_model_load_failures_total", model_version=str(model.version))
        == failures + 1
    )
    assert ("model_version", "fallback") in {
        label for labels in exposed(client)["searchop_rank_latency_seconds_count"] for label in labels
    }
