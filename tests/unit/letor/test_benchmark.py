"""``letor_train_evaluate`` (``training.letor.benchmark``): LambdaMART trained and evaluated
on a generated set, its figures against chance and against LightGBM's own NDCG."""

from __future__ import annotations

import lightgbm as lgb
import numpy as np
import pytest

from training import metrics
from training.letor import benchmark
from training.letor.benchmark import letor_train_evaluate
from training.letor.data import LetorData

SMALL_PARAMS = {"learning_rate": 0.1, "num_leaves": 7, "min_data_in_leaf": 20}


def synthetic_letor(rng: np.random.Generator, n_lists: int, size: int = 20, gainless_share: float = 0.2):
    """Lists whose labels 0..4 follow feature 1 plus noise; features 2..5 are noise; a share
    of lists has no label above 0 at all."""
    n = n_lists * size
    features = rng.random((n, 5))
    labels = np.clip(np.floor(5 * features[:, 0] + rng.normal(0, 0.8, n)), 0, 4).astype(np.int64)
    list_index = np.repeat(np.arange(n_lists, dtype=np.int64), size)
    gainless = rng.random(n_lists) < gainless_share
    labels[gainless[list_index]] = 0
    return LetorData(features=features, labels=labels, list_index=list_index, qids=np.arange(n_lists))


@pytest.fixture(scope="module")
def synthetic_sets():
    rng = np.random.default_rng(7)
    return synthetic_letor(rng, 300), synthetic_letor(rng, 150)


def random_ndcg10(valid: LetorData) -> float:
    ranks = metrics.ranks_from_scores(valid.list_index, metrics.random_scores(valid.list_index, seed=0))
    return float(np.nanmean(metrics.ndcg_at_k(valid.list_index, ranks, valid.labels, k=10)))


# --- training and evaluation -----------------------------------------------------------------


def test_lambdamart_on_a_synthetic_set_ranks_clearly_better_than_chance(synthetic_sets):
    train, valid = synthetic_sets

    result = letor_train_evaluate(train=train, valid=valid, params=SMALL_PARAMS, num_boost_round=40)

    assert result["ndcg@10"] > random_ndcg10(valid) + 0.2
    assert result["ndcg@10"] < 1.0
    for k in (1, 3, 5):
        assert 0 < result[f"ndcg@{k}"] <= 1.0
    assert result["lists"] == 150
    has_gain = np.bincount(valid.list_index, weights=valid.labels > 0) > 0
    assert result["lists_with_gain"] == int(has_gain.sum())
    assert (result["best_iteration"], result["num_trees"]) == (40, 40)
    assert result["train_seconds"] > 0


def test_the_lightgbm_convention_counts_gainless_lists_as_one(synthetic_sets):
    train, valid = synthetic_sets

    result = letor_train_evaluate(train=train, valid=valid, params=SMALL_PARAMS, num_boost_round=20)

    lists, with_gain = result["lists"], result["lists_with_gain"]
    assert with_gain < lists  # the set has gainless lists
    assert result["ndcg@10_lightgbm_convention"] >= result["ndcg@10"]
    expected = (with_gain * result["ndcg@10"] + (lists - with_gain)) / lists
    assert result["ndcg@10_lightgbm_convention"] == pytest.approx(expected)


def test_the_lightgbm_convention_is_lightgbm_own_ndcg(synthetic_sets):
    train, valid = synthetic_sets
    params = {**SMALL_PARAMS, **benchmark.DEFAULT_TRAIN_PARAMS}

    result = letor_train_evaluate(train=train, valid=valid, params=params, num_boost_round=15)

    evaluation: dict = {}
    lgb.train(
        benchmark._train_params(params, 4),
        lgb.Dataset(train.features, label=train.labels, group=train.groups),
        num_boost_round=15,
        valid_sets=[lgb.Dataset(valid.features, label=valid.labels, group=valid.groups)],
        valid_names=["valid"],
        callbacks=[lgb.record_evaluation(evaluation)],
    )
    assert result["ndcg@10_lightgbm_convention"] == pytest.approx(
        evaluation["valid"]["ndcg@10"][-1], abs=1e-9
    )


def test_training_twice_gives_the_same_figures(synthetic_sets):
    train, valid = synthetic_sets

    first, second = (
        letor_train_evaluate(train=train, valid=valid, params=SMALL_PARAMS, num_boost_round=10)
        for _ in range(2)
    )

    first.pop("train_seconds"), second.pop("train_seconds")
    assert first == second


def test_early_stopping_reports_the_best_iteration_and_the_trees_grown(synthetic_sets):
    train, valid = synthetic_sets

    result = letor_train_evaluate(
        train=train,
        valid=valid,
        params={**SMALL_PARAMS, "learning_rate": 0.3},
        num_boost_round=300,
        early_stopping_rounds=5,
    )

    assert result["best_iteration"] < result["num_trees"] < 300
    assert result["num_trees"] - result["best_iteration"] == 5


def test_train_and_valid_of_different_widths_are_aligned(synthetic_sets):
    train, valid = synthetic_sets
    narrow = LetorData(valid.features[:, :3], valid.labels, valid.list_index, valid.qids)

    result = letor_train_evaluate(train=train, valid=narrow, params=SMALL_PARAMS, num_boost_round=5)

    assert result["lists"] == valid.num_lists


def test_a_short_standard_label_gain_is_extended_and_any_other_refused(synthetic_sets):
    train, valid = synthetic_sets

    result = letor_train_evaluate(
        train=train, valid=valid, params={**SMALL_PARAMS, "label_gain": [0, 1, 3, 7]}, num_boost_round=3
    )
    assert result["num_trees"] == 3
    with pytest.raises(ValueError, match="label_gain has 4 entries but the labels go up to 4"):
        letor_train_evaluate(train=train, valid=valid, params={"label_gain": [0, 1, 2, 3]}, num_boost_round=3)


def test_labels_above_thirty_get_a_long_enough_label_gain():
    params = benchmark._train_params({}, max_label=40)

    assert len(params["label_gain"]) == 41
    assert params["label_gain"][40] == 2.0**40 - 1
    assert (params["objective"], params["metric"], params["eval_at"]) == ("lambdarank", "ndcg", [10])
