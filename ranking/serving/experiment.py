"""``/api/rank`` while an experiment runs: the experiment's two rankers, built once per start,
and one search served with them, as ``ranking.experiments.routing`` lays down.

**Built once per start** (``ExperimentRankers.build``, called by the serving state's check,
``ranking.serving.state``). Each side of the running experiment becomes a ``SideRanker``:

- the production version the worker serves: its scores are the request's own, so that side
  costs nothing more;
- a baseline (``bm25``, ``popularity``, ``random``, ``input``): ``arms.baseline_scores`` on
  the request's matrix (``random`` seeded by the request id);
- any other model version: loaded through the one safe loader (``booster_load``: sha256
  and a trial load in a child process), off the request path, then compiled like production.

A side that fails to load is kept with the reason (and tried again after
``SEARCHOP_MODEL_RETRY_SECONDS``). The serving state carries the result
(``ServingState.experiment``), so a request outside experiments pays one attribute read.

**One search** (``experiment_search``): its arm; the control's order; the challenger's where
the arm needs it; the answer of the arm; the exposure for the impression log. A side that
failed to load, or raises, or scores the wrong number of rows, never fails the request: the
control answers (production, if the control itself failed), the reason goes into the
exposure's ``challenger_error`` and ``searchop_experiment_errors_total`` counts it.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from typing import Any, NamedTuple

import numpy as np
from django.conf import settings

from ranking.errors import RegistryError
from ranking.experiments.arms import RankerRef, baseline_scores, request_seed
from ranking.experiments.routing import Exposure, LiveExperiment, needs_challenger, search_answer, search_arm
from ranking.model_loading import booster_load
from ranking.selectors import model_version_get
from ranking.serving import observability
from ranking.serving.validation import RankRequest

logger = logging.getLogger(__name__)

Predictor = Callable[[np.ndarray], np.ndarray]
Compiler = Callable[[str, str], Predictor]  # (sha256, model text) -> compiled predictor
SideScores = Callable[[np.ndarray, str], np.ndarray]  # (feature matrix, request id) -> raw scores

ERROR_LENGTH = 64  # catalog.SearchRequest.challenger_error's max_length


@dataclass(frozen=True)
class SideRanker:
    """One side of the running experiment, ready to score a request's matrix."""

    label: str  # "v7", "bm25", ...
    version: int | None
    score: SideScores | None  # None: the serving state's own model (the request's raw scores)
    failed: str = ""  # why this side cannot score (it did not load); empty when it can
    sha256: str | None = None
    booster: Any = None  # a loaded version's LightGBM booster (compiled from it)
    compiled: bool = False
    built_at: float = 0.0  # time.monotonic() of the load


@dataclass(frozen=True)
class ServingExperiment:
    """The running experiment as one worker serves it, built against one production version."""

    live: LiveExperiment
    state_version: int | None  # the serving state's model version the sides were resolved against
    control: SideRanker
    challenger: SideRanker
    retry_at: float | None = None  # time.monotonic() after which a failed side is loaded again

    def current(self, live: LiveExperiment | None, *, state_version: int | None, now: float) -> bool:
        """Whether this still serves ``live`` for that production version (no retry due)."""
        return (
            self.live == live
            and self.state_version == state_version
            and (self.retry_at is None or now < self.retry_at)
        )


