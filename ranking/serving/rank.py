"""``POST /api/rank``, top to bottom: parse -> validate -> features -> score -> order (or,
inside an experiment, the arm's answer) -> log -> respond. Each step is a small function that
can be tested alone, and each is timed (``searchop_rank_step_seconds``). Everything that can
be done once per model is done at load (``ranking.serving.state``); a request costs one
matrix, one predict and one sort, and inside an experiment one more predict and the answer of
its arm (``ranking.serving.experiment``).
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np
import orjson
from django.http import HttpResponse
from rest_framework.request import Request

from ranking.features.inputs import ProductAttributes
from ranking.features.kernel import request_matrix_build
from ranking.serving import observability
from ranking.serving.drift_sampling import drift_sample_offer
from ranking.serving.experiment import ExperimentSearch, experiment_search
from ranking.serving.http import InvalidInput, ModelUnavailable
from ranking.serving.impression_log import impression_log_record
from ranking.serving.scoring import Scorer, rankers_score, scores_compute
from ranking.serving.state import ServingState, ServingUnavailable, serving_state_get
from ranking.serving.validation import RankInputError, RankRequest, rank_request_validate


def rank_serve(
    request: Request, *, also: Callable[[ServingState], Sequence[Scorer]] | None = None
) -> HttpResponse:
    """One rank request, from the HTTP request to the HTTP response. The rankers that ``also``
    gives for the serving state score the same matrix after the model (each costs its
    predict alone); their orders are returned beside the answer, under ``also``."""
    timings = StepTimer()
    data = request.data  # the bounded JSON parser (orjson)
    timings.lap("parse")
    rank_request = _validated(data)
    state = _state()
    timings.lap("validate")
    features = features_look_up(state, rank_request)
    drift_sample_offer(state, rank_request, features)
    timings.lap("features")
    raw, contributions = scores_compute(state, features, explain=rank_request.explain)
    timings.lap("score")
    also_orders = _also_orders(rank_request, features, also(state)) if also is not None else None
    if also_orders is not None:
        timings.lap("score_also")
    request_id = uuid.uuid4().hex
    experiment = None
    if state.experiment is not None:  # all that an experiment costs a request outside one
        experiment = experiment_search(
            state.experiment,
            request=rank_request,
            features=features,
            raw=raw,
            request_id=request_id,
            state_version=state.model_version,
        )
    if experiment is None:
        order, model_version = order_compute(raw, limit=rank_request.limit), state.model_version
    else:
        timings.lap("experiment")
        order, raw, model_version = experiment.order, experiment.raw, experiment.model_version
        contributions = contributions if experiment.control_is_state else None
    timings.lap("order")
    ids = rank_request.ids
    impression_log_record(
        request_id=request_id,
        query=rank_request.query,
        query_norm=rank_request.query_norm,
        user_id=rank_request.user_id,
        session_id=rank_request.session_id,
        product_ids=[ids[i] for i in order.tolist()],
        model_version=model_version,
        fallback=state.fallback,
        latency_seconds=timings.total,
        exposure=experiment.exposure if experiment is not None else None,
    )
    timings.lap("log")
    body = response_build(
        request=rank_request,
        state=state,
        request_id=request_id,
        order=order,
        raw=raw,
        features=features,
        contributions=contributions,
        experiment=experiment,
    )
    if also_orders is not None:
        body["also"] = also_orders
    response = HttpResponse(orjson.dumps(body), content_type="application/json")
    timings.lap("respond")
    observability.rank_observe(
        timings.steps,
        total=timings.total,
        model_version=state.model_version,
        fallback_reason=state.fallback_reason if state.fallback else None,
        candidates=len(ids),
    )
    return response


class StepTimer:
    """Seconds per step, each lap measured from the previous one."""

    def __init__(self) -> None:
        self.started = self.last = time.perf_counter()
        self.steps: dict[str, float] = {}

    def lap(self, step: str) -> None:
        now = time.perf_counter()
        self.steps[step] = now - self.last
        self.last = now

    @property
    def total(self) -> float:
        return self.last - self.started


def _validated(data: Any) -> RankRequest:
    try:
        return rank_request_validate(data)
    except RankInputError as error:
        observability.RANK_REJECTED.labels(status=str(error.status)).inc()
        raise InvalidInput([{"field": error.field, "problem": error.problem}], error.status) from error


def _state() -> ServingState:
    try:
        return serving_state_get()
    except ServingUnavailable as error:
        raise ModelUnavailable(f"model: {error}; retry shortly") from error


def features_look_up(state: ServingState, request: RankRequest) -> np.ndarray:
    """The feature matrix, with the values of training's builder (``matrix_build``) from the
    compiled kernel; the request's attributes are used only for products the catalog does
    not know."""
    ids = request.ids
    known = state.snapshot.product_row
    cold: Mapping[str, ProductAttributes] = {
        ids[i]: request.attributes(i) for i, product_id in enumerate(ids) if product_id not in known
    }
    return request_matrix_build(
        state.snapshot,
        query_norm=request.query_norm,
        user=request.user_id,
        product_ids=ids,
        cold_products=cold,
    )


def order_compute(raw: np.ndarray, *, limit: int | None) -> np.ndarray:
    """Candidate indices, best first (a stable sort: ties keep the input order), cut to ``limit``."""
    order = np.argsort(-raw, kind="stable")
    return order if limit is None else order[:limit]


def _also_orders(request: RankRequest, features: np.ndarray, others: Sequence[Scorer]) -> list[dict]:
    """Each further ranker's order of the same matrix (its predict alone), as sent ids."""
    return [
        {"ranker": scorer.name, "ranked_ids": _sent_ids(request, order_compute(scores, limit=request.limit))}
        for scorer, scores in zip(others, rankers_score(features, others), strict=True)
    ]


