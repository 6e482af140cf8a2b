"""Factories for the model registry. Every model text is a real (tiny) LightGBM ranker, so
verification, promotion and rollback run on what production runs on."""

from __future__ import annotations

import functools
import hashlib
import threading
import time
from collections.abc import Callable

import factory
import lightgbm
import numpy as np
from django.db import connection
from django.db.models import Max

from ranking.models import ModelStatus, ModelVersion
from ranking.services import REGISTRY_LOCK_KEY

FEATURES = ["bm25", "ctr", "price", "rating"]
TREES = 3


@functools.cache
def tiny_model_text(seed: int = 0) -> str:
    """A lambdarank model of 3 trees over 4 features, trained on random lists (~30 ms)."""
    rng = np.random.default_rng(seed)
    features = rng.random((200, len(FEATURES)))
    labels = rng.integers(0, 4, 200)
    data = lightgbm.Dataset(features, labels, group=[10] * 20, feature_name=FEATURES)
    params = {
        "objective": "lambdarank",
        "num_leaves": 4,
        "min_data_in_leaf": 5,
        "verbosity": -1,
        "seed": seed,
    }
    return lightgbm.train(params, data, num_boost_round=TREES).model_to_string()


def sha256(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def report_build(*, version: int = 1, ndcg: float = 0.5, bm25: float = 0.4) -> dict:
    """An evaluation report in the evaluation code's format."""
    return {
        "version": version,
        "decision": {"action": "promoted", "reason": "beats production and bm25"},
        "windows": {
            "features_until": "2026-09-01",
            "train": ["2026-08-01", "2026-08-25"],
            "eval": ["2026-08-25", "2026-09-01"],
        },
        "counts": {
            "train_lists": 900,
            "eval_lists": 100,
            "eval_lists_with_click": 60,
            "randomised_lists": 20,
        },
        "metrics": {
            "model": {"ndcg@10": ndcg, "mrr": 0.41, "ctr@10": 0.12},
            "production": None,
            "bm25": {"ndcg@10": bm25},
            "popularity": {"ndcg@10": 0.3},
            "logging": {"ndcg@10": 0.35},
            "random": {"ndcg@10": 0.2},
            "oracle": {"ndcg@10": 0.9},
        },
        "debiased": {"model": {"ndcg@10": ndcg - 0.01}, "logging": {"ndcg@10": 0.33}},
        "truth": {"model": {"ndcg@10": ndcg + 0.02}, "bm25": {"ndcg@10": bm25 + 0.01}},
        "intervals": {"model-bm25": {"ndcg@10": [0.05, 0.15]}},
        "segments": {"head": {}, "torso": {}, "tail": {}},
    }


def register_kwargs(**overrides) -> dict:
    """Arguments for ``model_version_register`` as the training pipeline would pass them."""
    return {
        "model_text": tiny_model_text(),
        "feature_contract": {"version": 1, "names": FEATURES, "defaults": dict.fromkeys(FEATURES, 0.0)},
        "hyperparameters": {"num_leaves": 4, "num_boost_round": TREES},
        "windows": {"train": ["2026-08-01", "2026-08-25"]},
        "counts": {"train_lists": 20},
        "data_digest": "0" * 64,
        "training_seconds": 0.03,
        **overrides,
    }


def _next_version() -> int:
    return (ModelVersion.objects.aggregate(latest=Max("version"))["latest"] or 0) + 1


class ModelVersionFactory(factory.django.DjangoModelFactory):
    """A registered version without its registration transition; tests of the trail use
    ``model_version_register`` instead."""

    class Meta:
        model = ModelVersion

    version = factory.LazyFunction(_next_version)
    status = ModelStatus.CANDIDATE
    feature_contract = factory.LazyFunction(
        lambda: {"version": 1, "names": FEATURES, "defaults": dict.fromkeys(FEATURES, 0.0)}
    )
    hyperparameters = factory.LazyFunction(lambda: {"num_leaves": 4})
    windows = factory.LazyFunction(dict)
    counts = factory.LazyFunction(dict)
    data_digest = "0" * 64
    lightgbm_version = lightgbm.__version__
    code_version = "test"
    training_seconds = 0.03
    model_text = factory.LazyFunction(tiny_model_text)
    model_sha256 = factory.LazyAttribute(lambda mv: sha256(mv.model_text))
    num_trees = TREES
    report = factory.LazyAttribute(lambda mv: report_build(version=mv.version))
    feature_importance = factory.LazyFunction(lambda: dict.fromkeys(FEATURES, 1.0))
    decision = factory.LazyFunction(dict)


def race(calls: list[Callable[[], object]]) -> tuple[list[object], list[BaseException]]:
    """Run ``calls`` in threads that really overlap: this thread holds the registry lock
    until every call is queued on it, then lets them all go. Returns (results, errors).
    Needs PostgreSQL and ``django_db(transaction=True)``."""
    results: list[object] = []
    errors: list[BaseException] = []

    def run(call: Callable[[], object]) -> None:
        try:
            results.append(call())
        except BaseException as error:
            errors.append(error)
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(call,)) for call in calls]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_lock(%s)", [REGISTRY_LOCK_KEY])
        try:
            for thread in threads:
                thread.start()
            deadline = time.monotonic() + 60
            while _lock_waiters(cursor) < len(calls) and time.monotonic() < deadline:
                time.sleep(0.02)
            assert _lock_waiters(cursor) == len(calls), "the calls never all queued on the registry lock"
        finally:
            cursor.execute("SELECT pg_advisory_unlock(%s)", [REGISTRY_LOCK_KEY])
    for thread in threads:
        thread.join()
    return results, errors


def _lock_waiters(cursor) -> int:
    cursor.execute(
        "SELECT count(*) FROM pg_locks WHERE locktype = 'advisory' AND NOT granted"
        " AND database = (SELECT oid FROM pg_database WHERE datname = current_database())"
    )
    return cursor.fetchone()[0]
