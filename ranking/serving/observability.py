"""SearchOp's own Prometheus metrics, beside django-prometheus's.

Correct across several gunicorn workers: ``searchop_site/gunicorn.conf.py`` sets
``PROMETHEUS_MULTIPROC_DIR`` before anything imports ``prometheus_client``, empties it at
start and marks dead workers; gauges declare how their per-process values combine.
"""

from __future__ import annotations

from prometheus_client import Counter, Gauge, Histogram

LATENCY_BUCKETS = (0.0005, 0.001, 0.002, 0.003, 0.005, 0.0075, 0.01, 0.02, 0.05, 0.1, 0.25, 1.0)
STEP_BUCKETS = (0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.002, 0.005, 0.01, 0.05)

RANK_LATENCY = Histogram(
    "searchop_rank_latency_seconds",
    "Time to serve POST /api/rank inside the view (validation to response), by model version.",
    ["model_version"],
    buckets=LATENCY_BUCKETS,
)
RANK_STEP_LATENCY = Histogram(
    "searchop_rank_step_seconds",
    "Time of each step of the rank pipeline.",
    ["step"],
    buckets=STEP_BUCKETS,
)
_STEP_CHILDREN: dict = {}
_LATENCY_CHILDREN: dict = {}


def rank_latency(model_version: str):
    child = _LATENCY_CHILDREN.get(model_version)
    if child is None:
        child = _LATENCY_CHILDREN[model_version] = RANK_LATENCY.labels(model_version=model_version)
    return child


def rank_step(step: str):
    """The step's histogram child, bound once (``labels()`` costs a lock and a look-up per call)."""
    child = _STEP_CHILDREN.get(step)
    if child is None:
        child = _STEP_CHILDREN[step] = RANK_STEP_LATENCY.labels(step=step)
    return child


RANK_CANDIDATES = Histogram(
    "searchop_rank_candidates",
    "Candidates per rank request.",
    buckets=(0, 1, 10, 25, 50, 100, 200, 500, 1000),
)
RANK_FALLBACKS = Counter(
    "searchop_rank_fallbacks_total", "Rank requests answered with the BM25 fallback, by reason.", ["reason"]
)
RANK_REJECTED = Counter(
    "searchop_rank_rejected_total", "Rank requests refused as invalid, by status.", ["status"]
)
EVENTS_INGESTED = Counter(
    "searchop_events_ingested_total",
    "Events accepted by POST /api/events (committed), by type; re-sent ones are also counted below.",
    ["event_type"],
)
EVENTS_DUPLICATE = Counter("searchop_events_duplicate_total", "Re-sent events skipped (already stored).")
MODEL_LOAD_FAILURES = Counter(
    "searchop_model_load_failures_total",
    "Production models that failed to verify or load.",
    ["model_version"],
)
MODEL_LOADS = Counter("searchop_model_loads_total", "Serving states loaded (model and features).", ["kind"])
MODEL_VERSION_SERVED = Gauge(
    "searchop_model_version_served",
    "The model version each worker serves (0: BM25 fallback).",
    multiprocess_mode="liveall",
)
IMPRESSION_LOG_WRITTEN = Counter("searchop_impression_log_written_total", "Impression-log rows written.")
IMPRESSION_LOG_DROPPED = Counter(
    "searchop_impression_log_dropped_total", "Impression-log rows dropped because the queue was full."
)
IMPRESSION_LOG_QUEUE = Gauge(
    "searchop_impression_log_queue", "Impression-log rows waiting to be written.", multiprocess_mode="livesum"
)
EXPERIMENT_SEARCHES = Counter(
    "searchop_experiment_searches_total",
    "Rank requests served inside the running experiment, by arm.",
    ["arm"],
)
EXPERIMENT_ERRORS = Counter(
    "searchop_experiment_errors_total",
    "Searches of an experiment whose challenger (or control) could not take part, so the control "
    "(or production) answered alone, by cause: load (it did not load), score (it raised).",
    ["cause"],
)
_ARM_CHILDREN: dict = {}


def experiment_search(arm: str) -> None:
    """One search served inside the running experiment."""
    child = _ARM_CHILDREN.get(arm)
    if child is None:
        child = _ARM_CHILDREN[arm] = EXPERIMENT_SEARCHES.labels(arm=arm)
    child.inc()


def rank_observe(
    steps: dict[str, float],
    *,
    total: float,
    model_version: int | None,
    fallback_reason: str | None,
    candidates: int,
) -> None:
    """One served rank request: its steps, its latency by model version (or "fallback"), its
    candidates, and a fallback with its reason."""
    for step, seconds in steps.items():
        rank_step(step).observe(seconds)
    rank_latency("fallback" if fallback_reason is not None else str(model_version)).observe(total)
    RANK_CANDIDATES.observe(candidates)
    if fallback_reason is not None:
        reason = "no_model" if fallback_reason == "no production model" else "model_failed"
        RANK_FALLBACKS.labels(reason=reason).inc()


def events_observe(event_types: list[str], duplicates: int) -> None:
    """A committed batch of ``/api/events``: each event by type, and the re-sent ones."""
    for event_type in event_types:
        EVENTS_INGESTED.labels(event_type=event_type).inc()
    EVENTS_DUPLICATE.inc(duplicates)
