"""Queueing a pipeline run for a worker: the one path the admin's "run now", the command's
``--async`` and anything else that starts a run in the background take. It lives apart from
the services because it imports the task module, which imports the services."""

from __future__ import annotations

from django.db import transaction

from training.tasks import pipeline_run_task


def pipeline_run_enqueue(*, trigger: str, actor: str, queue: str | None = None) -> None:
    """Queue one pipeline run for a worker once the current transaction commits (at once
    outside a transaction). Checks nothing itself: the run's claim in the task is the
    guard, so a run queued while another is running ends as "already running" without
    training. ``queue`` routes it to a particular worker's queue (default: the default one)."""
    options = {"queue": queue} if queue else {}
    transaction.on_commit(
        lambda: pipeline_run_task.apply_async(kwargs={"trigger": trigger, "actor": actor}, **options)
    )