class ExperimentRankers:
    """Per process: the model versions the running experiment serves, loaded once per start.
    ``build`` is instant when ``instant`` says so (every side is a baseline, the production
    model or loaded already); otherwise it loads, which the caller does in the background."""

    def __init__(self, compiler: Compiler) -> None:
        self._compiler = compiler
        self._loaded: dict[int, SideRanker] = {}
        self._lock = threading.Lock()

    def instant(self, live: LiveExperiment, *, state_version: int | None) -> bool:
        return all(self._ready(ref, state_version) for ref in (live.control, live.challenger))

    def _ready(self, ref: RankerRef, state_version: int | None) -> bool:
        if ref.version is None or ref.version == state_version:
            return True
        side = self._loaded.get(ref.version)
        return side is not None and not self._retry_due(side, time.monotonic())

    def build(self, live: LiveExperiment, *, state_version: int | None) -> ServingExperiment:
        """The experiment's two sides; loads the versions not loaded yet (and forgets those of
        earlier experiments)."""
        wanted = {ref.version for ref in (live.control, live.challenger) if ref.version is not None}
        with self._lock:
            self._loaded = {v: side for v, side in self._loaded.items() if v in wanted}
        control = self._side(live.control, state_version=state_version)
        challenger = self._side(live.challenger, state_version=state_version)
        failed = [side.built_at for side in (control, challenger) if side.failed]
        retry_at = min(failed) + settings.SEARCHOP_MODEL_RETRY_SECONDS if failed else None
        return ServingExperiment(live, state_version, control, challenger, retry_at)

    def compile_loaded(self) -> bool:
        """Compile each loaded version not compiled yet (lleaves, cached on disk by sha256);
        whether any was. A version that fails to compile keeps serving with LightGBM."""
        with self._lock:
            pending = [s for s in self._loaded.values() if s.booster is not None and not s.compiled]
        changed = False
        for side in pending:
            try:
                predictor = self._compiler(side.sha256 or "", side.booster.model_to_string())
            except Exception:
                logger.exception(
                    "compiling the experiment's %s failed; LightGBM keeps serving it", side.label
                )
                continue
            with self._lock:
                if side.version in self._loaded:
                    self._loaded[side.version] = replace(side, score=_model_scores(predictor), compiled=True)
                    changed = True
        return changed

    def _side(self, ref: RankerRef, *, state_version: int | None) -> SideRanker:
        if ref.version is None:
            return baseline_side(ref.baseline)
        if ref.version == state_version:
            return SideRanker(ref.label, ref.version, score=None)
        with self._lock:
            side = self._loaded.get(ref.version)
        if side is None or self._retry_due(side, time.monotonic()):
            side = version_side(ref.version)
            with self._lock:
                self._loaded[ref.version] = side
        return side

    @staticmethod
    def _retry_due(side: SideRanker, now: float) -> bool:
        return bool(side.failed) and now - side.built_at >= settings.SEARCHOP_MODEL_RETRY_SECONDS


def baseline_side(name: str) -> SideRanker:
    """A baseline of ``arms.baseline_scores`` (``random`` seeded by the request id)."""
    if name == "random":
        return SideRanker(name, None, lambda features, request_id: baseline_scores(name, features, seed=request_seed(request_id)))  # fmt: skip
    return SideRanker(name, None, lambda features, request_id: baseline_scores(name, features, seed=0))


def version_side(version: int) -> SideRanker:
    """Model version ``version`` through the one safe loader; a failure is kept as ``failed``
    with the reason (and counted), never raised."""
    label = f"v{version}"
    try:
        model_version = model_version_get(version=version)
        booster = booster_load(model_version=model_version)
    except Exception as error:  # whatever it is, the worker keeps serving production
        logger.error("the experiment's %s cannot serve: %s", label, error)
        observability.MODEL_LOAD_FAILURES.labels(model_version=str(version)).inc()
        why = str(error) if isinstance(error, RegistryError) else f"{label} failed to load: {error!r}"
        return SideRanker(label, version, None, failed=why, built_at=time.monotonic())
    scores = _model_scores(lambda features: booster.predict(features, num_threads=1))
    return SideRanker(label, version, scores, sha256=model_version.model_sha256, booster=booster, built_at=time.monotonic())  # fmt: skip


def _model_scores(predictor: Predictor) -> SideScores:
    return lambda features, request_id: np.asarray(predictor(features), dtype=np.float64)


# ---------------------------------------------------------------------------------------
# One search
# ---------------------------------------------------------------------------------------


