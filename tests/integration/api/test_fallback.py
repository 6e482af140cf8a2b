"""With no production model, or one that fails to load or verify, /api/rank still answers 200
with a BM25 order, ``fallback: true`` and ``model_version: null``, and counts it
(ranking.serving.state.state_build, the fallback state)."""

from __future__ import annotations

import time

import pytest

from ranking.models import ModelVersion
from ranking.serving.state import SERVING
from tests.factories import ContractModelVersionFactory, ProductFactory
from tests.integration.api.support import RANK, metric_value, post_json, serve_current
from tests.registry_factories import ModelVersionFactory, sha256

pytestmark = pytest.mark.django_db

QUERY = "red running shoes"
TITLES = {
    "P1": "Blue wool socks",
    "P2": "Red trail running shoes",
    "P3": "Running shoes",
    "P4": "Red leather handbag",
}


@pytest.fixture
def catalog():
    for external_id, title in TITLES.items():
        ProductFactory(external_id=external_id, title=title, description="", category="Shoes", brand="Acme")


def candidates() -> list[dict]:
    return [{"id": pid, "title": title, "price": 50.0, "category": "Shoes"} for pid, title in TITLES.items()]


def rank(client, **fields) -> dict:
    response = post_json(client, RANK, {"query": QUERY, "products": candidates(), **fields})
    assert response.status_code == 200, response.content
    return response.json()


def corrupt(model: ModelVersion, *, keep_sha: bool) -> None:
    """Cut the stored model text in half behind the registry's back (a direct UPDATE)."""
    text = model.model_text[: len(model.model_text) // 2]
    fields = {"model_text": text, **({"model_sha256": sha256(text)} if keep_sha else {})}
    ModelVersion.objects.filter(pk=model.pk).update(**fields)


@pytest.mark.usefixtures("catalog")
def test_with_no_production_model_the_fallback_ranks_by_bm25(client):
    serve_current()
    before = metric_value(client, "searchop_rank_fallbacks_total", reason="no_model")

    body = rank(client, explain=True)

    assert body["fallback"] is True
    assert body["model_version"] is None
    assert body["fallback_reason"] == "no production model"
    ranked = body["ranked_products"]
    assert [item["id"] for item in ranked][:2] == ["P2", "P3"]
    assert ranked[-1]["id"] == "P1"
    for item in ranked:
        assert item["raw_score"] == item["features"]["t_bm25_all"]
        assert "contributions" not in item
    bm25 = [item["raw_score"] for item in ranked]
    assert bm25 == sorted(bm25, reverse=True)
    assert metric_value(client, "searchop_rank_fallbacks_total", reason="no_model") == before + 1


def test_with_an_empty_catalog_and_no_model_unknown_products_are_still_ranked(client):
    serve_current()

    body = rank(client)

    assert body["fallback"] is True
    assert body["num_products"] == len(TITLES)


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("catalog")
def test_a_model_whose_text_was_corrupted_under_a_matching_sha_fails_its_trial_load_and_falls_back(client):
    """The sha256 matches, so only the trial load in a child process catches it; the worker
    loads by itself, in its background thread, as in production."""
    model = ContractModelVersionFactory()
    corrupt(model, keep_sha=True)
    label = str(model.version)
    failures = metric_value(client, "searchop_model_load_failures_total", model_version=label)
    fallbacks = metric_value(client, "searchop_rank_fallbacks_total", reason="model_failed")

    body = rank(client)

    assert body["fallback"] is True
    assert body["model_version"] is None
    assert f"model v{model.version} failed to load" in body["fallback_reason"]
    assert "failed verification" in body["fallback_reason"]
    assert [item["id"] for item in body["ranked_products"]][:2] == ["P2", "P3"]
    assert metric_value(client, "searchop_model_load_failures_total", model_version=label) == failures + 1
    assert metric_value(client, "searchop_rank_fallbacks_total", reason="model_failed") == fallbacks + 1
    ready = client.get("/ready")
    assert ready.status_code == 200
    assert ready.json()["fallback"] is True
    assert "failed to load" in ready.json()["reason"]


@pytest.mark.usefixtures("catalog")
def test_a_model_whose_text_no_longer_matches_its_sha_falls_back_without_being_loaded(client):
    model = ContractModelVersionFactory()
    corrupt(model, keep_sha=False)
    label = str(model.version)
    failures = metric_value(client, "searchop_model_load_failures_total", model_version=label)

    serve_current()
    body = rank(client)

    assert body["fallback"] is True
    assert body["model_version"] is None
    assert "does not match its sha256" in body["fallback_reason"]
    assert metric_value(client, "searchop_model_load_failures_total", model_version=label) == failures + 1


@pytest.mark.usefixtures("catalog")
def test_a_model_trained_on_another_feature_contract_falls_back(client):
    model = ModelVersionFactory(status="production")  # 4 features, another contract

    serve_current()
    body = rank(client)

    assert body["fallback"] is True
    assert f"model v{model.version} failed to load" in body["fallback_reason"]
    assert "another feature contract" in body["fallback_reason"]


@pytest.mark.django_db(transaction=True)
@pytest.mark.usefixtures("catalog")
def test_a_model_that_failed_is_retried_after_the_retry_period_not_on_every_check(client, settings):
    """Each check sees the wanted version differ from the fallback that serves; a failed
    load must not be repeated (a snapshot build and a child process) every few seconds."""
    settings.SEARCHOP_MODEL_CHECK_SECONDS = 0.0
    settings.SEARCHOP_MODEL_RETRY_SECONDS = 3600.0
    model = ContractModelVersionFactory()
    corrupt(model, keep_sha=False)
    label = str(model.version)
    failures = metric_value(client, "searchop_model_load_failures_total", model_version=label)

    for _ in range(5):
        assert rank(client)["fallback"] is True
        time.sleep(0.2)
    SERVING.reset()  # waits for a load in flight

    assert metric_value(client, "searchop_model_load_failures_total", model_version=label) == failures + 1
