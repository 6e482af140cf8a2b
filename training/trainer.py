"""The trainer: LightGBM LambdaMART on lists, behind a small interface (arrays in, a booster
out) so that the same call could later run on a Dask cluster (``lightgbm.dask``).

Determinism: a fixed seed, ``deterministic=True``, a fixed thread count and row-wise
histograms, so a retrain on the same data gives the same model, byte for byte.

Early stopping watches a propensity-weighted NDCG@10 on the validation part (the last
days of the training window), not LightGBM's own NDCG on raw clicks: raw clicks reward
the logged order, which stops training after one or two trees.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, Protocol

import lightgbm as lgb
import numpy as np
import pandas as pd

from training import metrics
from training.lists import group_sizes
from training.propensity import PropensityModel
from training.statistics import pooled_ratio

VALIDATION_METRIC = "debiased_ndcg@10"


@dataclass(frozen=True)
class RankingSet:
    """Rows of many lists: features, labels, list membership and the logged positions."""

    features: np.ndarray
    labels: np.ndarray
    list_index: np.ndarray
    positions: np.ndarray

    @classmethod
    def from_lists(cls, lists: pd.DataFrame, features: np.ndarray) -> RankingSet:
        return cls(
            features=features,
            labels=lists["label"].to_numpy(dtype=np.int64),
            list_index=lists["list_index"].to_numpy(dtype=np.int64),
            positions=lists["position"].to_numpy(dtype=np.int64),
        )

    def subset(self, mask: np.ndarray) -> RankingSet:
        """The rows of ``mask`` (whole lists), renumbered 0..L-1 in order."""
        list_index = pd.factorize(self.list_index[mask])[0].astype(np.int64)
        return RankingSet(
            features=self.features[mask],
            labels=self.labels[mask],
            list_index=list_index,
            positions=self.positions[mask],
        )

    @property
    def num_lists(self) -> int:
        return int(self.list_index.max()) + 1 if len(self.list_index) else 0

    @property
    def groups(self) -> np.ndarray:
        return group_sizes(pd.DataFrame({"list_index": self.list_index}))

    def digest(self) -> str:
        """sha256 of exactly what the trainer sees: a retrain on the same digest is the same model."""
        sha = hashlib.sha256()
        for array in (self.features, self.labels, self.list_index, self.positions):
            sha.update(np.ascontiguousarray(array).tobytes())
        return sha.hexdigest()


@dataclass
class TrainResult:
    booster: lgb.Booster
    best_iteration: int
    num_trees: int
    seconds: float
    params: dict
    position_bias: bool
    validation_curve: list[float] = field(default_factory=list)
    validation_rounds: list[int] = field(default_factory=list)  # the round of each curve point


class _DebiasedFeval:
    """LightGBM feval: the pooled propensity-weighted NDCG@10 of the validation lists,
    computed every ``every`` rounds (and at the first and last); in between it repeats the
    last value, because computing it costs more than a round of boosting on small data."""

    def __init__(self, valid: RankingSet, propensity: PropensityModel, *, every: int, rounds: int):
        self.valid, self.propensity, self.every, self.rounds = valid, propensity, max(every, 1), rounds
        self.calls = 0
        self.last = float("nan")
        self.points: list[tuple[int, float]] = []

    def __call__(self, predictions: np.ndarray, dataset: lgb.Dataset):
        self.calls += 1
        if self.calls == 1 or self.calls % self.every == 0 or self.calls == self.rounds:
            ranks = metrics.ranks_from_scores(self.valid.list_index, predictions)
            parts = metrics.debiased_ndcg_parts(
                self.valid.list_index,
                ranks,
                self.valid.labels,
                logged_positions=self.valid.positions,
                propensity=self.propensity,
            )
            self.last = pooled_ratio(*parts)
            self.points.append((self.calls, self.last))
        return VALIDATION_METRIC, self.last, True


def ranker_train(
    *,
    train: RankingSet,
    valid: RankingSet | None,
    feature_names: list[str],
    params: dict,
    num_boost_round: int,
    early_stopping_rounds: int | None,
    propensity: PropensityModel,
    position_bias: bool,
    position_bias_regularization: float = 0.0,
    validation_every: int = 1,
) -> TrainResult:
    """Train a LambdaMART ranker grouped by list.

    With ``position_bias``, LightGBM learns a bias per logged position jointly with the
    ranker (unbiased LambdaMART, ``Dataset(position=...)``) so that a click at position 1
    is not taken as more relevant than one at position 9 for being at the top.
    """
    params = {**params, "objective": "lambdarank", "metric": "None"}
    if position_bias:
        params["lambdarank_position_bias_regularization"] = position_bias_regularization
    started = time.perf_counter()
    train_set = grouped_dataset(
        train,
        position=(train.positions - 1) if position_bias else None,
        feature_name=feature_names,
        free_raw_data=False,
    )
    valid_set, feval = None, None
    if valid is not None and valid.num_lists > 0:
        valid_set = grouped_dataset(valid, reference=train_set, feature_name=feature_names)
        # Early stopping needs the metric every round; otherwise every ``validation_every``.
        every = 1 if early_stopping_rounds else validation_every
        feval = _DebiasedFeval(valid, propensity, every=every, rounds=num_boost_round)
    booster = booster_train(
        params,
        train_set,
        num_boost_round,
        valid=valid_set,
        feval=feval,
        early_stopping_rounds=early_stopping_rounds,
    )
    best = booster.best_iteration or booster.current_iteration()
    if best and best < booster.current_iteration():
        # Keep only the trees up to the best round: the stored model is what was validated.
        booster = lgb.Booster(model_str=booster.model_to_string(num_iteration=best))
    points = feval.points if feval is not None else []
    return TrainResult(
        booster=booster,
        best_iteration=int(best),
        num_trees=booster.num_trees(),
        seconds=time.perf_counter() - started,
        params=params,
        position_bias=position_bias,
        validation_curve=[float(value) for _, value in points],
        validation_rounds=[round_ for round_, _ in points],
    )


class GroupedRows(Protocol):
    """Rows of ranking lists as LightGBM takes them: a matrix, labels and the list sizes."""

    @property
    def features(self) -> np.ndarray: ...

    @property
    def labels(self) -> np.ndarray: ...

    @property
    def groups(self) -> np.ndarray: ...


def grouped_dataset(rows: GroupedRows, **options: Any) -> lgb.Dataset:
    """``rows`` as a LightGBM Dataset grouped by list; ``options`` go to ``lightgbm.Dataset``
    (``reference``, ``feature_name``, ``position`` ...)."""
    return lgb.Dataset(rows.features, label=rows.labels, group=rows.groups, **options)


def booster_train(
    params: dict,
    train: lgb.Dataset,
    num_boost_round: int,
    *,
    valid: lgb.Dataset | None = None,
    valid_name: str = "validation",
    early_stopping_rounds: int | None = None,
    feval: Callable | None = None,
    keep_training_booster: bool = False,
) -> lgb.Booster:
    """``lightgbm.train`` on ``train``, watching ``valid`` (when given) with ``params``' metric
    or ``feval``, and stopping early on the first metric when ``early_stopping_rounds``."""
    callbacks: list[Callable] = []
    if valid is not None and early_stopping_rounds:
        callbacks.append(lgb.early_stopping(early_stopping_rounds, first_metric_only=True, verbose=False))
    return lgb.train(
        params,
        train,
        num_boost_round=num_boost_round,
        valid_sets=[valid] if valid is not None else [],
        valid_names=[valid_name] if valid is not None else None,
        feval=feval,
        callbacks=callbacks,
        keep_training_booster=keep_training_booster,
    )


def booster_train_bare(
    *, train: RankingSet, params: dict, num_boost_round: int, position_bias: bool = False
) -> tuple[lgb.Booster, float]:
    """A bare ``lightgbm.train`` on the same matrix (the benchmark's reference): pass
    ``TrainResult.params`` and the rounds ``ranker_train`` ran to repeat its training
    exactly, without validation set, evaluation function or callbacks."""
    started = time.perf_counter()
    dataset = grouped_dataset(train, position=(train.positions - 1) if position_bias else None)
    params = {**params, "objective": "lambdarank", "metric": "None"}
    booster = booster_train(params, dataset, num_boost_round)
    return booster, time.perf_counter() - started
