"""What a web worker serves: the production model and the serving feature snapshot.

``serving_state_get()`` is called once per request and returns an immutable
``ServingState``; the request uses it from start to end, so one request is served wholly
by one version. Every ``SEARCHOP_MODEL_CHECK_SECONDS`` (<= 2 s) a request checks, with one
cheap query, whether the production version or the serving feature set changed; if so a
background thread builds the new state (load, verify, snapshot, compile) while the old one
keeps serving, then swaps it in with a single assignment. After a promote or a rollback
every worker therefore switches within a few seconds, without a restart.

Scoring uses compiled tree inference (lleaves: LLVM-compiled trees, identical scores,
several times faster than LightGBM's ``predict`` on 100 rows) once it is compiled; until
then, and for ``explain``, LightGBM itself. Compiled models are cached on disk by the
model's sha256, so other workers and restarts reuse them.

With no production model, or one that fails to verify or load, the state is the BM25
fallback: requests still get 200, ``fallback: true`` and the reason is counted.

The same check reads the running experiment (``experiment_live_get``): a start is picked up
at the next check (its rankers built at once when they are baselines or production, in a
background thread when a model version must load: ``ranking.serving.experiment``), a stop or a
new canary share at once. The state carries the experiment's rankers (``experiment``), so a
request outside experiments pays one attribute read for them.

While the database is unreachable the check skips a beat and the worker keeps serving what
it holds; a worker that holds nothing yet (it started during the outage) answers 503.
"""

from __future__ import annotations

import fcntl
import gc
import logging
import os
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path

import lightgbm as lgb
import numpy as np
from django.conf import settings
from django.db import DatabaseError, close_old_connections, connections

from catalog.selectors import catalog_frame_get
from ranking.errors import RegistryError
from ranking.experiments.routing import LiveExperiment
from ranking.experiments.selectors import experiment_live_get
from ranking.features.kernel import kernel_prepare
from ranking.features.snapshot import FeatureSnapshot, snapshot_of_catalog
from ranking.model_loading import booster_load
from ranking.models import FeatureSet
from ranking.selectors import (
    feature_set_latest_get,
    feature_set_latest_id_get,
    feature_snapshot_get,
    model_version_get,
    model_version_production_key_get,
)
from ranking.serving import observability
from ranking.serving.experiment import ExperimentRankers, ServingExperiment
from ranking.serving.http import DATABASE_UNAVAILABLE

logger = logging.getLogger(__name__)

Predictor = Callable[[np.ndarray], np.ndarray]


@dataclass(frozen=True)
class ServingState:
    """One model (or the fallback) with the feature snapshot it scores with."""

    model_version: int | None
    model_sha256: str | None
    booster: lgb.Booster | None
    predictor: Predictor | None
    compiled: bool
    snapshot: FeatureSnapshot
    feature_set_id: int | None
    fallback_reason: str | None
    loaded_at: float = field(default_factory=time.time)
    experiment: ServingExperiment | None = None  # the running experiment's rankers, if one runs

    @property
    def fallback(self) -> bool:
        return self.predictor is None

    @property
    def key(self) -> tuple:
        return (self.model_version, self.model_sha256, self.feature_set_id)


def _file_write_atomic(path: Path, data: bytes) -> None:
    """Write ``data`` under a name of this process's own and rename it into place: a reader
    (another worker) sees the whole file or none, and two writers never share a file."""
    handle, temporary = tempfile.mkstemp(dir=path.parent, prefix=f"{path.name}.", suffix=".tmp")
    try:
        with os.fdopen(handle, "wb") as out:
            out.write(data)
        os.replace(temporary, path)
    except BaseException:
        Path(temporary).unlink(missing_ok=True)
        raise


