"""Seed the daily partition upkeep schedule (``CELERY_BEAT_SCHEDULE["partition-upkeep"]``:
the events' and impression log's months prepared ahead, the retention applied), so it is in
the admin's "Periodic tasks" from the first deployment, as 0002 does for the weekly pipeline
and in the same way: the row django-celery-beat's DatabaseScheduler would write from the
settings entry, which it then finds and reuses; if the entry is gone, what it said when this
was written (02:30 UTC every day).

Idempotent: an existing task of that name (edited or disabled in the admin) is left alone.
"""

import json

from django.conf import settings
from django.db import migrations
from django.utils import timezone

NAME = "partition-upkeep"
TASK = "training.tasks.partitions_upkeep_task"
CRONTAB_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
FALLBACK = {
    "task": TASK,
    "crontab": {"minute": "30", "hour": "2", "day_of_week": "*", "day_of_month": "*", "month_of_year": "*"},
    "kwargs": {},
}


def schedule_spec():
    entry = getattr(settings, "CELERY_BEAT_SCHEDULE", {}).get(NAME)
    if entry is None:
        return FALLBACK
    schedule = entry["schedule"]
    crontab = {field: str(getattr(schedule, f"_orig_{field}")) for field in CRONTAB_FIELDS}
    return {"task": entry["task"], "crontab": crontab, "kwargs": entry.get("kwargs", {})}


def schedule_create(apps, schema_editor):
    CrontabSchedule = apps.get_model("django_celery_beat", "CrontabSchedule")
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    if PeriodicTask.objects.filter(name=NAME).exists():
        return
    spec = schedule_spec()
    crontab_fields = {**spec["crontab"], "timezone": getattr(settings, "CELERY_TIMEZONE", "UTC")}
    crontab = CrontabSchedule.objects.filter(**crontab_fields).first()
    if crontab is None:
        crontab = CrontabSchedule.objects.create(**crontab_fields)
    PeriodicTask.objects.create(
        name=NAME,
        task=spec["task"],
        crontab=crontab,
        args="[]",
        kwargs=json.dumps(spec["kwargs"]),
        headers="{}",
        enabled=True,
        description=(
            "Daily: the monthly partitions of the events and the impression log prepared "
            "SEARCHOP_PARTITIONS_AHEAD_MONTHS ahead, and months older than "
            "SEARCHOP_RETENTION_MONTHS dropped (when it is above 0). Beat re-applies "
            "CELERY_BEAT_SCHEDULE to this row each time it starts. Disabling it here sticks."
        ),
    )
    # Historical models skip PeriodicTask.save(), which tells a running beat to reload.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def schedule_delete(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=NAME, task=TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0004_pipeline_schedule_tasks"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_create, schedule_delete)]
