"""Seed the drift check's schedule (every hour), so it is in the admin's "Periodic tasks" from
the first deployment, as 0006 does for the experiments' evaluation and in the same way
(``ranking.schedules.interval_task_seed``): the row beat's DatabaseScheduler writes from
``CELERY_BEAT_SCHEDULE["drift-check"]``; if the entry is gone, what it said when this was
written (every 60 minutes). Idempotent.
"""

from django.db import migrations

from ranking.schedules import interval_task_seed, periodic_task_unseed

NAME = "drift-check"
TASK = "ranking.tasks.drift_check_task"
FALLBACK_SECONDS = 3600


def schedule_create(apps, schema_editor):
    interval_task_seed(
        apps,
        name=NAME,
        task=TASK,
        fallback_seconds=FALLBACK_SECONDS,
        description=(
            "Drift monitoring: the served features of the last day against the production model's "
            "training profile, stored as the latest report and exported as Prometheus gauges "
            "(ranking.drift). Beat re-applies CELERY_BEAT_SCHEDULE to this row each time it starts; "
            "change the interval there (SEARCHOP_DRIFT_CHECK_MINUTES). Disabling it here sticks."
        ),
    )


def schedule_delete(apps, schema_editor):
    periodic_task_unseed(apps, name=NAME, task=TASK)


class Migration(migrations.Migration):
    dependencies = [
        ("ranking", "0007_drift_monitoring"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_create, schedule_delete)]
