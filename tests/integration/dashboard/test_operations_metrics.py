"""/metrics carries the operations gauges read from the database (training.dashboard.metrics):
beat's last tick and when it counts as silent, the pipeline's outcome, and the traffic
roll-up's last run and when it counts as stale."""

from __future__ import annotations

import datetime as dt

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask
from prometheus_client.parser import text_string_to_metric_families

from training.dashboard.beat import WATCHDOG_NAME
from training.dashboard.rollup import traffic_hours_roll_up
from training.models import PipelineRun

pytestmark = pytest.mark.django_db


def gauges(client) -> dict[str, float]:
    response = client.get("/metrics", REMOTE_ADDR="127.0.0.1")
    assert response.status_code == 200
    return {
        sample.name + "".join(f"{{{k}={v}}}" for k, v in sorted(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.content.decode())
        for sample in family.samples
    }


def run(status: str, finished: dt.datetime) -> PipelineRun:
    return PipelineRun.objects.create(status=status, finished_at=finished, created_at=finished)


def test_beats_last_tick_and_its_silence_threshold_are_exported(client, settings, watchdog):
    ticked = timezone.now() - dt.timedelta(seconds=30)
    PeriodicTask.objects.filter(name=WATCHDOG_NAME).update(last_run_at=ticked)
    values = gauges(client)
    assert values["searchop_beat_last_tick_timestamp_seconds"] == pytest.approx(ticked.timestamp())
    assert values["searchop_beat_silent_after_seconds"] == 2 * settings.SEARCHOP_PIPELINE_WATCHDOG_SECONDS


def test_a_beat_that_never_ticked_reads_as_time_zero(client, watchdog):
    assert gauges(client)["searchop_beat_last_tick_timestamp_seconds"] == 0.0


def test_the_latest_finished_run_failing_is_flagged_until_a_run_succeeds(client):
    now = timezone.now()
    run("succeeded", now - dt.timedelta(days=8))
    run("failed", now - dt.timedelta(days=1))
    run("skipped", now)  # a skipped trigger is no outcome
    values = gauges(client)
    assert values["searchop_pipeline_last_run_failed"] == 1.0
    assert values["searchop_pipeline_runs{status=failed}"] == 1.0
    assert values["searchop_pipeline_runs{status=succeeded}"] == 1.0
    assert values["searchop_pipeline_last_success_timestamp_seconds"] == pytest.approx(
        (now - dt.timedelta(days=8)).timestamp()
    )
    run("succeeded", now)
    assert gauges(client)["searchop_pipeline_last_run_failed"] == 0.0


def test_the_roll_ups_last_run_and_its_staleness_threshold_are_exported(client, settings):
    assert gauges(client)["searchop_traffic_rollup_last_run_timestamp_seconds"] == 0.0
    ran = timezone.now() - dt.timedelta(minutes=2)
    traffic_hours_roll_up(now=ran)
    values = gauges(client)
    assert values["searchop_traffic_rollup_last_run_timestamp_seconds"] == pytest.approx(ran.timestamp())
    assert (
        values["searchop_traffic_rollup_stale_after_seconds"]
        == 3 * 60 * settings.SEARCHOP_TRAFFIC_ROLLUP["every_minutes"]
    )
