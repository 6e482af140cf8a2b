"""factory_boy factories shared by the tests."""

from __future__ import annotations

import datetime as dt
import functools
import uuid
from decimal import Decimal

import factory
import lightgbm
import numpy as np

from catalog.models import Event, Product
from ranking.features import contract
from ranking.models import ModelStatus
from tests.registry_factories import ModelVersionFactory

BASE_TIME = dt.datetime(2026, 9, 7, tzinfo=dt.UTC)


class ProductFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Product

    external_id = factory.Sequence(lambda n: f"P{n:05d}")
    title = factory.Sequence(lambda n: f"Brand Model {n} Running Shoes")
    description = "Lightweight running shoes."
    brand = "Brand"
    category = "Running Shoes"
    price = Decimal("99.99")
    rating = Decimal("4.2")
    attributes = factory.LazyFunction(dict)


class EventFactory(factory.django.DjangoModelFactory):
    class Meta:
        model = Event

    event_id = factory.LazyFunction(uuid.uuid4)
    event_type = "impression"
    timestamp = factory.Sequence(lambda n: BASE_TIME + dt.timedelta(minutes=n))
    user_id = "U0001"
    session_id = "s1"
    query = "running shoes"
    query_norm = "running shoes"
    product = factory.SubFactory(ProductFactory)
    position = 1
    request_id = "r1"
    ingested_at = factory.LazyFunction(lambda: dt.datetime.now(dt.UTC))


# --- Serving (issue #4): a production model over the real feature contract -------------------


def _contract_training_matrix(seed: int) -> tuple:
    """Random candidate lists over the contract's features, in realistic ranges, graded by a
    rule a ranker can learn: relevance rises with the title's BM25 and falls with the price."""
    rng = np.random.default_rng(seed)
    rows, lists = 600, 60
    features = rng.random((rows, len(contract.NAMES)))
    column = contract.INDEX
    features[:, column["p_log_price"]] = rng.uniform(1.0, 7.0, rows)
    features[:, column["p_rating"]] = rng.choice([-1.0, 1.0, 2.5, 4.0, 5.0], rows)
    features[:, column["t_bm25_title"]] = rng.uniform(0.0, 6.0, rows)
    features[:, column["t_bm25_all"]] = features[:, column["t_bm25_title"]] + rng.uniform(0.0, 3.0, rows)
    merit = features[:, column["t_bm25_title"]] / 6.0 - features[:, column["p_log_price"]] / 7.0
    labels = np.digitize(merit + rng.normal(0.0, 0.1, rows), [-0.5, 0.0, 0.4])
    return features, labels, [rows // lists] * lists


@functools.cache
def contract_model_text(seed: int = 0, trees: int = 20, *, backwards: bool = False) -> str:
    """A real LambdaMART ranker (20 small trees, ~50 ms) over the 32 features of
    ``ranking.features.contract``, so serving loads, verifies, compiles and explains it as it would a
    trained one. Other seeds give other models (for promote and rollback); ``backwards`` learns
    the grades upside down (a production model any trained candidate beats)."""
    features, labels, groups = _contract_training_matrix(seed)
    labels = 3 - labels if backwards else labels
    data = lightgbm.Dataset(features, labels, group=groups, feature_name=list(contract.NAMES))
    params = {
        "objective": "lambdarank",
        "num_leaves": 7,
        "min_data_in_leaf": 10,
        "learning_rate": 0.2,
        "deterministic": True,
        "num_threads": 1,
        "verbosity": -1,
        "seed": seed,
    }
    return lightgbm.train(params, data, num_boost_round=trees).model_to_string()


def contract_register_kwargs(*, seed: int = 0) -> dict:
    """Arguments for ``model_version_register``: a contract model as the pipeline registers it."""
    return {
        "model_text": contract_model_text(seed),
        "feature_contract": contract.CONTRACT.as_dict(),
        "hyperparameters": {"num_leaves": 7, "num_boost_round": 20, "seed": seed},
        "windows": {"train": ["2026-08-01", "2026-08-25"]},
        "counts": {"train_lists": 60},
        "data_digest": f"{seed:064x}",
        "training_seconds": 0.05,
    }


class ContractModelVersionFactory(ModelVersionFactory):
    """A registered version of ``contract_model_text`` (default: production), stored directly
    (no transition). Serving accepts it: its contract is the one this code builds."""

    status = ModelStatus.PRODUCTION
    feature_contract = factory.LazyFunction(contract.CONTRACT.as_dict)
    model_text = factory.LazyFunction(contract_model_text)
    num_trees = factory.LazyAttribute(lambda mv: mv.model_text.count("\nTree="))
    feature_importance = factory.LazyFunction(dict)
