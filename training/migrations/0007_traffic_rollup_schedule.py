"""Seed the dashboard's traffic roll-up schedule (every 5 minutes), so it is in the admin's
"Periodic tasks" from the first deployment, as ranking's 0006 and 0008 do for their interval
tasks and in the same way (``ranking.schedules.interval_task_seed``): the row beat's
DatabaseScheduler writes from ``CELERY_BEAT_SCHEDULE["traffic-rollup"]``; if the entry is
gone, what it said when this was written (every 300 seconds). Idempotent.
"""

from django.db import migrations

from ranking.schedules import interval_task_seed, periodic_task_unseed

NAME = "traffic-rollup"
TASK = "training.tasks.traffic_hours_roll_up_task"
FALLBACK_SECONDS = 300


def schedule_create(apps, schema_editor):
    interval_task_seed(
        apps,
        name=NAME,
        task=TASK,
        fallback_seconds=FALLBACK_SECONDS,
        description=(
            "The dashboard's hourly traffic roll-up: the complete hours of the last week counted into "
            "TrafficHour (the last 3 again each time, rows older than a day again for late events), so the "
            "day and week views read about 170 rows (training.dashboard.rollup). Beat re-applies "
            "CELERY_BEAT_SCHEDULE to this row each time it starts; change the interval there "
            "(SEARCHOP_TRAFFIC_ROLLUP_MINUTES). Disabling it here sticks: the views then count every hour live."
        ),
    )


def schedule_delete(apps, schema_editor):
    periodic_task_unseed(apps, name=NAME, task=TASK)


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0006_traffic_hour"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(schedule_create, schedule_delete)]
