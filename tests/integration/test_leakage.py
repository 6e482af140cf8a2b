"""Leakage, the acceptance of issue #3: what the model is trained on cannot see its labels or
anything after them.

With T1 = the features' cut-off and T2 = the end of the training window:
* changing or deleting events at or after T1 changes no training feature;
* shuffling the labels of the training lists changes no feature;
* deleting every event at or after T2 leaves the trained model identical.

Each test builds the datasets with the pipeline's own ``dataset_build`` on fixed windows,
mutates the events, builds again and compares. The prototype this replaces reported an
NDCG of 1.0 because its features counted the clicks they were asked to predict.
"""

from __future__ import annotations

import datetime as dt
import uuid

import numpy as np
import pytest
from django.db.models import Q

from catalog.models import Event, GroundTruth, SearchRequest
from catalog.services import synthetic_data_generate
from ranking.models import (
    FeatureSet,
    ProductFeatures,
    QueryFrequency,
    QueryProductFeatures,
    UserAffinity,
    UserFeatures,
)
from training.selectors import lists_get
from training.services import Dataset, Windows, dataset_build, ranker_fit, windows_compute

pytestmark = pytest.mark.django_db

ENGAGEMENT = ["click", "add_to_cart", "purchase"]
TABLES = (ProductFeatures, QueryProductFeatures, UserFeatures, UserAffinity, QueryFrequency)


@pytest.fixture
def windows(small_config, settings) -> Windows:
    """The default windows over eight weeks of a small shop: T1 after two weeks, T2 two weeks
    before the end. Training runs 30 rounds: enough trees for any difference to show."""
    settings.SEARCHOP_TRAINING = {**settings.SEARCHOP_TRAINING, "num_boost_round": 30}
    settings.SEARCHOP_EVALUATION = {**settings.SEARCHOP_EVALUATION, "bootstrap_resamples": 50}
    synthetic_data_generate(config=small_config)
    return windows_compute()


def table_rows(feature_set_id: int) -> dict[str, list[tuple]]:
    out = {}
    for model in TABLES:
        fields = [f.attname for f in model._meta.concrete_fields if f.attname not in ("id", "feature_set_id")]
        out[model.__name__] = sorted(model.objects.filter(feature_set_id=feature_set_id).values_list(*fields))
    return out


def in_training_window(windows: Windows) -> Q:
    return Q(timestamp__gte=windows.train_start, timestamp__lt=windows.train_end)


def new_event(**fields) -> Event:
    return Event(
        **{
            "event_id": uuid.uuid4(),
            "user_id": "U-LATE",
            "session_id": "s-late",
            "query": "late",
            "query_norm": "late",
            "position": 1,
            "request_id": "",
            "ingested_at": dt.datetime.now(dt.UTC),
            **fields,
        }
    )


def assert_same_training_features(before: Dataset, after: Dataset) -> None:
    assert np.array_equal(after.train.features, before.train.features)
    assert np.array_equal(after.valid.features, before.valid.features)
    assert np.array_equal(after.train.list_index, before.train.list_index)
    assert table_rows(after.feature_sets["train"]) == table_rows(before.feature_sets["train"])
    assert after.counts["features_train_events"] == before.counts["features_train_events"]


