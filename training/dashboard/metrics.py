"""Prometheus gauges read from the database at scrape time: beat's heartbeat, the pipeline's
outcome and the traffic roll-up's last run. Beat and the worker serve no ``/metrics`` of their
own, so their state is read where they leave it (django-celery-beat's rows, the pipeline runs,
the roll-up's rows), by the web pods' ``/metrics`` (``searchop_site.metrics``). Four small
indexed queries per scrape; every pod reports the same values, so alert on ``max()``. A database that cannot answer leaves these gauges out:
``/metrics`` keeps answering with the rest.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from datetime import datetime

from django.db import DatabaseError
from django.db.models import Count
from django.utils import timezone
from prometheus_client import CollectorRegistry, generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from training.dashboard.beat import beat_status_get
from training.dashboard.selectors import traffic_rollup_status_get
from training.models import PipelineRun

logger = logging.getLogger(__name__)

# The names the alert rules and the Grafana dashboard (k8s/monitoring/) use.
BEAT_LAST_TICK = "searchop_beat_last_tick_timestamp_seconds"
BEAT_SILENT_AFTER = "searchop_beat_silent_after_seconds"
PIPELINE_RUNS = "searchop_pipeline_runs"
PIPELINE_LAST_FAILED = "searchop_pipeline_last_run_failed"
PIPELINE_LAST_SUCCESS = "searchop_pipeline_last_success_timestamp_seconds"
ROLLUP_LAST_RUN = "searchop_traffic_rollup_last_run_timestamp_seconds"
ROLLUP_STALE_AFTER = "searchop_traffic_rollup_stale_after_seconds"
GAUGE_NAMES = (
    BEAT_LAST_TICK,
    BEAT_SILENT_AFTER,
    PIPELINE_RUNS,
    PIPELINE_LAST_FAILED,
    PIPELINE_LAST_SUCCESS,
    ROLLUP_LAST_RUN,
    ROLLUP_STALE_AFTER,
)


def _unix_time(moment: datetime | None) -> float:
    """A moment as the gauges give it: Unix time, 0 for one that never came."""
    return moment.timestamp() if moment else 0.0


class OperationsCollector(Collector):
    def collect(self) -> Iterator[Metric]:
        try:
            yield from self._beat()
            yield from self._pipeline()
            yield from self._rollup()
        except DatabaseError as error:
            logger.warning("operations metrics left out: the database did not answer (%s)", error)

    def _beat(self) -> Iterator[Metric]:
        status = beat_status_get(now=timezone.now())
        yield GaugeMetricFamily(
            BEAT_LAST_TICK,
            "When beat last sent a periodic task (Unix time; 0 when it never did).",
            value=_unix_time(status.last_tick),
        )
        yield GaugeMetricFamily(
            BEAT_SILENT_AFTER,
            "Seconds without a beat tick after which beat is taken for silent (twice the watchdog's interval).",
            value=status.silent_after.total_seconds(),
        )

    def _pipeline(self) -> Iterator[Metric]:
        runs = GaugeMetricFamily(PIPELINE_RUNS, "Pipeline runs recorded, by status.", labels=["status"])
        counted = dict(PipelineRun.objects.values_list("status").annotate(n=Count("id")).order_by())
        for status in PipelineRun.Status:
            runs.add_metric([status.value], counted.get(status.value, 0))
        yield runs
        finished = PipelineRun.objects.filter(
            status__in=[PipelineRun.Status.SUCCEEDED, PipelineRun.Status.FAILED], finished_at__isnull=False
        )
        last = finished.order_by("-finished_at").values_list("status", flat=True).first()
        yield GaugeMetricFamily(
            PIPELINE_LAST_FAILED,
            "1 when the latest finished pipeline run failed, else 0.",
            value=1.0 if last == PipelineRun.Status.FAILED else 0.0,
        )
        success = (
            finished.filter(status=PipelineRun.Status.SUCCEEDED)
            .order_by("-finished_at")
            .values_list("finished_at", flat=True)
            .first()
        )
        yield GaugeMetricFamily(
            PIPELINE_LAST_SUCCESS,
            "When the latest successful pipeline run finished (Unix time; 0 when none did).",
            value=_unix_time(success),
        )

    def _rollup(self) -> Iterator[Metric]:
        status = traffic_rollup_status_get(now=timezone.now())
        yield GaugeMetricFamily(
            ROLLUP_LAST_RUN,
            "When the dashboard's traffic roll-up last ran (Unix time; 0 when it never did).",
            value=_unix_time(status.last_run),
        )
        yield GaugeMetricFamily(
            ROLLUP_STALE_AFTER,
            "Seconds without a roll-up after which the dashboard calls it stale (three intervals).",
            value=status.stale_after.total_seconds(),
        )


def operations_metrics_text() -> bytes:
    """The gauges in Prometheus' text format, to append to ``/metrics``."""
    registry = CollectorRegistry(auto_describe=False)
    registry.register(OperationsCollector())
    return generate_latest(registry)
