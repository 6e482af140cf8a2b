"""Scoring a request's feature matrix: by the production model (or, without one, BM25), and by
any further rankers on the same matrix.

The matrix is built once per request; each ranker then costs its own predict and nothing
else, which is what running an experiment (two rankers per request) needs. A ranker is a
``Scorer``: a name and a function from the matrix to one raw score per row, higher first:
the serving state's model (``model_scorer``) or a baseline that orders by one feature of
the contract (``feature_scorer``: ``bm25``, ``popularity``, as declared in ``ranking.rankers``).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np

from ranking.features.contract import Contract
from ranking.rankers import BY_NAME
from ranking.serving.state import ServingState

FALLBACK_FEATURE = "t_bm25_all"


@dataclass(frozen=True)
class Scorer:
    name: str
    predict: Callable[[np.ndarray], np.ndarray]


def feature_scorer(name: str, contract: Contract) -> Scorer:
    """A baseline of ``ranking.rankers`` that orders by one feature (``bm25``, ``popularity``)."""
    feature = BY_NAME[name].feature
    if feature is None:
        raise ValueError(f"{name}: not a ranker that orders by a feature")
    column = contract.index[feature]
    return Scorer(name, lambda features: features[:, column].astype(np.float64))


def model_scorer(state: ServingState) -> Scorer:
    """The state's model (compiled once it is), or BM25 in the fallback."""
    if state.predictor is None:
        return feature_scorer("bm25", state.snapshot.contract)
    predictor = state.predictor
    return Scorer(
        f"v{state.model_version}", lambda features: np.asarray(predictor(features), dtype=np.float64)
    )


def rankers_score(features: np.ndarray, scorers: Sequence[Scorer]) -> list[np.ndarray]:
    """Each ranker's raw scores of the same matrix, in the order given."""
    if len(features) == 0:
        return [np.zeros(0) for _ in scorers]
    return [scorer.predict(features) for scorer in scorers]


def scores_compute(
    state: ServingState, features: np.ndarray, *, explain: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Raw scores of the state's model (with each feature's contribution when ``explain``), or
    in the fallback BM25 against the whole product text."""
    if len(features) == 0:
        return np.zeros(0), None
    if explain and state.booster is not None and state.predictor is not None:
        contributions = np.asarray(state.booster.predict(features, pred_contrib=True, num_threads=1))
        return contributions.sum(axis=1), contributions
    return model_scorer(state).predict(features), None