def _sent_ids(request: RankRequest, order: np.ndarray) -> list:
    """The ids in ``order`` as they were sent: 1 in, 1 out; "1" in, "1" out."""
    products = request.products
    return [products[i]["id"] for i in order.tolist()]


def response_build(
    *,
    request: RankRequest,
    state: ServingState,
    request_id: str,
    order: np.ndarray,
    raw: np.ndarray,
    features: np.ndarray,
    contributions: np.ndarray | None,
    experiment: ExperimentSearch | None = None,
) -> dict[str, Any]:
    """The response: the contract existing clients use plus rank, raw score and provenance:
    the control's version (production outside experiments) and the experiment and arm that
    served it (null outside experiments)."""
    products = request.products
    # score is the logistic of the raw score: it does not depend on the other candidates.
    ordered = order.tolist()
    raw_ordered = raw[order]
    # (np.minimum / np.maximum: the same bounds as np.clip, at a third of its cost)
    logistic = (1.0 / (1.0 + np.exp(-np.maximum(np.minimum(raw_ordered, 500.0), -500.0)))).tolist()
    ranked = [
        {"id": products[i]["id"], "title": products[i]["title"], "score": score, "rank": rank, "raw_score": value}
        for rank, (i, score, value) in enumerate(zip(ordered, logistic, raw_ordered.tolist(), strict=True), start=1)
    ]  # fmt: skip
    if request.explain:
        _explanations_add(ranked, ordered, state.snapshot.contract.names, features, contributions)
    return {
        "ranked_products": ranked,
        "query": request.query,
        "num_products": len(ranked),
        "num_candidates": len(products),
        "request_id": request_id,
        "model_version": experiment.model_version
        if experiment is not None
        else state.model_version
        if not state.fallback
        else None,
        "fallback": state.fallback,
        **({"fallback_reason": state.fallback_reason} if state.fallback else {}),
        "experiment": None if experiment is None else experiment.field,
    }


def _explanations_add(
    ranked: list[dict],
    ordered: list[int],
    names: Sequence[str],
    features: np.ndarray,
    contributions: np.ndarray | None,
) -> None:
    """Each item's features by name and, with the model, each one's contribution to its raw score."""
    for item, i in zip(ranked, ordered, strict=True):
        item["features"] = dict(zip(names, features[i].tolist(), strict=True))
        if contributions is not None:
            values = contributions[i].tolist()
            item["contributions"] = {**dict(zip(names, values[:-1], strict=True)), "bias": values[-1]}
