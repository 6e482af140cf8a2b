"""Seed the weekly pipeline schedule, so it is in the admin's "Periodic tasks" from the
first deployment, before celery beat has ever started.

The row is the one django-celery-beat's DatabaseScheduler writes from
``CELERY_BEAT_SCHEDULE["weekly-pipeline"]`` when beat starts (same name, task, kwargs and
an identical crontab row, which beat then finds and reuses), so the settings and the
database cannot disagree. It reads the settings entry for that reason; if the entry is gone
it falls back to what it said when this was written: Mondays at 03:00 UTC.

Idempotent: an existing task of that name (edited or disabled in the admin) is left alone.
"""

from django.conf import settings
from django.db import migrations

from ranking.schedules import periodic_task_seed, periodic_task_unseed

NAME = "weekly-pipeline"
TASK = "training.tasks.pipeline_run_task"
CRONTAB_FIELDS = ("minute", "hour", "day_of_week", "day_of_month", "month_of_year")
FALLBACK = {
    "task": TASK,
    "crontab": {"minute": "0", "hour": "3", "day_of_week": "mon", "day_of_month": "*", "month_of_year": "*"},
    "kwargs": {"trigger": "schedule"},
}


def schedule_spec():
    entry = getattr(settings, "CELERY_BEAT_SCHEDULE", {}).get(NAME)
    if entry is None:
        return FALLBACK
    schedule = entry["schedule"]
    # The same attributes CrontabSchedule.from_schedule reads when beat installs the entry.
    crontab = {field: str(getattr(schedule, f"_orig_{field}")) for field in CRONTAB_FIELDS}
    return {"task": entry["task"], "crontab": crontab, "kwargs": entry.get("kwargs", {})}


def schedule_create(apps, schema_editor):
    spec = schedule_spec()
    crontab = {**spec["crontab"], "timezone": getattr(settings, "CELERY_TIMEZONE", "UTC")}
    periodic_task_seed(
        apps,
        name=NAME,
        task=spec["task"],
        schedule={"crontab": crontab},
        kwargs=spec["kwargs"],
        description=(
            "The weekly training pipeline: features, training, evaluation, promote or reject. "
            "Beat re-applies CELERY_BEAT_SCHEDULE (schedule, task, arguments) to this row each "
            "time it starts; change the schedule there (SEARCHOP_PIPELINE_DAY), not here. "
            "Disabling it here sticks."
        ),
    )


def schedule_delete(apps, schema_editor):
    periodic_task_unseed(apps, name=NAME, task=TASK)


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0001_initial"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_create, schedule_delete)]
