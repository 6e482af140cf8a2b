"""Issue 12's drift acceptance on PostgreSQL: the default synthetic shop (56 days: the
training features' history, the training and the evaluation windows of the default
settings), a model trained, promoted and served, then traffic sent to /api/rank with every
request sampled and ``drift_report --json`` read.

``traffic`` is ``simulate_traffic`` in this process: the shop's shoppers search (their
queries, the logging policy's candidates), click and buy; ``--new-queries`` makes a share of
them type queries the shop's data never had.
"""

from __future__ import annotations

import datetime as dt
import io
import json

import pytest
from django.core.management import call_command
from django.db.models import F
from django.utils import timezone

from catalog.models import Product
from catalog.services import synthetic_data_generate
from catalog.synthetic import SyntheticConfig
from ranking.features.contract import CONTRACT, Group
from ranking.models import DriftProfile
from ranking.services import model_version_promote, serving_features_build
from ranking.serving.drift_sampling import SAMPLER
from tests.integration.api.support import (
    committed_rows_delete,
    serve_current,
    worker_state_reset,
)
from training.services import model_train

SEARCHES = 1000
START = (timezone.now() - dt.timedelta(days=60)).replace(hour=0, minute=0, second=0, microsecond=0)
CONFIG = SyntheticConfig(events=100_000, seed=42, start=START)
QUERY_PRODUCT = CONTRACT.names_of(Group.QUERY_PRODUCT)
TEXT = CONTRACT.names_of(Group.TEXT)


@pytest.fixture(scope="module")
def shop(django_db_setup, django_db_blocker):
    """The shop generated, a model trained on it, promoted, and the serving features built
    (committed: the rows are deleted at the end of the module)."""
    from django.conf import settings

    saved = settings.SEARCHOP_TRAINING, settings.SEARCHOP_EVALUATION
    settings.SEARCHOP_TRAINING = {**settings.SEARCHOP_TRAINING, "num_boost_round": 20}
    settings.SEARCHOP_EVALUATION = {**settings.SEARCHOP_EVALUATION, "bootstrap_resamples": 20}
    with django_db_blocker.unblock():
        synthetic_data_generate(config=CONFIG)
        version = model_train().version
        model_version_promote(version=version.version, actor="test", reason="drift acceptance")
        serving_features_build()
    settings.SEARCHOP_TRAINING, settings.SEARCHOP_EVALUATION = saved
    yield CONFIG
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


def traffic(*, searches: int, new_queries: float = 0.0, seed: int = 7) -> None:
    """``searches`` searches of the shop's shoppers through /api/rank in this process, a
    ``new_queries`` share of them typing queries the shop's data never had; their rows sampled."""
    call_command(
        "simulate_traffic", "--searches", str(searches), "--new-queries", str(new_queries), "--seed", str(seed),
        "--shop-seed", str(CONFIG.seed), "--products", str(CONFIG.products), "--users", str(CONFIG.users),
        "--categories", str(CONFIG.categories), stdout=io.StringIO(), stderr=io.StringIO(),
    )  # fmt: skip
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
    traffic(searches=SEARCHES)

    report = drift_report()

    assert report["status"] == "ok"
    assert {row["feature"] for row in report["features"]} == set(CONTRACT.names)
    assert all({"psi", "threshold", "flagged"} <= set(row) for row in report["features"])
    assert flagged(report) == set(), report["features"]
    assert not report["unseen_queries"]["flagged"]
    assert not report["score"]["flagged"]
    assert not report["flagged"]


def test_half_the_searches_with_new_queries_flags_the_query_features_and_the_unseen_share(serving):
    traffic(searches=SEARCHES, new_queries=0.5)

    report = drift_report()

    assert report["unseen_queries"]["share"] > 0.4
    assert report["unseen_queries"]["flagged"]
    assert {"qp_impressions", "qp_avg_position", "q_num_terms"} <= flagged(report), report["features"]
    assert report["flagged"]


def test_prices_raised_by_half_flag_the_price_features_and_not_the_text_ones(serving):
    Product.objects.update(price=F("price") * 1.5)
    serving_features_build()
    serve_current()

    traffic(searches=SEARCHES)

    report = drift_report()
    assert "p_log_price" in flagged(report), report["features"]
    assert flagged(report).isdisjoint(TEXT), report["features"]
