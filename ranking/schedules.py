"""Seeding django-celery-beat's rows for an entry of ``CELERY_BEAT_SCHEDULE``, shared by the
data migrations that put each periodic task in the admin from the first deployment (before
beat has ever started). The row is the one beat's DatabaseScheduler writes for the entry, so
beat finds and reuses it; a task of that name that exists already (edited or disabled in the
admin) is left alone. Called with the migration's historical ``apps``.
"""

from __future__ import annotations

import json
from typing import Any

from django.conf import settings
from django.utils import timezone


def periodic_task_seed(
    apps: Any, *, name: str, task: str, schedule: dict[str, dict[str, Any]], kwargs: dict, description: str
) -> None:
    """Create the periodic task ``name`` unless it exists. ``schedule`` is
    ``{"crontab": {<CrontabSchedule fields>}}`` or ``{"interval": {"every": n, "period": ...}}``;
    an identical schedule row is reused."""
    periodic_task = apps.get_model("django_celery_beat", "PeriodicTask")
    if periodic_task.objects.filter(name=name).exists():
        return
    [(kind, fields)] = schedule.items()
    model = apps.get_model(
        "django_celery_beat", {"crontab": "CrontabSchedule", "interval": "IntervalSchedule"}[kind]
    )
    row = model.objects.filter(**fields).first() or model.objects.create(**fields)
    periodic_task.objects.create(
        name=name,
        task=task,
        **{kind: row},
        args="[]",
        kwargs=json.dumps(kwargs),
        headers="{}",
        enabled=True,
        description=description,
    )
    # Historical models skip PeriodicTask.save(), which tells a running beat to reload.
    apps.get_model("django_celery_beat", "PeriodicTasks").objects.update_or_create(
        ident=1, defaults={"last_update": timezone.now()}
    )


def periodic_task_unseed(apps: Any, *, name: str, task: str) -> None:
    apps.get_model("django_celery_beat", "PeriodicTask").objects.filter(name=name, task=task).delete()


def interval_task_seed(apps: Any, *, name: str, task: str, fallback_seconds: int, description: str) -> None:
    """Seed the interval entry ``name`` of ``CELERY_BEAT_SCHEDULE`` (a ``timedelta``, which
    beat stores as seconds); if the settings no longer have it, ``task`` every
    ``fallback_seconds``, what the entry said when its migration was written."""
    entry = getattr(settings, "CELERY_BEAT_SCHEDULE", {}).get(name)
    seconds = int(entry["schedule"].total_seconds()) if entry else fallback_seconds
    periodic_task_seed(
        apps,
        name=name,
        task=entry["task"] if entry else task,
        schedule={"interval": {"every": seconds, "period": "seconds"}},
        kwargs={},
        description=description,
    )
