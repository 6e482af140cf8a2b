"""Seed the experiments' evaluation schedule (every few minutes), so it is in the admin's
"Periodic tasks" from the first deployment, before celery beat has ever started.

The row is the one django-celery-beat's DatabaseScheduler writes from
``CELERY_BEAT_SCHEDULE["experiments-decide"]`` when beat starts (same name and task, and an
identical interval row: beat stores a ``timedelta`` as seconds), which beat then finds and
reuses. It reads the settings entry; if the entry is gone it falls back to what it said when
this was written: every 5 minutes. Idempotent (``ranking.schedules.interval_task_seed``).
"""

from django.db import migrations

from ranking.schedules import interval_task_seed, periodic_task_unseed

NAME = "experiments-decide"
TASK = "ranking.tasks.experiments_decide_task"
FALLBACK_SECONDS = 300


def schedule_create(apps, schema_editor):
    interval_task_seed(
        apps,
        name=NAME,
        task=TASK,
        fallback_seconds=FALLBACK_SECONDS,
        description=(
            "Online experiments: guardrails, decisions, canary stages, the watch after a promotion "
            "and the online gate of candidates (ranking.experiments.decide). Beat re-applies "
            "CELERY_BEAT_SCHEDULE to this row each time it starts; change the interval there "
            "(SEARCHOP_EXPERIMENT_EVALUATE_MINUTES), not here. Disabling it here sticks."
        ),
    )


def schedule_delete(apps, schema_editor):
    periodic_task_unseed(apps, name=NAME, task=TASK)


class Migration(migrations.Migration):
    dependencies = [
        ("ranking", "0005_experiments"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_create, schedule_delete)]
