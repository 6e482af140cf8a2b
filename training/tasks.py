"""Celery tasks of the training pipeline, and ``pipeline_run_enqueue``: the one way a run is
queued for them, which the admin's "run now", ``run_pipeline --async``, the weekly schedule
and the watchdog all take. (It lives here, beside the task it sends, so that nothing imports
this module back.)

Each task takes plain values, calls services and owns its retry policy:

* ``pipeline_run_task(run_id)`` claims the queued run and runs it. It is acknowledged late:
  a message taken by a worker that dies before starting it is delivered again, and any
  second delivery (that one, or Redis redelivering a run longer than its visibility timeout)
  finds the run claimed already and does nothing. A worker that dies mid-run leaves a run
  whose heartbeat stops; the watchdog closes it.
* ``pipeline_schedule_task()`` is beat's weekly trigger: it queues the run of the schedule's
  slot, once however many beat processes send it.
* ``traffic_hours_roll_up_task()`` runs every ``SEARCHOP_TRAFFIC_ROLLUP_MINUTES`` from beat:
  the dashboard's hourly roll-up of the last week's traffic.
* ``pipeline_watchdog_task()`` runs every ``SEARCHOP_PIPELINE_WATCHDOG_SECONDS`` from beat:
  it closes lost runs (and rejects their undecided candidates) and starts the scheduled run
  that was missed or lost.

Only transient database errors (a restart, a failover, a dropped connection) are retried.
A trigger refused because a run is queued or running is an answer, not a failure: it is
recorded as a skipped run and never retried.
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError, transaction
from django.utils import timezone
from kombu.exceptions import OperationalError as BrokerUnreachable

from ranking.services import partitions_upkeep
from training.dashboard.rollup import traffic_hours_roll_up
from training.models import PipelineRun
from training.services.pipeline import pipeline_run_execute
from training.services.runs import pipeline_run_request, pipeline_run_unsent_close, pipeline_runs_lost_close
from training.services.schedule import schedule_due_get, schedule_slot_missed_get

logger = logging.getLogger(__name__)

NOT_QUEUED = "not queued"

# Backoff 60 s, 120 s, 240 s (each with jitter): long enough for PostgreSQL to restart or
# fail over, short enough that the weekly run still happens the same morning.
TRANSIENT_RETRY = {
    "autoretry_for": (OperationalError,),
    "max_retries": 3,
    "retry_backoff": 60,
    "retry_backoff_max": 600,
    "retry_jitter": True,
}


def pipeline_run_enqueue(
    *, trigger: str, actor: str, schedule_slot: str | None = None, queue: str | None = None
) -> PipelineRun:
    """Queue one pipeline run for a worker, sent once the current transaction commits (at
    once outside one), or record the trigger as skipped when a run is queued or running or
    the schedule's slot has its run. Returns the run row either way. ``queue`` routes it to
    a particular worker's queue. If the task queue cannot be reached the run is closed as
    failed ("not sent") and the broker's error raised."""
    run = pipeline_run_request(trigger=trigger, actor=actor, schedule_slot=schedule_slot)
    if run.status == PipelineRun.Status.QUEUED:
        transaction.on_commit(lambda: _send(run.pk, queue))
    return run


def _send(run_id: int, queue: str | None) -> None:
    try:
        pipeline_run_task.apply_async(kwargs={"run_id": run_id}, **({"queue": queue} if queue else {}))
    except BrokerUnreachable as error:
        pipeline_run_unsent_close(run_id=run_id, error=f"the task queue is unreachable ({error})")
        raise


@shared_task(acks_late=True, **TRANSIENT_RETRY)
def pipeline_run_task(run_id: int) -> dict:
    """Run the queued run ``run_id``; returns its id, status, model version and decision, or
    ``{"status": "not queued"}`` when another delivery ran it or it was closed."""
    outcome = pipeline_run_execute(run_id=run_id)
    if outcome is None:
        logger.info("Pipeline run %s is not queued (delivered again, or closed): nothing to do", run_id)
        return {"run": run_id, "status": NOT_QUEUED}
    run, _report = outcome
    version = run.model_version.version if run.model_version else None
    result = {"run": run.pk, "status": run.status, "version": version, "decision": run.decision.get("action")}
    logger.info("Pipeline run %s %s: v%s %s", run.pk, run.status, version, result["decision"])
    return result


@shared_task(**TRANSIENT_RETRY)
def pipeline_schedule_task() -> dict:
    """Beat's weekly trigger: queue the run of the schedule's latest firing."""
    due = schedule_due_get()
    run = pipeline_run_enqueue(
        trigger=PipelineRun.Trigger.SCHEDULE, actor="beat", schedule_slot=due[0] if due else None
    )
    return {"run": run.pk, "status": run.status, "reason": run.reason}


@shared_task(**TRANSIENT_RETRY)
def pipeline_watchdog_task() -> dict:
    """Close lost runs; start the scheduled run that was missed or lost."""
    closed = pipeline_runs_lost_close()
    slot = schedule_slot_missed_get()
    run = (
        pipeline_run_enqueue(trigger=PipelineRun.Trigger.SCHEDULE, actor="watchdog", schedule_slot=slot)
        if slot
        else None
    )
    if closed or run is not None:
        logger.warning("Pipeline watchdog: closed runs %s; started %s", closed, run)
    return {"closed": closed, "started": run.pk if run is not None else None}


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


@shared_task(acks_late=False, **TRANSIENT_RETRY)
def traffic_hours_roll_up_task() -> dict:
    """The dashboard's hourly roll-up (``traffic_hours_roll_up``): the hours that need it
    counted again. Returns how many and which."""
    hours = traffic_hours_roll_up(now=timezone.now())
    return {
        "hours": len(hours),
        "first": hours[0].isoformat() if hours else None,
        "last": hours[-1].isoformat() if hours else None,
    }
