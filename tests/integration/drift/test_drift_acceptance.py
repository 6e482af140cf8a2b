"""Issue 12's drift acceptance on PostgreSQL: a synthetic shop (112 days, so the training
features' history is long next to the windows), a model trained, promoted and served, then
traffic sent to /api/rank with every request sampled and ``drift_report --json`` read.

``traffic`` drives the rank endpoint itself with the shop's own queries, users and logging
policy's candidates (and made-up queries for a share of searches); when ``simulate_traffic
--new-queries F`` lands, its body becomes ``call_command("simulate_traffic", "--searches", n,
"--new-queries", share)`` and nothing else here changes.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import numpy as np
import pytest
from django.core.management import call_command
from django.db.models import F
from django.test import Client
from django.utils import timezone

from catalog.models import Product
from catalog.services import synthetic_data_generate
from catalog.synthetic import Generator, SyntheticConfig
from ranking.features.contract import CONTRACT, Group
from ranking.models import DriftProfile
from ranking.services import model_version_promote, serving_features_build
from ranking.serving.drift_sampling import SAMPLER
from tests.integration.api.support import (
    RANK,
    committed_rows_delete,
    post_json,
    serve_current,
    worker_state_reset,
)
from training.services import model_train

SEARCHES = 1000
START = (timezone.now() - dt.timedelta(days=125)).replace(hour=0, minute=0, second=0, microsecond=0)
CONFIG = SyntheticConfig(events=100_000, days=112, seed=42, start=START)
QUERY_PRODUCT = CONTRACT.names_of(Group.QUERY_PRODUCT)
TEXT = CONTRACT.names_of(Group.TEXT)


@pytest.fixture(scope="module")
def shop(django_db_setup, django_db_blocker):
    """The shop generated, a model trained on it, promoted, and the serving features built
    (committed: the rows are deleted at the end of the module)."""
    from django.conf import settings

    saved = settings.SEARCHOP_WINDOWS, settings.SEARCHOP_TRAINING, settings.SEARCHOP_EVALUATION
    settings.SEARCHOP_WINDOWS = {"eval_days": 7, "train_days": 14, "validation_days": 3}
    settings.SEARCHOP_TRAINING = {**settings.SEARCHOP_TRAINING, "num_boost_round": 20}
    settings.SEARCHOP_EVALUATION = {**settings.SEARCHOP_EVALUATION, "bootstrap_resamples": 20}
    with django_db_blocker.unblock():
        synthetic_data_generate(config=CONFIG)
        version = model_train().version
        model_version_promote(version=version.version, actor="test", reason="drift acceptance")
        serving_features_build()
    settings.SEARCHOP_WINDOWS, settings.SEARCHOP_TRAINING, settings.SEARCHOP_EVALUATION = saved
    yield Generator(CONFIG)
    with django_db_blocker.unblock():
        committed_rows_delete()


@pytest.fixture
def serving(shop, db, settings, tmp_path):
    settings.SEARCHOP_REQUIRE_API_KEY = False
    settings.SEARCHOP_IMPRESSION_LOG = "sync"
    settings.SEARCHOP_MODEL_CHECK_SECONDS = 3600.0
    settings.SEARCHOP_COMPILED_INFERENCE = False
    settings.SEARCHOP_VAR_DIR = tmp_path
    settings.SEARCHOP_DRIFT = {
        **settings.SEARCHOP_DRIFT,
        "sample_share": 1.0,
        "max_requests_per_minute": 100_000,
        "flush_seconds": 3600.0,
    }
    worker_state_reset()
    SAMPLER.reset()
    serve_current()
    yield shop
    SAMPLER.reset()
    worker_state_reset()


def traffic(generator: Generator, *, searches: int, new_queries: float = 0.0, seed: int = 7) -> None:
    """``searches`` searches as the shop makes them (users, queries, the logging policy's
    candidates), a ``new_queries`` share of them typed as queries never seen before."""
    generator.rng = np.random.default_rng(seed)  # fresh draws from the same shop
    lists = generator._lists_draw()
    shown = generator._lists_show(lists)
    catalog = {p.external_id: p for p in Product.objects.all()}
    words = np.array(sorted({w for p in catalog.values() for w in p.title.lower().split()}))
    rng = np.random.default_rng(seed + 1)
    client = Client()
    for i in range(searches):
        ids = generator.catalog.external_ids[shown.product[i][shown.valid[i]]]
        query = str(generator.queries.text[lists.query[i]])
        if rng.random() < new_queries:
            query = f"{' '.join(rng.choice(words, 2))} zx{rng.integers(1_000_000)}"
        body = {
            "query": query,
            "user_id": str(generator.users.ids[lists.user[i]]),
            "products": [
                {"id": pid, "title": catalog[pid].title, "price": float(catalog[pid].price), "category": catalog[pid].category}
                for pid in ids
            ],
        }  # fmt: skip
        response = post_json(client, RANK, body)
        assert response.status_code == 200, response.content[:300]
    SAMPLER.flush()


def drift_report() -> dict:
    out = io.StringIO()
    call_command("drift_report", "--json", stdout=out)
    return json.loads(out.getvalue())


def flagged(report: dict) -> set[str]:
    return {row["feature"] for row in report["features"] if row["flagged"]}


def test_the_trained_version_has_its_reference_profile(shop, db):
    profile = DriftProfile.objects.get().profile
    assert set(profile["features"]) == set(CONTRACT.names)
    assert profile["queries"]
    assert profile["rows"] > 1000


def test_with_the_traffic_unchanged_nothing_is_flagged(serving):
    traffic(serving, searches=SEARCHES)

    report = drift_report()

    assert report["status"] == "ok"
    assert {row["feature"] for row in report["features"]} == set(CONTRACT.names)
    assert all({"psi", "threshold", "flagged"} <= set(row) for row in report["features"])
    assert flagged(report) == set(), report["features"]
    assert not report["unseen_queries"]["flagged"]
    assert not report["score"]["flagged"]
    assert not report["flagged"]


def test_half_the_searches_with_new_queries_flags_the_query_features_and_the_unseen_share(serving):
    traffic(serving, searches=SEARCHES, new_queries=0.5)

    report = drift_report()

    assert report["unseen_queries"]["share"] > 0.4
    assert report["unseen_queries"]["flagged"]
    assert {"qp_impressions", "qp_avg_position", "q_num_terms"} <= flagged(report), report["features"]
    assert report["flagged"]


def test_prices_raised_by_half_flag_the_price_features_and_not_the_text_ones(serving):
    Product.objects.update(price=F("price") * 1.5)
    serving_features_build()
    serve_current()

    traffic(serving, searches=SEARCHES)

    report = drift_report()
    assert "p_log_price" in flagged(report), report["features"]
    assert flagged(report).isdisjoint(TEXT), report["features"]