class ExperimentSearch(NamedTuple):
    """What the experiment made of one search."""

    order: np.ndarray  # candidate indices to answer with, best first, cut to the limit
    raw: np.ndarray  # the control's raw scores (the answer's raw_score and score)
    model_version: int | None  # the control's version (the answer's model_version)
    control_is_state: bool  # the control's scores are the serving model's (explain's contributions hold)
    exposure: Exposure
    field: dict[str, Any]  # the answer's "experiment": {"id", "kind", "arm"}


def experiment_search(
    experiment: ServingExperiment,
    *,
    request: RankRequest,
    features: np.ndarray,
    raw: np.ndarray,
    request_id: str,
    state_version: int | None,
) -> ExperimentSearch | None:
    """Serve one search in the experiment (``raw``: the serving model's scores of ``features``);
    None when the search is outside the experiment's traffic.

    1. The arm (a stable hash of the user, session or request).
    2. The control's scores: the serving model's, or the control side's own; if that side
       cannot score, production's, with the reason as the search's error.
    3. The challenger's, where the arm needs it and nothing failed yet.
    4. The arm's answer (``routing.search_answer``), timed from step 2 on."""
    live = experiment.live
    arm = search_arm(live, user_id=request.user_id, session_id=request.session_id, request_id=request_id)
    if arm is None:
        return None
    started = time.perf_counter()
    control_raw, error = side_scores(experiment.control, features=features, raw=raw, request_id=request_id)
    model_version, control_is_state = experiment.control.version, experiment.control.score is None
    if control_raw is None:
        control_raw, model_version, control_is_state = raw, state_version, True
    ids = request.ids
    control_ids = [ids[i] for i in np.argsort(-control_raw, kind="stable").tolist()]
    challenger_ids = None
    if not error and needs_challenger(arm):
        scores, error = side_scores(experiment.challenger, features=features, raw=raw, request_id=request_id)
        if scores is not None:
            challenger_ids = [ids[i] for i in np.argsort(-scores, kind="stable").tolist()]
    answer = search_answer(
        live,
        arm=arm,
        control=control_ids,
        challenger=challenger_ids,
        request_id=request_id,
        limit=request.limit,
        challenger_seconds=0.0,
        challenger_error=error[:ERROR_LENGTH],
    )
    exposure = answer.exposure
    if exposure.challenger_seconds is not None:
        exposure = exposure._replace(challenger_seconds=time.perf_counter() - started)
    position = {product_id: i for i, product_id in enumerate(ids)}
    order = np.fromiter(
        (position[product_id] for product_id in answer.ids), dtype=np.intp, count=len(answer.ids)
    )
    observability.experiment_search(arm.value)
    return ExperimentSearch(
        order=order,
        raw=control_raw,
        model_version=model_version,
        control_is_state=control_is_state,
        exposure=exposure,
        field={"id": live.id, "kind": live.kind, "arm": arm.value},
    )


def side_scores(
    side: SideRanker, *, features: np.ndarray, raw: np.ndarray, request_id: str
) -> tuple[np.ndarray | None, str]:
    """``(scores, "")``, or ``(None, why)`` when the side did not load or failed to score
    (counted by cause). ``raw``: the serving model's scores, for the side that is it."""
    if side.failed:
        observability.EXPERIMENT_ERRORS.labels(cause="load").inc()
        return None, side.failed
    if side.score is None:
        return raw, ""
    rows = features.shape[0]
    if rows == 0:
        return np.zeros(0), ""
    try:
        scores = np.asarray(side.score(features, request_id), dtype=np.float64)
        if scores.shape != (rows,):
            raise ValueError(f"{rows} rows gave scores of shape {scores.shape}")
    except Exception as error:  # a challenger's failure is never the request's
        observability.EXPERIMENT_ERRORS.labels(cause="score").inc()
        logger.warning("the experiment's %s failed to score: %r", side.label, error)
        return None, f"{side.label} raised {type(error).__name__}: {error}"
    return scores, ""
