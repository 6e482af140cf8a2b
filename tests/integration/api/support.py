"""Helpers of the serving tests: requests, the error shape, metrics, serving states."""

from __future__ import annotations

import json
import math
from dataclasses import replace
from decimal import Decimal
from typing import Any

from django.test import Client
from prometheus_client.parser import text_string_to_metric_families

from catalog.models import Event, GroundTruth, Product, SearchRequest
from ranking.experiments.selectors import experiment_live_get
from ranking.models import Experiment, FeatureSet, ModelVersion, ModelVersionTransition
from ranking.serving.access import KEY_CACHE
from ranking.serving.drift_sampling import SAMPLER
from ranking.serving.experiment import ExperimentRankers
from ranking.serving.impression_log import WRITER
from ranking.serving.state import SERVING, ServingState, compiled_predictor, state_build
from tests.factories import ProductFactory

RANK = "/api/rank"
EVENTS = "/api/events"
ERROR_KEYS = {"error", "detail", "errors"}


def worker_state_reset() -> None:
    """Forget what this process holds as a web worker: the serving state, the impression-log
    queue, the verified API keys and the drift samples not yet written."""
    SERVING.reset()
    WRITER.reset()
    KEY_CACHE.clear()
    SAMPLER.reset()


def serving_state_load() -> ServingState:
    """What a worker would load for the database as this test sees it, loaded here."""
    return state_build(SERVING._wanted_key())


def serve_current() -> ServingState:
    """Load the state for the database as this test sees it and serve it, with the running
    experiment's rankers if one runs (built here, as a worker's check builds them)."""
    state = serving_state_load()
    live = experiment_live_get()
    if live is not None:
        rankers = ExperimentRankers(compiled_predictor)
        state = replace(state, experiment=rankers.build(live, state_version=state.model_version))
    SERVING.reset(state)
    return state


# ---------------------------------------------------------------------------------------
# Requests and responses
# ---------------------------------------------------------------------------------------


def post_json(client: Client, path: str, body: Any, **extra: Any):
    """POST ``body``: bytes as they are, anything else as JSON (by the standard library,
    which writes NaN, Infinity and integers of any size as literals)."""
    data = body if isinstance(body, bytes) else json.dumps(body).encode()
    return client.post(path, data=data, content_type="application/json", **extra)


def assert_error_shape(response) -> dict:
    """Every refusal is ``{"error", "detail", "errors": [{"field", "problem"}, ...]}``."""
    assert response["Content-Type"].startswith("application/json"), response["Content-Type"]
    body = response.json()
    assert set(body) >= ERROR_KEYS, body
    assert isinstance(body["error"], str)
    assert body["error"]
    assert isinstance(body["detail"], str)
    assert body["detail"]
    assert isinstance(body["errors"], list), body
    assert body["errors"], body
    for item in body["errors"]:
        assert set(item) == {"field", "problem"}, item
        assert isinstance(item["field"], str)
        assert item["field"]
        assert isinstance(item["problem"], str)
        assert item["problem"]
    return body


def assert_refused(response, status: int, field: str, problem: str = "") -> dict:
    """The response is ``status`` and names ``field`` with a problem containing ``problem``."""
    assert response.status_code == status, (response.status_code, response.content[:500])
    body = assert_error_shape(response)
    named = [item for item in body["errors"] if item["field"] == field]
    assert named, f"{field!r} not named in {body['errors']}"
    assert any(problem in item["problem"] for item in named), (problem, named)
    return body


def product(id: Any = "X1", **overrides: Any) -> dict:
    """A valid candidate, for a product the catalog does not know unless ``id`` says so."""
    return {
        "id": id,
        "title": "Trail running shoes",
        "price": 89.5,
        "category": "Running Shoes",
        **overrides,
    }


def logistic(raw: float) -> float:
    return 1.0 / (1.0 + math.exp(-raw))


def metric_value(client: Client, name: str, **labels: str) -> float:
    """A sample's value as ``/metrics`` exposes it (0 when the labelled series does not exist)."""
    text = client.get("/metrics").content.decode()
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            if sample.name == name and all(sample.labels.get(k) == v for k, v in labels.items()):
                return sample.value
    return 0.0


def committed_rows_delete() -> None:
    """Delete what a module fixture committed: the shop, its logs, features and models."""
    SearchRequest.objects.all().delete()
    Experiment.objects.all().delete()
    GroundTruth.objects.all().delete()
    Event.objects.all().delete()
    Product.objects.all().delete()
    FeatureSet.objects.all().delete()
    ModelVersionTransition.objects.all().delete()
    ModelVersion.objects.all().delete()


# The experiments' tests' shop: eight shoes and their neighbours in one category.
SHOE_CATALOG = [
    # external_id, title, price
    ("P1", "Trail running shoes", "59.00"),
    ("P2", "Leather office shoes", "180.00"),
    ("P3", "Running socks three pack", "12.50"),
    ("P4", "Road running shoes", "95.00"),
    ("P5", "Running shoes for kids", "39.00"),
    ("P6", "Waterproof hiking boots", "140.00"),
    ("P7", "Running shorts", "25.00"),
    ("P8", "Minimalist running shoes", "120.00"),
]
SHOE_IDS = [row[0] for row in SHOE_CATALOG]


def shoe_catalog_create() -> None:
    for external_id, title, price in SHOE_CATALOG:
        ProductFactory(external_id=external_id, title=title, price=Decimal(price), category="Shoes")
