"""The weekly schedule's slots: which firing of the schedule a scheduled run belongs to, and
which firing has no run though it should (the watchdog starts it).

A slot is the schedule's name and the time it was due (``weekly-pipeline@2026-11-30T03:00+0000``),
read from the schedule beat itself uses (django-celery-beat's row, which the admin may have
edited), so every beat process, and the watchdog, name one firing alike. A retry of a slot
whose run was lost is the slot with ``#2``, ``#3``.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from training.models import PipelineRun
from training.schedule import crontab_last_due
from training.services.runs import TRANSIENT_ERRORS

SCHEDULE_NAME = "weekly-pipeline"  # the PeriodicTask seeded by training/migrations/0002
# The watchdog leaves a firing to beat's own message for this long, and looks no further back
# than a day (a schedule missed for longer waits for its next firing).
MISSED_AFTER = timedelta(minutes=10)
MISSED_WITHIN = timedelta(days=1)
MAX_ATTEMPTS = 3


def schedule_due_get(*, now: datetime | None = None) -> tuple[str, datetime] | None:
    """The slot of the schedule's latest firing at or before ``now`` and the time it was due;
    None when the schedule is disabled or gone."""
    task = PeriodicTask.objects.select_related("crontab").filter(name=SCHEDULE_NAME, enabled=True).first()
    if task is None or task.crontab is None:
        return None
    schedule = task.crontab.schedule
    due = crontab_last_due(schedule, (now or timezone.now()).astimezone(schedule.tz))
    if due is None:
        return None
    return f"{SCHEDULE_NAME}@{due:%Y-%m-%dT%H:%M%z}", due


def schedule_slot_missed_get(*, now: datetime | None = None) -> str | None:
    """The slot to start now because the schedule's latest firing has no run: beat's message
    never arrived, or its run was lost or died of a transient error (at most ``MAX_ATTEMPTS``
    attempts). A run of any trigger queued, running or succeeded since the firing covers it.
    None when nothing is missing."""
    now = now or timezone.now()
    due = schedule_due_get(now=now)
    if due is None or not MISSED_AFTER <= now - due[1] <= MISSED_WITHIN:
        return None
    slot, due_at = due
    since = PipelineRun.objects.filter(created_at__gte=due_at)
    if since.filter(status__in=[*PipelineRun.ACTIVE, PipelineRun.Status.SUCCEEDED]).exists():
        return None
    attempts = list(
        since.filter(schedule_slot__startswith=slot)
        .order_by("created_at", "id")
        .values_list("error", flat=True)
    )
    if not attempts:
        return slot
    if len(attempts) >= MAX_ATTEMPTS or not attempts[-1].startswith(TRANSIENT_ERRORS):
        return None
    return f"{slot}#{len(attempts) + 1}"
