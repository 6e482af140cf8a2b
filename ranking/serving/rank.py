"""``POST /api/rank``, top to bottom: parse -> validate -> features -> score -> order -> log
-> respond. Each step is a small function that can be tested alone, and each is timed
(``searchop_rank_step_seconds``). Everything that can be done once per model is done at
load (``ranking.serving.state``); a request costs one matrix, one predict and one sort.
"""

from __future__ import annotations

import time
import uuid
from collections.abc import Mapping
from typing import Any

import numpy as np
import orjson
from django.http import HttpResponse
from rest_framework.request import Request

from ranking.features.inputs import ProductAttributes
from ranking.features.matrix import matrix_build
from ranking.serving import observability
from ranking.serving.http import InvalidInput, ModelUnavailable
from ranking.serving.impression_log import impression_log_record
from ranking.serving.state import ServingState, ServingUnavailable, serving_state_get
from ranking.serving.validation import RankInputError, RankRequest, rank_request_validate


def rank_serve(request: Request) -> HttpResponse:
    """One rank request, from the HTTP request to the HTTP response."""
    timings = StepTimer()
    data = request.data  # the bounded JSON parser (orjson)
    timings.lap("parse")
    rank_request = _validated(data)
    state = _state()
    timings.lap("validate")
    features = features_look_up(state, rank_request)
    timings.lap("features")
    raw, contributions = scores_compute(state, features, explain=rank_request.explain)
    timings.lap("score")
    order = order_compute(raw, limit=rank_request.limit)
    timings.lap("order")
    request_id = uuid.uuid4().hex
    impression_log_record(
        request_id=request_id,
        query=rank_request.query,
        query_norm=rank_request.query_norm,
        user_id=rank_request.user_id,
        session_id=rank_request.session_id,
        product_ids=[rank_request.candidates[i].id for i in order.tolist()],
        model_version=state.model_version,
        fallback=state.fallback,
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
    )
    response = HttpResponse(orjson.dumps(body), content_type="application/json")
    timings.lap("respond")
    observability.rank_observe(
        timings.steps, total=timings.total, state=state, candidates=len(rank_request.candidates)
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
    """The feature matrix, built by the same builder as training; the request's attributes
    are used only for products the catalog does not know."""
    ids = [c.id for c in request.candidates]
    known = state.snapshot.product_row
    cold: Mapping[str, ProductAttributes] = {
        c.id: c.attributes for c in request.candidates if c.id not in known
    }
    n = len(ids)
    return matrix_build(
        state.snapshot,
        queries=[request.query_norm] * n,
        users=[request.user_id] * n,
        product_ids=ids,
        cold_products=cold,
    )


def scores_compute(
    state: ServingState, features: np.ndarray, *, explain: bool
) -> tuple[np.ndarray, np.ndarray | None]:
    """Raw scores: the model's, or in the fallback BM25 against the whole product text."""
    if len(features) == 0:
        return np.zeros(0), None
    if state.predictor is None or state.booster is None:
        return features[:, state.snapshot.contract.index["t_bm25_all"]].astype(np.float64), None
    if explain:
        contributions = np.asarray(state.booster.predict(features, pred_contrib=True, num_threads=1))
        return contributions.sum(axis=1), contributions
    return np.asarray(state.predictor(features), dtype=np.float64), None


def order_compute(raw: np.ndarray, *, limit: int | None) -> np.ndarray:
    """Candidate indices, best first (a stable sort: ties keep the input order), cut to ``limit``."""
    order = np.argsort(-raw, kind="stable")
    return order if limit is None else order[:limit]


def response_build(
    *,
    request: RankRequest,
    state: ServingState,
    request_id: str,
    order: np.ndarray,
    raw: np.ndarray,
    features: np.ndarray,
    contributions: np.ndarray | None,
) -> dict[str, Any]:
    """The response: the contract existing clients use plus rank, raw score and provenance."""
    names = state.snapshot.contract.names
    # score is the logistic of the raw score: it does not depend on the other candidates.
    logistic = 1.0 / (1.0 + np.exp(-np.clip(raw, -500, 500)))
    ranked = []
    for rank, index in enumerate(order.tolist(), start=1):
        candidate = request.candidates[index]
        item: dict[str, Any] = {
            "id": candidate.id,
            "title": candidate.title,
            "score": float(logistic[index]),
            "rank": rank,
            "raw_score": float(raw[index]),
        }
        if request.explain:
            item["features"] = dict(zip(names, features[index].tolist(), strict=True))
            if contributions is not None:
                values = contributions[index].tolist()
                item["contributions"] = {**dict(zip(names, values[:-1], strict=True)), "bias": values[-1]}
        ranked.append(item)
    return {
        "ranked_products": ranked,
        "query": request.query,
        "num_products": len(ranked),
        "num_candidates": len(request.candidates),
        "request_id": request_id,
        "model_version": state.model_version if not state.fallback else None,
        "fallback": state.fallback,
        **({"fallback_reason": state.fallback_reason} if state.fallback else {}),
    }
