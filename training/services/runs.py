"""A pipeline run from its trigger to its close, held by the database so that it can neither
run twice nor get stuck.

1. **Requested** (``pipeline_run_request``): every trigger adds a ``queued`` run, or, while
   one is queued or running or the schedule's slot is taken, a ``skipped`` run that says why
   (the database's constraints decide, so two triggers at the same moment start one run).
2. **Claimed** (``pipeline_run_claim``): ``queued -> running`` in one conditional update, so
   a message delivered twice (late acknowledgement, a redelivery) runs it once.
3. **Alive** (``RunHeartbeat``): while it runs, a thread refreshes its heartbeat every
   ``SEARCHOP_PIPELINE_HEARTBEAT_SECONDS``; the pipeline checks between stages that it still
   holds the run (``pipeline_run_alive_check``).
4. **Closed as lost** (``pipeline_runs_lost_close``): a run whose heartbeat is older than
   four beats (``PipelineRun.silent_since``) lost its worker (killed, out of memory, the node gone), and a
   run queued longer than ``SEARCHOP_PIPELINE_QUEUE_TIMEOUT_SECONDS`` lost its message; the
   next trigger and the watchdog close them as failed, and reject the undecided candidate a
   lost run registered.
"""

from __future__ import annotations

import logging
import threading
from datetime import datetime, timedelta
from types import TracebackType

from django.conf import settings
from django.db import DatabaseError, IntegrityError, connection, transaction
from django.utils import timezone

from ranking.errors import RegistryError
from ranking.models import ModelStatus
from ranking.services import model_version_reject
from training.errors import PipelineRunLost
from training.models import PipelineRun

logger = logging.getLogger(__name__)

WORKER_LOST = "worker lost"
NOT_PICKED_UP = "not picked up"
NOT_SENT = "not sent"
# Failures a retry can cure (the scheduled run's slot is tried again): the worker or its
# message was lost, the task queue was down, or the database went away mid-run.
TRANSIENT_ERRORS = (WORKER_LOST, NOT_PICKED_UP, NOT_SENT, "OperationalError", "InterfaceError")


def pipeline_run_request(*, trigger: str, actor: str, schedule_slot: str | None = None) -> PipelineRun:
    """A ``queued`` run for this trigger, or a ``skipped`` run that records why not: a run is
    queued or running already, or ``schedule_slot`` has its run. Closes lost runs first, so
    that a dead run blocks nothing. Never raises for a refusal: the row is the answer."""
    pipeline_runs_lost_close()
    try:
        with transaction.atomic():
            return PipelineRun.objects.create(trigger=trigger, actor=actor, schedule_slot=schedule_slot)
    except IntegrityError:
        reason = _refusal_reason(schedule_slot)
    logger.warning("Pipeline trigger skipped (%s by %s): %s", trigger, actor, reason)
    return PipelineRun.objects.create(
        status=PipelineRun.Status.SKIPPED,
        trigger=trigger,
        actor=actor,
        reason=reason,
        finished_at=timezone.now(),
    )


def _refusal_reason(schedule_slot: str | None) -> str:
    active = PipelineRun.objects.filter(status__in=PipelineRun.ACTIVE).first()
    if active is not None:
        return (
            f"run {active.pk} is {active.status} (triggered {active.created_at:%Y-%m-%d %H:%M} UTC, "
            f"{active.get_trigger_display()} by {active.actor or 'unknown'})"
        )
    taken = PipelineRun.objects.filter(schedule_slot=schedule_slot).first() if schedule_slot else None
    if taken is not None:
        return f"the schedule's run due {str(schedule_slot).partition('@')[2]} is run {taken.pk} ({taken.status})"
    return "another run was triggered at the same moment"


def pipeline_run_claim(*, run_id: int) -> PipelineRun | None:
    """Start the queued run ``run_id``: ``queued -> running`` in one conditional update, so
    of two deliveries of its message (or two workers) exactly one gets the run. None: it is
    not queued (already running or finished, or closed as not picked up)."""
    now = timezone.now()
    claimed = PipelineRun.objects.filter(pk=run_id, status=PipelineRun.Status.QUEUED).update(
        status=PipelineRun.Status.RUNNING, started_at=now, heartbeat_at=now
    )
    return PipelineRun.objects.get(pk=run_id) if claimed else None


