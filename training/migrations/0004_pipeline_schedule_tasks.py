"""Beat's tasks for the queued pipeline: the weekly schedule sends its trigger task (which
queues the run of its slot once, however many beat processes send it), and a watchdog runs
every minute (it closes lost runs and starts a missed scheduled run).

The rows are the ones django-celery-beat's DatabaseScheduler writes from
``CELERY_BEAT_SCHEDULE`` when beat starts, so that they exist from the first deployment; they
read the settings' entries for that reason, with what those said when this was written as
the fallback. Idempotent: a weekly task that no longer sends the old task (edited in the
admin) is left alone, and an existing watchdog too.
"""

import json

from django.conf import settings
from django.db import migrations
from django.utils import timezone

WEEKLY = "weekly-pipeline"
OLD_TASK = "training.tasks.pipeline_run_task"
SCHEDULE_TASK = "training.tasks.pipeline_schedule_task"
WATCHDOG = "pipeline-watchdog"
WATCHDOG_TASK = "training.tasks.pipeline_watchdog_task"
WATCHDOG_SECONDS = 60


def watchdog_seconds() -> int:
    entry = getattr(settings, "CELERY_BEAT_SCHEDULE", {}).get(WATCHDOG)
    return int(entry["schedule"].total_seconds()) if entry else WATCHDOG_SECONDS


def tasks_update(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    IntervalSchedule = apps.get_model("django_celery_beat", "IntervalSchedule")
    PeriodicTasks = apps.get_model("django_celery_beat", "PeriodicTasks")
    PeriodicTask.objects.filter(name=WEEKLY, task=OLD_TASK).update(task=SCHEDULE_TASK, kwargs=json.dumps({}))
    if not PeriodicTask.objects.filter(name=WATCHDOG).exists():
        seconds = watchdog_seconds()
        interval = IntervalSchedule.objects.filter(every=seconds, period="seconds").first()
        if interval is None:
            interval = IntervalSchedule.objects.create(every=seconds, period="seconds")
        PeriodicTask.objects.create(
            name=WATCHDOG,
            task=WATCHDOG_TASK,
            interval=interval,
            args="[]",
            kwargs="{}",
            headers="{}",
            expire_seconds=seconds,
            enabled=True,
            description=(
                "Closes pipeline runs whose worker died (no heartbeat) or whose message was lost, "
                "rejects the candidates they left, and starts a scheduled run that was missed. "
                "Beat re-applies CELERY_BEAT_SCHEDULE to this row each time it starts."
            ),
        )
    # Historical models skip PeriodicTask.save(), which tells a running beat to reload.
    PeriodicTasks.objects.update_or_create(ident=1, defaults={"last_update": timezone.now()})


def tasks_revert(apps, schema_editor):
    PeriodicTask = apps.get_model("django_celery_beat", "PeriodicTask")
    PeriodicTask.objects.filter(name=WEEKLY, task=SCHEDULE_TASK).update(
        task=OLD_TASK, kwargs=json.dumps({"trigger": "schedule"})
    )
    PeriodicTask.objects.filter(name=WATCHDOG, task=WATCHDOG_TASK).delete()


class Migration(migrations.Migration):
    dependencies = [
        ("training", "0003_pipeline_run_queue"),
        ("django_celery_beat", "0019_alter_periodictasks_options"),
    ]

    operations = [migrations.RunPython(tasks_update, tasks_revert)]
