"""``letor_train_evaluate``: LightGBM LambdaMART trained on one LETOR set, NDCG on another,
figures comparable with published results (MSLR-WEB10K) and with other tools."""

from __future__ import annotations

import math
import time
from typing import Any

import numpy as np
from numpy.typing import ArrayLike

from training import metrics
from training.letor.data import LetorData
from training.trainer import booster_train, grouped_dataset

__all__ = ["DEFAULT_TRAIN_PARAMS", "letor_train_evaluate"]

NDCG_CUTOFFS = (1, 3, 5, 10)

DEFAULT_TRAIN_PARAMS: dict[str, Any] = {
    "seed": 0,
    "deterministic": True,
    "force_row_wise": True,
    "num_threads": 2,
    "verbose": -1,
}
"""Defaults for ``letor_train_evaluate`` (``params`` override them): a fixed seed, a fixed
thread count and row-wise histograms make a rerun on the same files the same model."""


def letor_train_evaluate(
    *,
    train: LetorData,
    valid: LetorData,
    params: dict,
    num_boost_round: int,
    early_stopping_rounds: int | None = None,
) -> dict:
    """Train LightGBM LambdaMART on ``train`` (grouped by list) and report NDCG on ``valid``.

    ``params`` override ``DEFAULT_TRAIN_PARAMS`` (deterministic: seed, ``deterministic``,
    fixed threads); the objective is lambdarank and the watched metric LightGBM's
    ``ndcg@10`` on ``valid``, which early stopping (when ``early_stopping_rounds``) stops on.
    ``label_gain`` is ``2**i - 1`` for every label (a shorter ``2**i - 1`` prefix given in
    ``params``, such as SearchOp's ``[0, 1, 3, 7]``, is extended; another too-short one is
    an error).

    The figures use the model at ``best_iteration`` and ``training.metrics.ndcg_at_k``
    (gain ``2**label - 1``, discount ``log2(rank + 1)``, ties in file order), averaged over
    the ``lists_with_gain`` lists that have a label > 0: a list without any gain cannot
    tell rankers apart and is left out. LightGBM's own ``ndcg`` and most MSLR papers count
    such a list as 1.0; ``ndcg@10_lightgbm_convention`` does that too, to compare with
    published figures (it is higher by the share of gainless lists times
    ``1 - ndcg@10``). ``num_trees`` is the trees grown (past ``best_iteration`` when early
    stopping waited); ``train_seconds`` covers Dataset construction and boosting.
    Plain floats and ints, ready for JSON.
    """
    if train.num_rows == 0 or valid.num_rows == 0:
        raise ValueError("train and valid both need rows")
    width = max(train.num_features, valid.num_features)
    train, valid = train.with_num_features(width), valid.with_num_features(width)
    max_label = int(max(train.labels.max(), valid.labels.max()))
    merged = _train_params(params, max_label)

    started = time.perf_counter()
    train_set = grouped_dataset(train)
    booster = booster_train(
        merged,
        train_set,
        num_boost_round,
        valid=grouped_dataset(valid, reference=train_set),
        valid_name="valid",
        early_stopping_rounds=early_stopping_rounds,
        keep_training_booster=True,  # otherwise the trees past best_iteration are dropped
    )
    seconds = time.perf_counter() - started

    best = booster.best_iteration or booster.current_iteration()
    scores = booster.predict(valid.features, num_iteration=best, num_threads=merged["num_threads"])
    return {
        **_ndcg_figures(valid, scores),
        "best_iteration": int(best),
        "num_trees": int(booster.num_trees()),
        "train_seconds": seconds,
    }


def _ndcg_figures(valid: LetorData, scores: ArrayLike) -> dict[str, float | int]:
    """NDCG@k of ``scores`` over the lists with a gain, the LightGBM convention and the counts."""
    ranks = metrics.ranks_from_scores(valid.list_index, scores)
    per_list = {
        k: metrics.ndcg_at_k(valid.list_index, ranks, valid.labels, k=k, n_lists=valid.num_lists)
        for k in NDCG_CUTOFFS
    }
    with_gain = np.isfinite(per_list[10])
    figures: dict[str, float | int] = {
        f"ndcg@{k}": float(per_list[k][with_gain].mean()) if with_gain.any() else math.nan
        for k in NDCG_CUTOFFS
    }
    figures["ndcg@10_lightgbm_convention"] = float(np.where(with_gain, per_list[10], 1.0).mean())
    figures.update(lists=valid.num_lists, lists_with_gain=int(with_gain.sum()))
    return figures


def _train_params(params: dict, max_label: int) -> dict:
    merged = {**DEFAULT_TRAIN_PARAMS, **params, "objective": "lambdarank", "metric": "ndcg", "eval_at": [10]}
    standard = [2.0**i - 1 for i in range(max(31, max_label + 1))]
    given = merged.get("label_gain")
    if given is None:
        merged["label_gain"] = standard
    elif len(given) <= max_label:
        if [float(g) for g in given] != standard[: len(given)]:
            raise ValueError(
                f"label_gain has {len(given)} entries but the labels go up to {max_label}; "
                "give one gain per label value"
            )
        merged["label_gain"] = standard
    return merged
