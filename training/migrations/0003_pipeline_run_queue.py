"""Pipeline runs are queued by their trigger and claimed by a worker: the statuses queued and
skipped, the trigger time apart from the start, a heartbeat, the schedule's slot, and one
queued-or-running run at most (replacing one running run at most).

Existing rows: triggered when they started; a run still running gets its start as its last
heartbeat, so that it is closed as lost soon after this deploys unless a worker of this
version beats for it (roll the worker out between runs).
"""

import django.utils.timezone
from django.db import migrations, models


def runs_backfill(apps, schema_editor):
    PipelineRun = apps.get_model("training", "PipelineRun")
    PipelineRun.objects.update(created_at=models.F("started_at"))
    PipelineRun.objects.filter(status="running").update(heartbeat_at=models.F("started_at"))


class Migration(migrations.Migration):

    dependencies = [
        ('ranking', '0004_feature_set_columns_lean'),
        ('training', '0002_weekly_pipeline_schedule'),
    ]

    operations = [
        migrations.AlterModelOptions(
            name='pipelinerun',
            options={'ordering': ['-created_at', '-id']},
        ),
        migrations.RemoveConstraint(
            model_name='pipelinerun',
            name='pipelinerun_one_running',
        ),
        migrations.RemoveConstraint(
            model_name='pipelinerun',
            name='pipelinerun_status_known',
        ),
        migrations.AddField(
            model_name='pipelinerun',
            name='created_at',
            field=models.DateTimeField(default=django.utils.timezone.now, help_text='When it was triggered.'),
        ),
        migrations.AddField(
            model_name='pipelinerun',
            name='heartbeat_at',
            field=models.DateTimeField(blank=True, help_text="The running worker's last sign of life; a stale one means it died.", null=True),
        ),

        migrations.AddField(
            model_name='pipelinerun',
            name='reason',
            field=models.TextField(blank=True, default='', help_text='Why a trigger was skipped.'),
        ),
        migrations.AddField(
            model_name='pipelinerun',
            name='schedule_slot',
            field=models.CharField(blank=True, help_text='For a scheduled run: the schedule and the time it was due (a retry adds #2, #3).', max_length=80, null=True, unique=True),
        ),
        migrations.AlterField(
            model_name='pipelinerun',
            name='started_at',
            field=models.DateTimeField(blank=True, help_text='When a worker claimed it.', null=True),
        ),
        migrations.AlterField(
            model_name='pipelinerun',
            name='status',
            field=models.CharField(choices=[('queued', 'queued'), ('running', 'running'), ('succeeded', 'succeeded'), ('failed', 'failed'), ('skipped', 'skipped')], default='queued', max_length=16),
        ),
        migrations.AddConstraint(
            model_name='pipelinerun',
            constraint=models.UniqueConstraint(models.Value(True), condition=models.Q(('status__in', ['queued', 'running'])), name='pipelinerun_one_active', violation_error_message='A pipeline run is already queued or running.'),
        ),
        migrations.AddConstraint(
            model_name='pipelinerun',
            constraint=models.CheckConstraint(condition=models.Q(('status__in', ['queued', 'running', 'succeeded', 'failed', 'skipped'])), name='pipelinerun_status_known'),
        ),
        # Last: data changes before ALTER TABLE in one transaction meet pending FK triggers.
        migrations.RunPython(runs_backfill, migrations.RunPython.noop),
    ]
