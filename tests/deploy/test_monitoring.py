"""The operations kit (k8s/monitoring/): the alert rules pass ``promtool check rules`` and
their unit tests (each alert fires on series that break it and stays quiet on healthy ones);
the Grafana dashboard is valid JSON whose every query is valid PromQL; every alert and panel
reads only metrics the app exports; the signals the operators asked for each have an alert."""

from __future__ import annotations

import json
import re
import shutil
from pathlib import Path

import pytest
import yaml
from django_prometheus.middleware import Metrics
from prometheus_client import REGISTRY

import ranking.serving.observability  # noqa: F401 - declares SearchOp's serving metrics
from tests.deploy.support import K8S, run
from training.dashboard.metrics import GAUGE_NAMES

MONITORING = K8S / "monitoring"
RULES = MONITORING / "searchop-alerts.rules.yaml"
RULE_TESTS = MONITORING / "searchop-alerts.test.yaml"
DASHBOARD = MONITORING / "grafana-dashboard.json"
# Exported by the drift monitor (issue 12, item 7), built beside this kit under these names.
DRIFT_METRICS = {"searchop_feature_psi", "searchop_drift_flagged"}
# What the rules must watch: rank p99, fallback share, 5xx, drift, failed runs, a silent beat.
WATCHED = (
    "searchop_rank_latency_seconds_bucket",
    "searchop_rank_fallbacks_total",
    "django_http_responses_total_by_status_total",
    "searchop_drift_flagged",
    "searchop_pipeline_last_run_failed",
    "searchop_beat_last_tick_timestamp_seconds",
)
METRIC_NAME = re.compile(r"\b((?:searchop|django)_[a-z0-9_]+)\b")
SUFFIXES = {"counter": ("_total",), "histogram": ("_bucket", "_count", "_sum"), "summary": ("_count", "_sum")}


def promtool() -> str:
    path = shutil.which("promtool")
    if path is None:
        pytest.fail("promtool is missing: `python3.11 run.py test` installs it (Debian's prometheus package)")
    return path


def exported_sample_names() -> set[str]:
    """Every sample name the web pods' /metrics can carry."""
    Metrics.get_instance()  # django-prometheus declares its metrics with its first middleware
    names = set(GAUGE_NAMES) | DRIFT_METRICS
    for family in REGISTRY.collect():
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ("",)))
    return names


def alert_rules() -> list[dict]:
    return [rule for group in yaml.safe_load(RULES.read_text())["groups"] for rule in group["rules"]]


def panel_queries() -> list[tuple[str, str]]:
    """(panel title, PromQL) of every query of every panel."""
    dashboard = json.loads(DASHBOARD.read_text())
    return [(panel["title"], target["expr"]) for panel in dashboard["panels"] for target in panel["targets"]]


def test_the_alert_rules_pass_promtool_check_rules():
    result = run([promtool(), "check", "rules", str(RULES)])
    assert result.returncode == 0, result.stdout + result.stderr


def test_each_alert_fires_on_series_that_break_it_and_not_on_healthy_ones():
    result = run([promtool(), "test", "rules", str(RULE_TESTS)])  # its rule_files: beside it
    assert result.returncode == 0, result.stdout + result.stderr


def test_the_grafana_dashboard_is_json_whose_every_query_is_valid_promql(tmp_path: Path):
    queries = panel_queries()
    assert len(queries) >= 11
    # promtool checks PromQL inside rule files: each query becomes a recording rule, with
    # Grafana's $__rate_interval as a plain range.
    rules = {
        "groups": [
            {
                "name": "grafana-panels",
                "rules": [
                    {"record": f"panel:query_{i}", "expr": expr.replace("$__rate_interval", "5m")}
                    for i, (_title, expr) in enumerate(queries)
                ],
            }
        ]
    }
    checked = tmp_path / "panels.rules.yaml"
    checked.write_text(yaml.safe_dump(rules))
    result = run([promtool(), "check", "rules", str(checked)])
    assert result.returncode == 0, result.stdout + result.stderr


@pytest.mark.parametrize("source", ["alert rules", "grafana panels"])
def test_alerts_and_panels_read_only_metrics_the_app_exports(source):
    exprs = (
        [rule["expr"] for rule in alert_rules()]
        if source == "alert rules"
        else [e for _t, e in panel_queries()]
    )
    used = {name for expr in exprs for name in METRIC_NAME.findall(expr)}
    assert used
    assert used - exported_sample_names() == set()


def test_every_signal_the_operators_watch_has_an_alert():
    exprs = " ".join(rule["expr"] for rule in alert_rules())
    assert [name for name in WATCHED if name not in exprs] == []
    assert all(rule["annotations"].get("runbook") for rule in alert_rules())
