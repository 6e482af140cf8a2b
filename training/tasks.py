"""Celery tasks of the training pipeline: thin edges over the services.

Each task takes plain values, calls one service and owns its retry policy. Only transient
database errors (a restart, a failover, a dropped connection) are retried; a run refused
because another one is running is an answer, not a failure, so it is never retried: the
weekly schedule and the admin's "run now" meeting end there without training twice.

The pipeline task is acknowledged when a worker takes it, not when it ends (the settings'
default is late): with Redis, a message still unacknowledged after the visibility timeout
(an hour) is delivered again, and a long run would then be followed by a second, complete
one. A run cut short by a killed worker is lost instead, and shows as such in the admin.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

from ranking.services import partitions_upkeep
from training.errors import PipelineAlreadyRunning
from training.models import PipelineRun
from training.services.pipeline import pipeline_run

logger = logging.getLogger(__name__)

ALREADY_RUNNING = "already running"

# Backoff 60 s, 120 s, 240 s (each with jitter): long enough for PostgreSQL to restart or
# fail over, short enough that the weekly run still happens the same morning.
TRANSIENT_RETRY = {
    "autoretry_for": (OperationalError,),
    "max_retries": 3,
    "retry_backoff": 60,
    "retry_backoff_max": 600,
    "retry_jitter": True,
}


@shared_task(acks_late=False, **TRANSIENT_RETRY)
def pipeline_run_task(trigger: str = PipelineRun.Trigger.SCHEDULE, actor: str = "") -> dict:
    """Run the whole pipeline once; returns the run's id, status, model version and decision,
    or ``{"status": "already running", ...}`` when another run holds the claim."""
    try:
        run, _report = pipeline_run(trigger=trigger, actor=actor or f"celery:{trigger}")
    except PipelineAlreadyRunning as error:
        logger.info("Pipeline run not started (trigger %s): %s", trigger, error)
        return {"run": None, "status": ALREADY_RUNNING, "detail": str(error)}
    version = run.model_version.version if run.model_version else None
    result = {
        "run": run.pk,
        "status": run.status,
        "version": version,
        "decision": run.decision.get("action"),
    }
    logger.info("Pipeline run %s %s: v%s %s", run.pk, run.status, version, result["decision"])
    return result


@shared_task(acks_late=False, **TRANSIENT_RETRY)
def partitions_upkeep_task() -> dict:
    """The daily upkeep of the monthly partitions: months prepared ahead, and the retention
    (``SEARCHOP_RETENTION_MONTHS``) applied. Returns what was created, dropped and kept."""
    result = partitions_upkeep()
    logger.info(
        "Partition upkeep: created %s, dropped %s, kept %s",
        result["created"] or "-",
        result["dropped"] or "-",
        result["kept"] or "-",
    )
    return result
