"""Duplicate triggers train once. Two ``run_pipeline --async`` at the same moment queue one
run (the other is recorded as skipped, with why), where a worker with a concurrency of 1
used to take the second after the first and train again in full; and two beat processes
started by mistake both fire the weekly schedule at the same minute, for one run.

The schedule is set to fire at the next minute boundary at least 15 s away, so that both
beats are up and waiting for it (the test waits for that minute: up to 75 s)."""

from __future__ import annotations

import datetime as dt
import subprocess
import sys
import time

import pytest
from django.utils import timezone

from catalog.services import synthetic_data_generate
from ranking.models import ModelVersion
from tests.faults.conftest import SMALL_SHOP
from tests.faults.support import ROOT, CeleryProcess, until
from tests.faults.test_worker_killed import schedule_env
from training.models import PipelineRun


def trained(run: PipelineRun, worker: CeleryProcess) -> None:
    until(
        lambda: PipelineRun.objects.filter(pk=run.pk, status="succeeded").exists(),
        what=f"the run succeeds; worker said:\n{worker.tail()}",
        timeout=180,
    )


@pytest.mark.django_db(transaction=True)
def test_two_triggers_at_once_queue_one_run_and_it_trains_once(
    test_db_env, broker, celery_processes, tmp_path
):
    synthetic_data_generate(config=SMALL_SHOP)
    env = test_db_env(broker)
    command = [sys.executable, "manage.py", "run_pipeline", "--async"]

    triggers = [
        subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
        )
        for _ in range(2)
    ]
    outputs = [process.communicate(timeout=120) for process in triggers]

    assert sorted(process.returncode for process in triggers) == [0, 1]
    run = PipelineRun.objects.get(status="queued")
    skipped = PipelineRun.objects.get(status="skipped")
    assert skipped.reason.startswith(f"run {run.pk} is queued")
    assert any(f"Not queued: run {run.pk} is queued" in err for _, err in outputs)

    worker = CeleryProcess.worker(env, tmp_path / "worker.log")
    celery_processes.append(worker)
    trained(run, worker)
    time.sleep(2)
    assert ModelVersion.objects.count() == 1
    assert PipelineRun.objects.count() == 2


def next_minute(after: dt.datetime) -> dt.datetime:
    return (after + dt.timedelta(minutes=1)).replace(second=0, microsecond=0)


@pytest.mark.django_db(transaction=True)
def test_two_beats_firing_the_same_minute_train_one_run(test_db_env, broker, celery_processes, tmp_path):
    synthetic_data_generate(config=SMALL_SHOP)
    due = next_minute(timezone.now() + dt.timedelta(seconds=15))
    env = test_db_env(broker, **schedule_env(due))
    worker = CeleryProcess.worker(env, tmp_path / "worker.log")
    celery_processes.append(worker)
    beats = [CeleryProcess.beat(env, tmp_path / f"beat-{n}.log") for n in (1, 2)]
    celery_processes.extend(beats)

    until(
        lambda: PipelineRun.objects.filter(actor="beat").count() == 2,
        what=f"both beats' triggers are recorded; worker said:\n{worker.tail()}",
        timeout=(due - timezone.now()).total_seconds() + 30,
    )
    run = PipelineRun.objects.exclude(status="skipped").get(actor="beat")
    assert run.schedule_slot == f"weekly-pipeline@{due:%Y-%m-%dT%H:%M}+0000"
    trained(run, worker)
    for beat in beats:
        beat.stop()
    time.sleep(2)

    assert list(PipelineRun.objects.exclude(status="skipped").values_list("pk", flat=True)) == [run.pk]
    skipped = PipelineRun.objects.get(status="skipped")
    assert skipped.reason.startswith((f"run {run.pk} is", "the schedule's run due"))
    assert ModelVersion.objects.count() == 1