def test_changing_or_deleting_events_at_or_after_t1_changes_no_training_feature(windows):
    before = dataset_build(windows=windows)
    t1, t2 = windows.features_until, windows.train_end
    in_training = Event.objects.filter(in_training_window(windows))
    assert in_training.filter(event_type="click").count() > 20

    # In the training window, the labels change but every shown row stays: clicks become
    # purchases or disappear, and products never clicked get clicks.
    clicks = list(in_training.filter(event_type="click").order_by("id").values_list("id", flat=True))
    Event.objects.filter(id__in=clicks[::3]).update(event_type="purchase")
    Event.objects.filter(id__in=clicks[1::3]).delete()
    Event.objects.filter(event_type__in=["add_to_cart"], timestamp__gte=t1).delete()
    unclicked = in_training.filter(event_type="impression", position__gte=8).order_by("id")[:40]
    Event.objects.bulk_create(
        [
            new_event(
                event_type="click",
                timestamp=shown.timestamp + dt.timedelta(seconds=30),
                product_id=shown.product_id,
                query_norm=shown.query_norm,
                user_id=shown.user_id,
                position=shown.position,
                request_id=shown.request_id,
            )
            for shown in unclicked
        ]
    )
    # Exactly at T1, events for products, queries and users the training features describe.
    known = Event.objects.filter(timestamp__lt=t1, event_type="impression").order_by("id")[:10]
    Event.objects.bulk_create(
        [
            new_event(
                event_type=kind,
                timestamp=t1,
                product_id=e.product_id,
                query_norm=e.query_norm,
                user_id=e.user_id,
            )
            for e in known
            for kind in ("impression", "click", "purchase")
        ]
    )
    # After T2 anything goes: delete, retype, re-attribute.
    after_t2 = Event.objects.filter(timestamp__gte=t2)
    after_t2.filter(event_type="click").delete()
    after_t2.filter(position__gte=15).update(event_type="click", user_id="U-SOMEONE-ELSE")

    after = dataset_build(windows=windows)

    assert_same_training_features(before, after)
    assert not np.array_equal(after.train.labels, before.train.labels)  # the mutation did reach the labels
    assert table_rows(after.feature_sets["eval"]) != table_rows(
        before.feature_sets["eval"]
    )  # and later features


def test_shuffling_the_labels_of_the_training_lists_changes_no_feature(windows):
    before = dataset_build(windows=windows)

    # In every training list with engagement, the clicks, carts and purchases move to another
    # product of the same list, one that was shown and not clicked.
    lists = lists_get(since=windows.train_start, until=windows.train_end)
    moved = 0
    for request_id, rows in lists.groupby("request_id"):
        engaged, idle = rows[rows["label"] > 0], rows[rows["label"] == 0]
        for (_, source), (_, target) in zip(engaged.iterrows(), idle.iloc[::-1].iterrows(), strict=False):
            moved += (
                Event.objects.filter(
                    in_training_window(windows),
                    request_id=request_id,
                    product_id=source["product_id"],
                    event_type__in=ENGAGEMENT,
                ).update(product_id=target["product_id"], position=target["position"])
                > 0
            )
    assert moved > 50

    after = dataset_build(windows=windows)

    assert_same_training_features(before, after)
    assert not np.array_equal(after.train.labels, before.train.labels)
    # The same number of engaged rows, now on other products.
    assert (after.train.labels > 0).sum() == (before.train.labels > 0).sum()


def test_deleting_every_event_at_or_after_t2_leaves_the_trained_model_identical(windows):
    before = dataset_build(windows=windows)
    model_before = ranker_fit(dataset=before, position_bias=True)
    assert model_before.num_trees == 30

    t2 = windows.train_end
    gone = Event.objects.filter(timestamp__gte=t2)
    requests = SearchRequest.objects.filter(timestamp__gte=t2)
    GroundTruth.objects.filter(request_id__in=requests.values("request_id")).delete()
    assert gone.delete()[0] > 1000
    requests.delete()
    # dataset_build refuses an empty evaluation window, so one made-up list stands in for the
    # deleted ones. It is an event after T2 too: the model must not see it either.
    product = Event.objects.filter(event_type="impression").values_list("product_id", flat=True).first()
    Event.objects.bulk_create(
        [
            new_event(event_type="impression", timestamp=t2, product_id=product, request_id="stand-in"),
            new_event(event_type="click", timestamp=t2, product_id=product, request_id="stand-in"),
        ]
    )
    assert not Event.objects.filter(timestamp__gte=t2).exclude(request_id="stand-in").exists()

    after = dataset_build(windows=windows)
    model_after = ranker_fit(dataset=after, position_bias=True)

    assert after.digest == before.digest
    assert after.train_propensity == before.train_propensity
    assert model_after.booster.model_to_string() == model_before.booster.model_to_string()
    assert model_after.validation_curve == model_before.validation_curve
    assert after.counts["eval_lists"] == 1  # the evaluation side did change
    assert FeatureSet.objects.filter(purpose=FeatureSet.Purpose.TRAIN).count() == 2
