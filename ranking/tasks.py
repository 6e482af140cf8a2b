"""Celery tasks of the ranking app: thin edges over its services."""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import OperationalError

from ranking.drift.services import drift_check
from ranking.experiments.decide import experiments_decide

logger = logging.getLogger(__name__)


# No retries: the next run, minutes later, does the same work from the same data.
@shared_task(ignore_result=True)
def experiments_decide_task() -> list[str]:
    """The running experiment's guardrails and decision, canary stages, the watch after a
    promotion, and the online gate of waiting candidates (``experiments_decide``)."""
    try:
        lines = experiments_decide(actor="beat")
    except OperationalError as error:  # the database is away: the next run tries again
        logger.warning("experiments not evaluated: %s", error)
        return []
    for line in lines:
        logger.info("%s", line)
    return lines


@shared_task(ignore_result=True)
def drift_check_task() -> bool:
    """The served features of the last day against the production model's profile
    (``drift_check``); returns whether anything is flagged."""
    try:
        return drift_check().flagged
    except OperationalError as error:  # the database is away: the next run tries again
        logger.warning("drift not checked: %s", error)
        return False