def pipeline_run_unsent_close(*, run_id: int, error: str) -> None:
    """Close a queued run whose message could not be sent (the task queue is down), so that
    it blocks no other trigger."""
    PipelineRun.objects.filter(pk=run_id, status=PipelineRun.Status.QUEUED).update(
        status=PipelineRun.Status.FAILED, finished_at=timezone.now(), error=f"{NOT_SENT}: {error}"
    )


def pipeline_run_alive_check(*, run_id: int) -> None:
    """Beat for the run and make sure this process still holds it; raises PipelineRunLost if
    it was closed meanwhile (taken for dead: then its result must not count)."""
    if not PipelineRun.objects.filter(pk=run_id, status=PipelineRun.Status.RUNNING).update(
        heartbeat_at=timezone.now()
    ):
        error = PipelineRun.objects.filter(pk=run_id).values_list("error", flat=True).first()
        raise PipelineRunLost(f"Run {run_id} was closed while it ran ({error or 'no reason recorded'}).")


class RunHeartbeat:
    """``with RunHeartbeat(run_id):`` refreshes the run's heartbeat from a thread of its own
    (with its own database connection) every ``SEARCHOP_PIPELINE_HEARTBEAT_SECONDS``, so a
    run busy in one long step still shows that its worker is alive."""

    def __init__(self, run_id: int) -> None:
        self.run_id = run_id
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._beat, name=f"pipeline-heartbeat-{run_id}", daemon=True)

    def __enter__(self) -> RunHeartbeat:
        self._thread.start()
        return self

    def __exit__(self, kind: type | None, error: BaseException | None, trace: TracebackType | None) -> None:
        self._stop.set()
        self._thread.join(timeout=30)

    def _beat(self) -> None:
        try:
            while not self._stop.wait(settings.SEARCHOP_PIPELINE_HEARTBEAT_SECONDS):
                try:
                    PipelineRun.objects.filter(pk=self.run_id, status=PipelineRun.Status.RUNNING).update(
                        heartbeat_at=timezone.now()
                    )
                except DatabaseError as error:  # the next beat tries again
                    logger.warning("Heartbeat of run %s not recorded: %s", self.run_id, error)
        finally:
            connection.close()


def pipeline_runs_lost_close(*, now: datetime | None = None) -> list[int]:
    """Close as failed every running run whose heartbeat stopped and every queued run no
    worker took in time; reject the undecided candidate a lost run registered. Each close is
    a conditional update, so two closers (the watchdog and a trigger) close a run once.
    Returns the ids it closed."""
    now = now or timezone.now()
    silent_since = PipelineRun.silent_since(now)
    queued_since = now - timedelta(seconds=settings.SEARCHOP_PIPELINE_QUEUE_TIMEOUT_SECONDS)
    closed = []
    for run in PipelineRun.objects.filter(status=PipelineRun.Status.RUNNING, heartbeat_at__lt=silent_since):
        error = f"{WORKER_LOST}: no heartbeat since {run.heartbeat_at:%Y-%m-%d %H:%M:%S} UTC"
        if _close(run, error=error, now=now):
            closed.append(run.pk)
            _candidate_reject(run)
    for run in PipelineRun.objects.filter(status=PipelineRun.Status.QUEUED, created_at__lt=queued_since):
        if _close(run, error=f"{NOT_PICKED_UP}: no worker took it within the queue timeout", now=now):
            closed.append(run.pk)
    return closed


def _close(run: PipelineRun, *, error: str, now: datetime) -> bool:
    changed = PipelineRun.objects.filter(pk=run.pk, status=run.status, heartbeat_at=run.heartbeat_at).update(
        status=PipelineRun.Status.FAILED, finished_at=now, error=error
    )
    if changed:
        logger.error("Pipeline run %s closed as failed: %s", run.pk, error)
    return bool(changed)


def _candidate_reject(run: PipelineRun) -> None:
    version = run.model_version
    if version is None or version.status != ModelStatus.CANDIDATE:
        return
    try:
        model_version_reject(
            version=version.version,
            actor="pipeline:watchdog",
            reason=f"its pipeline run {run.pk} lost its worker before deciding",
        )
    except RegistryError as error:  # decided meanwhile by a person: theirs stands
        logger.info("Candidate v%s of lost run %s left as it is: %s", version.version, run.pk, error)