def compiled_predictor(sha256: str, model_text: str) -> Predictor:
    """lleaves-compiled trees for this model, from the on-disk cache (``<sha256>.so``, shared
    by every worker and restart) or compiled now. Under a file lock, so two workers never
    compile the same model at once, and every file written whole and renamed into place, so
    a worker killed mid-write leaves no half file for the next one to load."""
    import lleaves  # imported here: LLVM is only needed where compilation is enabled

    directory = Path(settings.SEARCHOP_VAR_DIR) / "models"
    directory.mkdir(parents=True, exist_ok=True)
    model_path, cache = directory / f"{sha256}.txt", directory / f"{sha256}.so"
    with open(directory / f"{sha256}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)
        if not model_path.exists():
            _file_write_atomic(model_path, model_text.encode())
        compiled = lleaves.Model(model_file=str(model_path))
        if cache.exists():
            compiled.compile(cache=str(cache))
        else:
            fresh = cache.with_name(f"{cache.name}.{os.getpid()}.tmp")
            fresh.unlink(missing_ok=True)  # lleaves would load a leftover as the cache
            compiled.compile(cache=str(fresh))  # lleaves writes the binary there
            os.replace(fresh, cache)
    return lambda features: compiled.predict(features, n_jobs=1)


class ServingCache:
    """The per-process holder of the current state and its background loader."""

    def __init__(self) -> None:
        self._state: ServingState | None = None
        self._lock = threading.Lock()
        self._loading: tuple | None = None
        self._ready = threading.Event()
        self._last_check = 0.0
        self._failed: dict[tuple, float] = {}
        self._thread: threading.Thread | None = None
        self._unreachable = False
        # Every change of _state goes through _swap or _experiment_attach, under this lock,
        # so that the model loader and the experiment loader never undo each other's change.
        self._state_lock = threading.Lock()
        self.experiment_rankers = ExperimentRankers(compiled_predictor)
        self._experiment_wanted: LiveExperiment | None = None
        self._experiment_loading = False
        self._experiment_thread: threading.Thread | None = None

    # -- the request path ------------------------------------------------------------
    def get(self) -> ServingState:
        state = self._state
        now = time.monotonic()
        if state is None:
            self._start_load(self._wanted_key())
            self._ready.wait(settings.SEARCHOP_INITIAL_LOAD_TIMEOUT_SECONDS)
            state = self._state
            if state is None:
                raise ServingUnavailable("the ranking model is still loading")
            # and on to the check: the first search of a worker joins a running experiment too
        if now - self._last_check >= settings.SEARCHOP_MODEL_CHECK_SECONDS:
            self._last_check = now
            try:
                wanted = self._wanted_key()
                live = experiment_live_get()
            except DATABASE_UNAVAILABLE as error:
                self._check_failed(error)
                return state  # serve what this worker holds; check again at the next beat
            self._unreachable = False
            if wanted != state.key and wanted != self._loading and self._may_retry(wanted, now):
                self._start_load(wanted)
            state = self._experiment_check(state, live, now)
        return state

    def _check_failed(self, error: Exception) -> None:
        if not self._unreachable:  # once per outage, not at every beat
            logger.warning(
                "database unreachable: serving what this worker holds until it is back (%s)", error
            )
        self._unreachable = True

    def peek(self) -> ServingState | None:
        return self._state

    def warm(self) -> None:
        """Start loading in the background (worker start, readiness probe) without waiting."""
        if self._state is None:
            self._start_load(self._wanted_key())

    def _wanted_key(self) -> tuple:
        """(version, sha, serving feature set id) that should be served: two indexed reads."""
        production = model_version_production_key_get()
        feature_set_id = feature_set_latest_id_get(purpose=FeatureSet.Purpose.SERVING)
        version, sha = production if production else (None, None)
        return (version, sha, feature_set_id)

    def _may_retry(self, key: tuple, now: float) -> bool:
        failed_at = self._failed.get(key)
        return failed_at is None or now - failed_at > settings.SEARCHOP_MODEL_RETRY_SECONDS

    def _experiment_check(self, state: ServingState, live: LiveExperiment | None, now: float) -> ServingState:
        """The state to serve for the running experiment ``live`` (None: none runs): as it is
        when it already serves it; with it when its rankers need no loading; without the old
        one (and its rankers loading in the background) otherwise."""
        self._experiment_wanted = live
        current = state.experiment
        if live is None:
            return state if current is None else self._experiment_attach(None)
        if current is not None and current.current(live, state_version=state.model_version, now=now):
            return state
        if self.experiment_rankers.instant(live, state_version=state.model_version):
            return self._experiment_attach(
                self.experiment_rankers.build(live, state_version=state.model_version)
            )
        if current is not None and current.live.id != live.id:
            state = self._experiment_attach(None)  # a stopped experiment serves no more searches
        self._start_experiment_load(live, state.model_version)
        return state

    def _experiment_attach(self, experiment: ServingExperiment | None) -> ServingState:
        """Serve ``experiment`` (or none) with the current state; one built against another
        production version than the one now served is dropped (the next check builds again)."""
        with self._state_lock:
            current = self._state
            assert current is not None
            if experiment is None or experiment.state_version == current.model_version:
                current = self._state = replace(current, experiment=experiment)
            return current

    def _start_experiment_load(self, live: LiveExperiment, state_version: int | None) -> None:
        with self._lock:
            if self._experiment_loading:
                return
            self._experiment_loading = True
        thread = threading.Thread(
            target=self._experiment_load,
            args=(live, state_version),
            name="searchop-experiment-loader",
            daemon=True,
        )
        self._experiment_thread = thread
        thread.start()

    def _experiment_load(self, live: LiveExperiment, state_version: int | None) -> None:
        """Load the experiment's model versions, serve it if it still runs, then compile them."""
        try:
            built = self.experiment_rankers.build(live, state_version=state_version)
            if self._experiment_wanted == live:
                self._experiment_attach(built)
            logger.info(
                "experiment %s: serving %s against %s", live.id, built.challenger.label, built.control.label
            )
            compiled = settings.SEARCHOP_COMPILED_INFERENCE and self.experiment_rankers.compile_loaded()
            if compiled and self._experiment_wanted == live:
                self._experiment_attach(self.experiment_rankers.build(live, state_version=state_version))
        except Exception:  # a broken load must never take the worker down
            logger.exception("loading the rankers of experiment %s failed", live.id)
        finally:
            with self._lock:
                self._experiment_loading = False
            close_old_connections()
            connections.close_all()

    # -- loading, off the request path ------------------------------------------------
    def _start_load(self, key: tuple) -> None:
        with self._lock:
            if self._loading is not None:
                return
            self._loading = key
        thread = threading.Thread(target=self._load, args=(key,), name="searchop-model-loader", daemon=True)
        self._thread = thread
        thread.start()

    def reset(self, state: ServingState | None = None) -> None:
        """Serve ``state`` (or nothing: load on the next request) once a load in flight has
        finished. For tests, which need each test to start from a known state."""
        for thread in (self._thread, self._experiment_thread):
            if thread is not None:
                thread.join(timeout=60)
        self._state = state
        self.experiment_rankers = ExperimentRankers(compiled_predictor)
        self._experiment_wanted = None
        self._last_check = time.monotonic()
        self._failed.clear()
        self._ready.clear()

    def _load(self, key: tuple) -> None:
        try:
            state = state_build(key)
            self._swap(state)
            if key[0] is not None and state.fallback:
                # The production model failed: the fallback's key differs from the wanted one
                # at every check, so without this each check would load it again.
                self._failed[key] = time.monotonic()
            if state.predictor is not None and not state.compiled and settings.SEARCHOP_COMPILED_INFERENCE:
                self._compile(state)
        except Exception:  # a broken load must never take the worker down
            logger.exception("serving state load failed for %s", key)
            self._failed[key] = time.monotonic()
        finally:
            with self._lock:
                self._loading = None
            self._ready.set()
            close_old_connections()
            connections.close_all()

    def _compile(self, state: ServingState) -> None:
        if state.booster is None or state.model_sha256 is None:
            return
        try:
            predictor = compiled_predictor(state.model_sha256, state.booster.model_to_string())
        except Exception:
            logger.exception("compiling v%s failed; LightGBM keeps serving it", state.model_version)
            return
        current = self._state
        if current is not None and current.key == state.key:
            self._swap(replace(state, predictor=predictor, compiled=True, fallback_reason=None))

    def _swap(self, state: ServingState) -> None:
        with self._state_lock:
            # The running experiment goes on with the new state when it was built against
            # the same production version (a new feature set, the compiled model).
            previous = self._state.experiment if self._state is not None else None
            if previous is not None and previous.state_version == state.model_version:
                state = replace(state, experiment=previous)
            self._state = state
        # The snapshot is hundreds of thousands of long-lived objects: take them out of the
        # cyclic garbage collector's generations, whose full passes would otherwise stall a
        # request now and then for tens of milliseconds. (Freed by reference counting when
        # a later state replaces this one.)
        gc.collect()
        gc.freeze()
        observability.MODEL_VERSION_SERVED.set(state.model_version or 0)
        observability.MODEL_LOADS.labels(kind="model" if state.predictor else "fallback").inc()
        logger.info(
            "serving %s with feature set %s%s",
            f"v{state.model_version}" if state.predictor else "the BM25 fallback",
            state.feature_set_id,
            " (compiled)" if state.compiled else "",
        )


class ServingUnavailable(Exception):
    pass


def state_build(key: tuple) -> ServingState:
    """Load what ``key`` names: the snapshot of the serving feature set (or the catalog
    alone), then the production model, verified. A model that fails gives the fallback."""
    version, sha, feature_set_id = key
    feature_set = feature_set_latest_get(purpose=FeatureSet.Purpose.SERVING) if feature_set_id else None
    if feature_set is not None and feature_set.pk == feature_set_id:
        snapshot = feature_snapshot_get(feature_set=feature_set)
    else:
        snapshot, feature_set_id = snapshot_of_catalog(catalog_frame_get()), None
    kernel_prepare(snapshot)  # the compiled feature kernel's tables, here rather than in a request
    if version is None:
        return _fallback(snapshot, feature_set_id, "no production model")
    try:
        booster = booster_load(model_version=model_version_get(version=version))
    except RegistryError as error:
        observability.MODEL_LOAD_FAILURES.labels(model_version=str(version)).inc()
        logger.error("production model v%s cannot serve: %s", version, error)
        return _fallback(snapshot, feature_set_id, f"model v{version} failed to load: {error}")
    return ServingState(
        model_version=version,
        model_sha256=sha,
        booster=booster,
        predictor=lambda features: booster.predict(features, num_threads=1),
        compiled=False,
        snapshot=snapshot,
        feature_set_id=feature_set_id,
        fallback_reason=None,
    )


def _fallback(snapshot: FeatureSnapshot, feature_set_id: int | None, reason: str) -> ServingState:
    return ServingState(
        model_version=None,
        model_sha256=None,
        booster=None,
        predictor=None,
        compiled=False,
        snapshot=snapshot,
        feature_set_id=feature_set_id,
        fallback_reason=reason,
    )


SERVING = ServingCache()


def serving_state_get() -> ServingState:
    return SERVING.get()


def readiness_get() -> tuple[dict, int]:
    """Readiness for the orchestrator: the database answers and a model is loaded, or the
    fallback is active (with what serves, or why not), and the HTTP status to answer with."""
    body: dict = {
        "status": "ready",
        "database": "ok",
        "model_version": None,
        "fallback": None,
        "reason": None,
    }
    code = 200
    try:
        with connections["default"].cursor() as cursor:
            cursor.execute("SELECT 1")
    except DatabaseError as error:
        body.update(status="unavailable", database=f"error: {error}".strip())
        code = 503
    state = SERVING.peek()
    if state is None:
        if code == 200:
            try:
                SERVING.warm()
            except DatabaseError as error:  # e.g. not migrated yet
                body.update(database=f"error: {error}".strip())
        body.update(status="unavailable", reason="the model is loading")
        return body, 503
    body.update(
        model_version=state.model_version,
        fallback=state.fallback,
        reason=state.fallback_reason
        or (f"serving v{state.model_version}" + (" (compiled)" if state.compiled else "")),
    )
    return body, code
