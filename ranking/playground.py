"""The query playground: a typed query (and optionally a user) ranked by production and by a
chosen version or baseline, side by side, for people in the control room.

The candidates come from the catalog's search (``catalog.search``), the top 50. Everything
after that is the serving path's own code: the request is validated by the rank request's
validation, its matrix built by ``features_look_up`` on the worker's serving state, production
scored by ``scores_compute`` (with LightGBM's ``pred_contrib``), the order by ``order_compute``.
What the playground leaves out is the shop traffic's bookkeeping: no impression-log row
(``SearchRequest``), no rank metrics for Prometheus. A read, changes nothing.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from dataclasses import dataclass

import lightgbm as lgb
import numpy as np

from catalog.search import product_candidates_get, product_candidates_search
from ranking.comparison import Contribution, contributions_explain, rank_change, ranks_from_order
from ranking.errors import RegistryError
from ranking.experiments.arms import RankerRef, baseline_scores, ranker_parse
from ranking.model_loading import booster_load
from ranking.models import ModelStatus, ModelVersion
from ranking.selectors import model_version_get
from ranking.serving.rank import features_look_up, order_compute
from ranking.serving.scoring import scores_compute
from ranking.serving.state import serving_state_get
from ranking.serving.validation import MAX_DESCRIPTION, RankInputError, rank_request_validate

PLAYGROUND_SEED = 0  # the random baseline's seed: the same shuffle on every reload
BASELINE_CHOICES = ("bm25", "popularity", "random", "input")


class PlaygroundError(Exception):
    """A query or ranker the playground cannot rank (the message says why)."""


@dataclass(frozen=True)
class RankedBy:
    """One ranker's view of the candidates: rank, raw score and explanation per candidate."""

    label: str
    ranks: np.ndarray
    scores: np.ndarray
    contributions: np.ndarray | None  # pred_contrib rows, for a model


@dataclass(frozen=True)
class PlaygroundRow:
    product_id: str
    title: str
    category: str
    price: float
    production_rank: int
    production_score: float
    other_rank: int
    other_score: float
    rank_change: int  # places gained under the other ranker
    production_explanation: tuple[list[Contribution], list[Contribution]] | None
    other_explanation: tuple[list[Contribution], list[Contribution]] | None
    other_label: str

    @property
    def explained(self) -> bool:
        return self.production_explanation is not None or self.other_explanation is not None

    @property
    def explanations(self) -> list[tuple[str, tuple[list[Contribution], list[Contribution]] | None]]:
        return [("production", self.production_explanation), (self.other_label, self.other_explanation)]


@dataclass(frozen=True)
class PlaygroundResult:
    query: str
    user_id: str
    production_label: str
    other_label: str
    fallback_reason: str | None
    rows: list[PlaygroundRow]  # in production's order


def playground_ranker_choices() -> list[tuple[str, str]]:
    """(value, label) of every ranker the playground can put beside production: each version
    that is not rejected, newest first, then the baselines."""
    versions = (
        ModelVersion.objects.exclude(status=ModelStatus.REJECTED)
        .order_by("-version")
        .values_list("version", "status")
    )
    return [(f"v{v}", f"v{v} ({status})") for v, status in versions] + [(b, b) for b in BASELINE_CHOICES]


def playground_rank(
    *, query: str, user_id: str = "", other: str = "bm25", explain: str = ""
) -> PlaygroundResult:
    """Rank the catalog's top 50 candidates for ``query`` by production and by ``other``
    (``v7`` or a baseline); explain the product ``explain`` (its id) on demand. Raises
    PlaygroundError for an unknown ranker or a bad query, and the serving state's
    ServingUnavailable while the model loads."""
    try:
        ref = ranker_parse(other)
    except ValueError as error:
        raise PlaygroundError(str(error)) from error
    candidates = product_candidates_get(external_ids=product_candidates_search(query=query))
    for candidate in candidates:
        candidate["description"] = candidate["description"][:MAX_DESCRIPTION]
    try:
        request = rank_request_validate({"query": query, "user_id": user_id, "products": candidates})
    except RankInputError as error:
        raise PlaygroundError(f"{error.field}: {error.problem}") from error
    state = serving_state_get()
    features = features_look_up(state, request)
    raw, contributions = scores_compute(state, features, explain=True)
    production = RankedBy(
        label="production (BM25 fallback)" if state.fallback else f"production (v{state.model_version})",
        ranks=ranks_from_order(order_compute(raw, limit=None)),
        scores=raw,
        contributions=contributions,
    )
    second = _ranked_by(ref, features)
    names = state.snapshot.contract.names
    rows = [
        PlaygroundRow(
            product_id=candidate["id"],
            title=candidate["title"],
            category=candidate["category"],
            price=candidate["price"],
            production_rank=int(production.ranks[i]),
            production_score=float(production.scores[i]),
            other_rank=int(second.ranks[i]),
            other_score=float(second.scores[i]),
            rank_change=rank_change(int(production.ranks[i]), int(second.ranks[i])),
            production_explanation=_explanation(names, features, production.contributions, i)
            if candidate["id"] == explain
            else None,
            other_explanation=_explanation(names, features, second.contributions, i)
            if candidate["id"] == explain
            else None,
            other_label=second.label,
        )
        for i, candidate in enumerate(candidates)
    ]
    rows.sort(key=lambda row: row.production_rank)
    return PlaygroundResult(
        query=query,
        user_id=user_id,
        production_label=production.label,
        other_label=second.label,
        fallback_reason=state.fallback_reason if state.fallback else None,
        rows=rows,
    )


def _ranked_by(ref: RankerRef, features: np.ndarray) -> RankedBy:
    if ref.version is None:
        name = str(ref.baseline)
        scores = baseline_scores(name, features, seed=PLAYGROUND_SEED) if len(features) else np.zeros(0)
        return RankedBy(name, ranks_from_order(order_compute(scores, limit=None)), scores, None)
    booster = _booster(ref.version)
    if len(features) == 0:
        return RankedBy(f"v{ref.version}", np.zeros(0, np.int64), np.zeros(0), None)
    contributions = np.asarray(booster.predict(features, pred_contrib=True, num_threads=1))
    scores = contributions.sum(axis=1)
    return RankedBy(
        f"v{ref.version}", ranks_from_order(order_compute(scores, limit=None)), scores, contributions
    )


def _explanation(
    names: tuple[str, ...] | list[str], features: np.ndarray, contributions: np.ndarray | None, i: int
) -> tuple[list[Contribution], list[Contribution]] | None:
    if contributions is None:
        return None
    return contributions_explain(names, features[i].tolist(), contributions[i].tolist())


class _BoosterCache:
    """The last few versions the playground loaded, by sha256 (the registry's loader checks
    each model text once per process)."""

    size = 4

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._boosters: OrderedDict[str, lgb.Booster] = OrderedDict()

    def get(self, version: int) -> lgb.Booster:
        try:
            model_version = model_version_get(version=version)
        except RegistryError as error:
            raise PlaygroundError(str(error)) from error
        sha = model_version.model_sha256
        with self._lock:
            if sha in self._boosters:
                self._boosters.move_to_end(sha)
                return self._boosters[sha]
        try:
            booster = booster_load(model_version=model_version)
        except RegistryError as error:
            raise PlaygroundError(str(error)) from error
        with self._lock:
            self._boosters[sha] = booster
            while len(self._boosters) > self.size:
                self._boosters.popitem(last=False)
        return booster


_BOOSTERS = _BoosterCache()


def _booster(version: int) -> lgb.Booster:
    return _BOOSTERS.get(version)
