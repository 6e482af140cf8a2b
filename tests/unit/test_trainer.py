"""The trainer (``training.trainer``): LambdaMART with the configured hyperparameters is
deterministic, trains with and without position-bias correction, and the data digest
covers exactly what the trainer sees."""

from __future__ import annotations

import numpy as np
import pytest
from django.conf import settings

from training import metrics
from training.propensity import PropensityModel
from training.trainer import RankingSet, TrainResult, ranker_train

ROUNDS = 15
PROPENSITY = PropensityModel(eta=1.0)
FEATURES = ["relevant", "noise_a", "noise_b", "half_relevant", "noise_c"]


def ranking_set(seed: int, n_lists: int = 100, size: int = 10) -> RankingSet:
    """Lists whose labels follow two of the features, shown in a noisy order of them."""
    rng = np.random.default_rng(seed)
    features = rng.normal(size=(n_lists * size, len(FEATURES)))
    relevance = features[:, 0] + 0.5 * features[:, 3] + rng.normal(scale=0.5, size=n_lists * size)
    labels = np.digitize(relevance, [0.5, 1.2, 2.0]).astype(np.int64)
    list_index = np.repeat(np.arange(n_lists), size)
    positions = metrics.ranks_from_scores(list_index, relevance + rng.normal(size=relevance.size))
    return RankingSet(features=features, labels=labels, list_index=list_index, positions=positions)


@pytest.fixture(scope="module")
def data() -> tuple[RankingSet, RankingSet]:
    return ranking_set(1), ranking_set(2, n_lists=30)


@pytest.fixture(scope="module")
def models(data) -> dict[str, TrainResult]:
    """Each training once for the module: twice with position bias, once without."""
    train_set, valid = data
    return {
        "first": train(train_set, valid, position_bias=True),
        "second": train(train_set, valid, position_bias=True),
        "no_position_bias": train(train_set, valid, position_bias=False),
    }


def train(train_set: RankingSet, valid: RankingSet | None, *, position_bias: bool = True):
    return ranker_train(
        train=train_set,
        valid=valid,
        feature_names=FEATURES,
        params=dict(settings.SEARCHOP_LIGHTGBM_PARAMS),
        num_boost_round=ROUNDS,
        early_stopping_rounds=None,
        propensity=PROPENSITY,
        position_bias=position_bias,
        position_bias_regularization=settings.SEARCHOP_TRAINING["position_bias_regularization"],
    )


def test_two_trainings_on_the_same_ranking_set_give_byte_identical_models(models):
    first, second = models["first"], models["second"]
    assert first.num_trees == ROUNDS
    assert first.booster.model_to_string() == second.booster.model_to_string()
    assert first.validation_curve == second.validation_curve


@pytest.mark.parametrize(("variant", "position_bias"), [("first", True), ("no_position_bias", False)])
def test_it_trains_trees_with_and_without_position_bias_correction(models, variant, position_bias):
    result = models[variant]
    assert result.num_trees == ROUNDS
    assert result.position_bias is position_bias
    assert ("lambdarank_position_bias_regularization" in result.params) is position_bias
    assert result.params["objective"] == "lambdarank"
    assert len(result.validation_curve) == ROUNDS
    # It learned the features the labels follow, not noise.
    importance = dict(zip(FEATURES, result.booster.feature_importance("gain"), strict=True))
    assert max(importance, key=importance.get) == "relevant"


def test_the_two_variants_are_different_models(models):
    assert models["first"].booster.model_to_string() != models["no_position_bias"].booster.model_to_string()


def test_it_trains_without_a_validation_part(data):
    train_set, _ = data
    result = train(train_set, None)
    assert result.num_trees == ROUNDS
    assert result.validation_curve == []


def test_early_stopping_keeps_only_the_trees_up_to_the_best_validation_round(data):
    train_set, valid = data
    result = ranker_train(
        train=train_set,
        valid=valid,
        feature_names=FEATURES,
        params=dict(settings.SEARCHOP_LIGHTGBM_PARAMS),
        num_boost_round=100,
        early_stopping_rounds=3,
        propensity=PROPENSITY,
        position_bias=False,
    )
    best = int(np.argmax(result.validation_curve)) + 1
    assert result.best_iteration == best
    assert result.num_trees == best < 100


def test_the_digest_changes_when_a_single_label_changes(data):
    train_set, _ = data
    labels = train_set.labels.copy()
    labels[7] = (labels[7] + 1) % 4
    changed = RankingSet(
        features=train_set.features,
        labels=labels,
        list_index=train_set.list_index,
        positions=train_set.positions,
    )
    same = RankingSet(
        features=train_set.features.copy(),
        labels=train_set.labels.copy(),
        list_index=train_set.list_index.copy(),
        positions=train_set.positions.copy(),
    )
    assert changed.digest() != train_set.digest()
    assert same.digest() == train_set.digest()


def test_the_digest_changes_when_a_feature_or_a_position_changes(data):
    train_set, _ = data
    features = train_set.features.copy()
    features[3, 4] += 1e-9
    positions = train_set.positions.copy()
    positions[[0, 1]] = positions[[1, 0]]
    assert RankingSet(features, train_set.labels, train_set.list_index, train_set.positions).digest() != (
        train_set.digest()
    )
    assert RankingSet(train_set.features, train_set.labels, train_set.list_index, positions).digest() != (
        train_set.digest()
    )


def test_a_subset_of_whole_lists_is_renumbered_from_zero_in_order():
    full = ranking_set(3, n_lists=5, size=3)
    subset = full.subset(np.isin(full.list_index, [1, 3]))
    assert subset.list_index.tolist() == [0, 0, 0, 1, 1, 1]
    assert subset.num_lists == 2
    assert subset.groups.tolist() == [3, 3]
    assert np.array_equal(subset.features, full.features[3:6].tolist() + full.features[9:12].tolist())
